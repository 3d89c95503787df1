#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

/// Where a row came from: the index of its file in `AnnotationIndex.sources` and its line.
public struct RowLocation: Hashable, Sendable {
    public var source: Int
    public var line: Int
}

/// A box drawn by one radiologist (or by the consensus), in pixels.
public struct BoxAnnotation: Sendable {
    /// Index in `Taxonomy.labels`.
    public var label: Int
    /// The box with ordered corners (reversed corners in the file are swapped and reported by QC).
    public var box: Box
    /// True when the file gave x_max < x_min or y_max < y_min.
    public var hadReversedCorners: Bool
    public var location: RowLocation
}

/// An image-level label given without a box: a global label, or "No finding".
public struct LabelRow: Sendable {
    public var label: Int
    public var location: RowLocation
    /// The row carried box coordinates although its label takes none (they are ignored).
    public var ignoredBox: Bool
    /// A local finding given without a box.
    public var missingBox: Bool
}

/// Everything one radiologist (or the consensus, `reader == nil`) said about one image.
public struct Reading: Sendable {
    public var reader: String?
    public var boxes: [BoxAnnotation] = []
    public var labelRows: [LabelRow] = []
    /// Image-level labels: ticked in an image_labels file or implied by annotation rows.
    public var labels = LabelSet()
    /// Rows of image_labels files for this reader and image (for QC).
    public var imageLabelRows: [RowLocation] = []

    public init(reader: String?) { self.reader = reader }
}

/// The interning tables of an index: image ids (ids are positions in `images`), reader ids and
/// label spellings seen so far.
private struct Interning {
    var images = ByteTable()
    var readers = ByteTable()
    var readerNames: [String] = []
    var labels = ByteTable()
    var labelIndices: [Int] = []
    /// The Kaggle class id of each interned label spelling (-1: none).
    var labelKaggleIDs: [Int] = []
}

/// The columns a data row is read from, copied out of `ColumnMap` (plain integers; -1 = absent).
private struct RowColumns {
    var fieldCount = 0
    var imageID = -1
    var readerID = -1
    var className = -1
    var classID = -1
    var box = (-1, -1, -1, -1)
    var hasLabelColumns = false

    init() {}

    init(_ m: ColumnMap) {
        fieldCount = m.names.count
        imageID = m.imageID
        readerID = m.readerID ?? -1
        className = m.className ?? -1
        classID = m.classID ?? -1
        box = m.boxColumns
        hasLabelColumns = !m.labelColumns.isEmpty
    }
}

/// One parsed data row, held flat until `AnnotationIndex.apply` files it.
private struct PendingRow {
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

    init(line: Int32) { self.line = line }
}

/// One image and all readings of it.
public struct ImageRecord: Sendable {
    public let id: String
    public var readings: [Reading] = []
    /// Pixel size when known (`AnnotationIndex.setImageSize`): enables out-of-image checks and
    /// normalised exports.
    public var width: Int?
    public var height: Int?
    /// The index's interned number of each reading's reader (-1 for consensus), parallel to
    /// `readings`.
    var readerKeys: [Int] = []

    public init(id: String) { self.id = id }

    /// Appends an empty reading for interned reader `key` (-1: consensus) and returns its position.
    mutating func addReading(key: Int, reader: String?) -> Int {
        readings.append(Reading(reader: reader))
        readerKeys.append(key)
        return readings.count - 1
    }
}

/// The dataset index: image -> radiologist -> boxes and image-level labels, built from any mix of
/// the PhysioNet and Kaggle CSV layouts (`add(path:)` detects each file's layout from its header).
/// Test-split files without rad_id become one consensus reading (`reader == nil`) per image.
/// Not thread-safe while adding files; read-only use from several threads is safe.
public final class AnnotationIndex: @unchecked Sendable {
    public private(set) var images: [ImageRecord] = []
    /// Files added, in order; `RowLocation.source` indexes this.
    public private(set) var sources: [String] = []
    public private(set) var layouts: [CSVLayout] = []
    /// Data rows read per source.
    public private(set) var rowCounts: [Int] = []
    /// Byte-level interning of the values repeated across rows, so a row allocates no strings.
    private var interning = Interning()
    /// Local labels come first in the taxonomy: index < this means local.
    private static let localLabelCount = Taxonomy.labels.filter { $0.kind == .local }.count

    public init() {}

    /// A large index frees its image records on two threads: the tens of thousands of small
    /// arrays behind them cost about a fifth of the parse to free.
    deinit {
        guard images.count >= 4096, sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 else { return }
        let half = images.count / 2
        images.withUnsafeMutableBufferPointer { records in
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                for i in (part == 0 ? 0..<half : half..<records.count) { records[i] = ImageRecord(id: "") }
            }
        }
    }

    /// Reads every file into a new index.
    public convenience init(paths: [String]) throws {
        self.init()
        for p in paths { try add(path: p) }
    }

    public func position(of imageID: String) -> Int? {
        var id = imageID
        return id.withUTF8 { interning.images.find($0) }
    }

    public func image(_ imageID: String) -> ImageRecord? { position(of: imageID).map { images[$0] } }

    /// Reader ids in order of first appearance.
    public var readerIDs: [String] { interning.readerNames }

    /// Records an image's size in pixels (from its DICOM header).
    public func setImageSize(_ imageID: String, width: Int, height: Int) throws {
        guard width > 0, height > 0 else { throw BoxError("image size \(width) x \(height) must be positive") }
        guard let p = position(of: imageID) else { throw BoxError("unknown image_id \(imageID)") }
        images[p].width = width
        images[p].height = height
    }

    /// Adds one annotation or image-label file (any layout but a submission) and returns its
    /// layout. On error the index keeps the rows read before the failing line.
    /// Files of `parallelThreshold` bytes or more are split in two halves, each read and parsed
    /// on its own thread (the result, errors included, is the same as reading them row by row).
    @discardableResult
    public func add(path: String) throws -> CSVLayout {
        try add(path: path, parallelThreshold: Self.parallelThreshold)
    }

    /// `add(path:)` with the file size from which files are parsed in halves (tests compare both paths).
    @discardableResult
    func add(path: String, parallelThreshold: Int) throws -> CSVLayout {
        if let layout = try addInHalves(path: path, threshold: parallelThreshold) { return layout }
        let source = sources.count
        var map: ColumnMap?
        var columns = RowColumns()
        var pending = [PendingRow]()
        var info = stat()
        if stat(path, &info) == 0 { pending.reserveCapacity(Int(info.st_size) / 48) }  // rows are >= ~48 bytes
        // Parsing state lives in locals while the file is read: no class-property access per row.
        var tables = Interning()
        swap(&tables, &interning)
        var newImages = [String]()
        let localLabels = Self.localLabelCount
        defer { swap(&tables, &interning) }
        do {
            try CSVReader.forEachRow(path: path) { row in
                guard let m = map else {
                    let detected = try Self.columns(path: path, header: row)
                    register(path: path, layout: detected.layout)
                    map = detected
                    columns = RowColumns(detected)
                    return
                }
                pending.append(try row.withView {
                    try Self.parseRow($0, columns, m, &tables, &newImages, path: path, localLabels: localLabels)
                })
            }
        } catch {
            if map != nil { finishAdd(pending, source: source, newImages: newImages, readerNames: tables.readerNames) }
            throw error
        }
        guard let m = map else { throw CSVError(file: path, line: 1, reason: "empty file (no header)") }
        finishAdd(pending, source: source, newImages: newImages, readerNames: tables.readerNames)
        return m.layout
    }

    /// Files at least this large are parsed in two halves on two threads.
    static let parallelThreshold = 1 << 20

    /// `count` bytes of an open file from `offset`, or nil when they cannot all be read.
    private static func read(_ fd: Int32, _ offset: Int, _ count: Int) -> [UInt8]? {
        let data = [UInt8](unsafeUninitializedCapacity: count) { buf, filled in
            while filled < count {
                let n = pread(fd, buf.baseAddress! + filled, count - filled, off_t(offset + filled))
                if n > 0 { filled += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        return data.count == count ? data : nil
    }

    /// True when the bytes hold a double quote.
    private static func holdsQuote(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBufferPointer { b in b.baseAddress.map { memchr($0, 0x22, b.count) != nil } ?? false }
    }

    /// Detects a file's layout from its header row (not for submissions).
    private static func columns(path: String, header row: CSVRow) throws -> ColumnMap {
        let header = (0..<row.count).map { row.string($0) }
        let detected = try ColumnMap.detect(header: header, file: path)
        if detected.layout == .kaggleSubmission {
            throw CSVError(file: path, line: row.line, reason: "a submission file holds predictions, not annotations")
        }
        return detected
    }

    /// Registers a file as a source.
    private func register(path: String, layout: CSVLayout) {
        sources.append(path)
        layouts.append(layout)
        rowCounts.append(0)
    }

    /// The rows of one half of a file, interned in tables of their own.
    private struct Half {
        var tables = Interning()
        var newImages: [String] = []
        var pending: [PendingRow] = []
        var error: Error?
        /// The half could not be read whole, or holds a double quote.
        var unusable = false
        /// The line after the half's last record.
        var endLine = 0
    }

    /// `add(path:)` for large files: the header is read first, the data rows are split at the
    /// first line end past the middle, each half is read and parsed on its own thread, and the
    /// second half's line numbers are then shifted and its images and readers renumbered into
    /// the first half's tables in order, so ids, order and errors come out as a sequential read
    /// gives them. Returns nil (nothing done) for small, unreadable or changing files, files with
    /// quotes (a line end may sit inside a quoted field) and files that do not start with a
    /// header line; `add` then reads them row by row.
    private func addInHalves(path: String, threshold: Int) throws -> CSVLayout? {
        var info = stat()
        guard sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              Int(info.st_size) >= threshold else { return nil }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let size = Int(info.st_size)
        let probe = 1 << 16
        // The header record, then the record end nearest past the middle, each within 64 KiB.
        guard let head = Self.read(fd, 0, min(size, probe)),
              let dataStart = head.withUnsafeBufferPointer({ CSVReader.lineEnd(in: $0) }),
              !Self.holdsQuote(head[0..<dataStart]) else { return nil }
        var headerRow: CSVRow?
        try head.withUnsafeBufferPointer {
            try CSVReader.forEachRow(bytes: UnsafeBufferPointer(rebasing: $0[0..<dataStart]), name: path) { headerRow = $0 }
        }
        guard let headerRow, headerRow.line == 1 else { return nil }
        let map = try Self.columns(path: path, header: headerRow)
        let columns = RowColumns(map)
        let middle = dataStart + (size - dataStart) / 2
        guard let around = Self.read(fd, middle, min(size - middle, probe)) else { return nil }
        let end = around.withUnsafeBufferPointer { CSVReader.lineEnd(in: $0) }
        guard end != nil || middle + around.count == size else { return nil }
        let split = end.map { middle + $0 } ?? size
        let ranges = [dataStart..<split, split..<size]

        var halves = [Half(), Half()]
        let saved = interning  // restored when a half turns out unusable
        swap(&halves[0].tables, &interning)
        halves.withUnsafeMutableBufferPointer { h in
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                var half = Half()
                swap(&half.tables, &h[k].tables)
                defer { h[k] = half }
                guard let data = Self.read(fd, ranges[k].lowerBound, ranges[k].count),
                      !Self.holdsQuote(data[...]) else { half.unusable = true; return }
                half.pending.reserveCapacity(ranges[k].count / 48)
                // Thread-private copies: shared objects would bounce their reference counts
                // between the cores on every row.
                let (map, path, localLabels) = (map.unshared, String(decoding: Array(path.utf8), as: UTF8.self),
                                                Self.localLabelCount)
                // The second half counts lines from 0 until the first half's count is known.
                do {
                    half.endLine = try data.withUnsafeBufferPointer { bytes in
                        try CSVReader.forEachUnquotedRow(bytes: bytes, firstLine: k == 0 ? 2 : 0) { row in
                            half.pending.append(try Self.parseRow(row, columns, map, &half.tables, &half.newImages,
                                                                  path: path, localLabels: localLabels))
                        }
                    }
                } catch {
                    half.error = error
                }
            }
        }
        var first = halves[0]
        defer { swap(&first.tables, &interning) }
        if first.unusable || halves[1].unusable {
            first.tables = saved
            return nil
        }
        register(path: path, layout: map.layout)
        var second = halves[1]
        if let e = second.error as? CSVError {
            second.error = CSVError(file: e.file, line: e.line + first.endLine, column: e.column, reason: e.reason)
        }
        if first.error == nil { merge(second, into: &first, lineOffset: first.endLine) }
        finishAdd(first.pending, source: sources.count - 1, newImages: first.newImages, readerNames: first.tables.readerNames)
        if let error = first.error ?? second.error { throw error }
        return map.layout
    }

    /// Appends the second half's rows to the first's, renumbering its images and readers (ids in
    /// its own tables, which started empty) into the first half's tables.
    private func merge(_ second: Half, into first: inout Half, lineOffset: Int) {
        var images = [Int32](repeating: 0, count: second.newImages.count)
        for (k, id) in second.newImages.enumerated() {
            var s = id
            images[k] = Int32(s.withUTF8 { b in
                let (p, isNew) = first.tables.images.intern(b)
                if isNew { first.newImages.append(id) }
                return p
            })
        }
        var readers = [Int32](repeating: 0, count: second.tables.readerNames.count)
        for (k, name) in second.tables.readerNames.enumerated() {
            var s = name
            readers[k] = Int32(s.withUTF8 { b in
                let (p, isNew) = first.tables.readers.intern(b)
                if isNew { first.tables.readerNames.append(name) }
                return p
            })
        }
        first.pending.reserveCapacity(first.pending.count + second.pending.count)
        for var row in second.pending {
            row.image = images[Int(row.image)]
            row.line = Int32(clamping: Int(row.line) + lineOffset)
            if row.reader >= 0 { row.reader = readers[Int(row.reader)] }
            first.pending.append(row)
        }
    }

    /// Registers the images first seen in a file, then files its rows.
    private func finishAdd(_ pending: [PendingRow], source: Int, newImages: [String], readerNames: [String]) {
        for id in newImages { images.append(ImageRecord(id: id)) }
        apply(pending, source: source, readerNames: readerNames)
    }

    /// Parses one data row into a flat record (no per-row allocation); `apply` files it.
    private static func parseRow(_ row: RowView, _ c: RowColumns, _ m: ColumnMap, _ t: inout Interning,
                                 _ newImages: inout [String], path: String, localLabels: Int) throws -> PendingRow {
        func fail(_ column: Int?, _ reason: String) -> CSVError {
            CSVError(file: path, line: row.line, column: column.map { m.names[$0] }, reason: reason)
        }
        guard row.count == c.fieldCount else {
            throw fail(nil, "\(row.count) fields, the header has \(c.fieldCount)")
        }
        var out = PendingRow(line: Int32(clamping: row.line))
        let imageBytes = row.field(c.imageID)
        guard !imageBytes.isEmpty else { throw fail(c.imageID, "empty image_id") }
        let image = t.images.intern(imageBytes)
        if image.isNew { newImages.append(String(decoding: imageBytes, as: UTF8.self)) }
        out.image = Int32(image.id)
        if c.readerID >= 0 {
            let readerBytes = row.field(c.readerID)
            guard !readerBytes.isEmpty else { throw fail(c.readerID, "empty rad_id") }
            let reader = t.readers.intern(readerBytes)
            if reader.isNew { t.readerNames.append(String(decoding: readerBytes, as: UTF8.self)) }
            out.reader = Int32(reader.id)
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
        } else {
            out.kind = .labelOnly
            out.ignoredBox = blanks == 0
            out.missingBox = isLocal
        }
        return out
    }

    /// Files parsed rows under their images and readers: rows are bucketed by image (counting
    /// sort), then each image record is updated once, as a local value; large files fill the
    /// two halves of the image list on two threads (records are independent).
    private func apply(_ rows: [PendingRow], source: Int, readerNames: [String]) {
        rowCounts[source] = rows.count
        var counts = [Int](repeating: 0, count: images.count + 1)
        for r in rows { counts[Int(r.image) + 1] += 1 }
        for i in 0..<images.count { counts[i + 1] += counts[i] }
        let start = counts
        var order = [Int](repeating: 0, count: rows.count)
        for (k, r) in rows.enumerated() {
            order[counts[Int(r.image)]] = k
            counts[Int(r.image)] += 1
        }
        let parts = rows.count >= 20_000 && sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 ? 2 : 1
        // Image ranges holding about the same number of rows.
        var bounds = [0]
        for p in 1..<parts { bounds.append(start.firstIndex { $0 >= rows.count * p / parts } ?? images.count) }
        bounds.append(images.count)
        // The workers read plain buffers: shared arrays would bounce reference counts between cores.
        rows.withUnsafeBufferPointer { rows in
        start.withUnsafeBufferPointer { start in
        order.withUnsafeBufferPointer { order in
        images.withUnsafeMutableBufferPointer { images in
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let names = readerNames.map { String(decoding: Array($0.utf8), as: UTF8.self) }
                for p in bounds[part]..<bounds[part + 1] where start[p] < start[p + 1] {
                    // One allocation for the usual 1-3 readers instead of growing 1, 2, 4.
                    let readers = images[p].readings.count + min(start[p + 1] - start[p], 4)
                    images[p].readings.reserveCapacity(readers)
                    images[p].readerKeys.reserveCapacity(readers)
                    for k in start[p]..<start[p + 1] {
                        Self.file(rows[order[k]], in: &images[p], source: source, readerNames: names)
                    }
                }
            }
        }
        }
        }
        }
    }

    /// Files one parsed row under its image record, in the reading of its reader.
    private static func file(_ r: PendingRow, in record: inout ImageRecord, source: Int, readerNames: [String]) {
        let key = Int(r.reader)
        let j = record.readerKeys.firstIndex(of: key) ?? record.addReading(key: key, reader: key < 0 ? nil : readerNames[key])
        let location = RowLocation(source: source, line: Int(r.line))
        switch r.kind {
        case .imageLabels:
            record.readings[j].imageLabelRows.append(location)
            record.readings[j].labels.bits |= r.labels.bits
        case .box:
            record.readings[j].labels.insert(Int(r.label))
            record.readings[j].boxes.append(BoxAnnotation(label: Int(r.label), box: r.box,
                                                          hadReversedCorners: r.reversed, location: location))
        case .labelOnly:
            record.readings[j].labels.insert(Int(r.label))
            record.readings[j].labelRows.append(LabelRow(label: Int(r.label), location: location,
                                                         ignoredBox: r.ignoredBox, missingBox: r.missingBox))
        }
    }

    /// "file:line" of a row location.
    public func describe(_ location: RowLocation) -> String {
        let file = sources.indices.contains(location.source) ? sources[location.source] : "?"
        return "\(file):\(location.line)"
    }
}
