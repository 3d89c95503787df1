#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

/// The interning tables of an index: image ids (ids are positions in `images`), reader ids and
/// label spellings seen so far.
struct Interning {
    var images = ByteTable()
    var readers = ByteTable()
    var readerNames: [String] = []
    var labels = ByteTable()
    var labelIndices: [Int] = []
    /// The Kaggle class id of each interned label spelling (-1: none).
    var labelKaggleIDs: [Int] = []
}

/// The columns a data row is read from, copied out of `ColumnMap` (plain integers; -1 = absent).
struct RowColumns {
    var fieldCount = 0
    var imageID = -1
    var readerID = -1
    var className = -1
    var classID = -1
    var box = (-1, -1, -1, -1)
    var score = -1
    var hasLabelColumns = false

    init() {}

    init(_ m: ColumnMap) {
        fieldCount = m.names.count
        imageID = m.imageID
        readerID = m.readerID ?? -1
        className = m.className ?? -1
        classID = m.classID ?? -1
        box = m.boxColumns
        score = m.score ?? -1
        hasLabelColumns = !m.labelColumns.isEmpty
    }
}

/// One parsed data row, held flat until `AnnotationIndex.apply` files it.
struct PendingRow {
    enum Kind: UInt8 { case box, labelOnly, imageLabels }
    var image: Int32 = 0
    var reader: Int32 = -1
    var line: Int32
    var kind = Kind.labelOnly
    var label: UInt8 = 0
    var reversed = false
    var ignoredBox = false
    var missingBox = false
    var labels = LabelSet()
    var box = Box(x1: 0, y1: 0, x2: 0, y2: 0)
    var score = 1.0

    init(line: Int32) { self.line = line }
}

/// Row buffers kept between parses of large files, so that each parse does not fault in fresh
/// pages for its transient rows (the allocator tends to hand large freed blocks back to the
/// system). At most two buffers (one per half) of at most 64 MiB each are kept.
enum PendingPool {
    /// Serialises every use of `buffers`.
    private static let queue = DispatchQueue(label: "VinDrAnnotations.PendingPool")
    nonisolated(unsafe) private static var buffers: [[PendingRow]] = []

    static func take(capacity: Int) -> [PendingRow] {
        var b = queue.sync { buffers.popLast() } ?? []
        b.reserveCapacity(capacity)
        return b
    }

    static func give(_ b: inout [PendingRow]) {
        b.removeAll(keepingCapacity: true)
        guard b.capacity * MemoryLayout<PendingRow>.stride <= 64 << 20 else { return }
        let kept = b
        b = []
        queue.sync { if buffers.count < 2 { buffers.append(kept) } }
    }
}

extension AnnotationIndex {
    /// Parses one data row into a flat record (no per-row allocation); `apply` files it.
    static func parseRow(_ row: RowView, _ c: RowColumns, _ m: ColumnMap, _ t: inout Interning,
                                 _ newImages: inout [String], path: String, localLabels: Int) throws -> PendingRow {
        func fail(_ column: Int?, _ reason: String) -> VinDrError {
            VinDrError(file: path, line: row.line, column: column.map { m.names[$0] }, reason: reason)
        }
        guard row.count == c.fieldCount else {
            throw fail(nil, "\(row.count) fields, the header has \(c.fieldCount)")
        }
        var out = PendingRow(line: Int32(clamping: row.line))
        let imageBytes = row.field(c.imageID)
        guard !imageBytes.isEmpty else { throw fail(c.imageID, "empty image_id") }
        // A new id must be valid UTF-8 before it is interned: its name is the key a second half's
        // ids are renumbered by (ParallelAdd), so a lossy decoding would split one id in two.
        if let id = t.images.find(imageBytes) {
            out.image = Int32(id)
        } else {
            guard let name = String(validating: imageBytes, as: UTF8.self) else { throw fail(c.imageID, "image_id is not valid UTF-8") }
            out.image = Int32(t.images.intern(imageBytes).id)
            newImages.append(name)
        }
        if c.readerID >= 0 {
            let readerBytes = row.field(c.readerID)
            guard !readerBytes.isEmpty else { throw fail(c.readerID, "empty rad_id") }
            if let id = t.readers.find(readerBytes) {
                out.reader = Int32(id)
            } else {
                guard let name = String(validating: readerBytes, as: UTF8.self) else { throw fail(c.readerID, "rad_id is not valid UTF-8") }
                out.reader = Int32(t.readers.intern(readerBytes).id)
                t.readerNames.append(name)
            }
        }

        if c.hasLabelColumns {
            out.kind = .imageLabels
            for (column, label) in m.labelColumns {
                guard let v = row.double(column), v == 0 || v == 1 else {
                    throw fail(column, "expected 0 or 1, got \"\(row.string(column))\"")
                }
                if v == 1 { out.labels.insert(label) }
            }
            return out
        }

        let nameColumn = c.className
        guard nameColumn >= 0 else { throw fail(nil, "no class_name column") }
        let nameBytes = row.field(nameColumn)
        let labelIndex: Int, kaggleID: Int
        if let k = t.labels.find(nameBytes) {
            labelIndex = t.labelIndices[k]
            kaggleID = t.labelKaggleIDs[k]
        } else {
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard let label = Taxonomy.label(named: name) else { throw fail(nameColumn, "unknown label \"\(name)\"") }
            _ = t.labels.intern(nameBytes)
            t.labelIndices.append(label.index)
            t.labelKaggleIDs.append(label.kaggleClassID ?? -1)
            (labelIndex, kaggleID) = (label.index, label.kaggleClassID ?? -1)
        }
        let isLocal = labelIndex < localLabels
        if c.classID >= 0 {
            let idColumn = c.classID
            let id = row.double(idColumn).flatMap { Int(exactly: $0) }
            if id != kaggleID || kaggleID < 0 {
                guard let id, let kaggle = Taxonomy.label(kaggleClassID: id) else {
                    throw fail(idColumn, "not a Kaggle class id (0...14): \"\(row.string(idColumn))\"")
                }
                throw fail(idColumn, "class_id \(row.string(idColumn)) is \(kaggle.name), but class_name says \(row.string(nameColumn))")
            }
        }
        var blanks = 0
        func read(_ c: Int) throws -> Double {
            let f = row.field(c)
            if f.isEmpty { blanks += 1; return 0 }
            guard let v = parseDouble(f) else { throw fail(c, "not a finite number: \"\(row.string(c))\"") }
            return v
        }
        let values = (try read(c.box.0), try read(c.box.1), try read(c.box.2), try read(c.box.3))
        guard blanks == 0 || blanks == 4 else {
            let c = m.box.first(where: { row.isBlank($0) }) ?? m.box[0]
            throw fail(c, "box fields must be all empty or all present")
        }
        out.label = UInt8(labelIndex)
        if blanks == 0, isLocal {
            var b = Box(x1: values.0, y1: values.1, x2: values.2, y2: values.3)
            out.reversed = b.x2 < b.x1 || b.y2 < b.y1
            if b.x2 < b.x1 { swap(&b.x1, &b.x2) }
            if b.y2 < b.y1 { swap(&b.y1, &b.y2) }
            out.kind = .box
            out.box = b
            if c.score >= 0, !row.field(c.score).isEmpty { out.score = try read(c.score) }
        } else {
            out.kind = .labelOnly
            out.ignoredBox = blanks == 0
            out.missingBox = isLocal
        }
        return out
    }
}
