#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

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
    var score = 1.0

    init(line: Int32) { self.line = line }
}

/// Row buffers kept between parses of large files, so that each parse does not fault in fresh
/// pages for its transient rows (the allocator tends to hand large freed blocks back to the
/// system). At most two buffers (one per half) of at most 64 MiB each are kept.
private enum PendingPool {
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

    /// `add(path:)` with the file size from which files are parsed in halves and the size of the
    /// buffer each half is read through (tests compare both paths and split every line).
    @discardableResult
    func add(path: String, parallelThreshold: Int, chunkSize: Int = 1 << 16) throws -> CSVLayout {
        if let layout = try addInHalves(path: path, threshold: parallelThreshold, chunkSize: chunkSize) { return layout }
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
    private static func holdsQuote(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.baseAddress.map { memchr($0, 0x22, b.count) != nil } ?? false
    }

    /// Reads `range` of an open file through one small reused buffer and hands it to `body` in
    /// pieces that end just after a line feed (the last piece ends where the range does), until
    /// `body` returns false. Returns false when the range could not be read whole.
    private static func forEachLineChunk(_ fd: Int32, _ range: Range<Int>, chunk: Int,
                                         _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows -> Bool {
        precondition(chunk > 0)
        var buffer = [UInt8](repeating: 0, count: chunk)
        var held = 0  // bytes of a line begun in the previous read, at the front of the buffer
        var offset = range.lowerBound
        while offset < range.upperBound {
            if held == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }  // a line longer than the buffer
            let want = min(buffer.count - held, range.upperBound - offset)
            let got = buffer.withUnsafeMutableBytes { b in
                var got = 0
                while got < want {
                    let n = pread(fd, b.baseAddress! + held + got, want - got, off_t(offset + got))
                    if n > 0 { got += n } else if n < 0 && errno == EINTR { continue } else { break }
                }
                return got
            }
            guard got == want else { return false }
            offset += got
            held += got
            var cut = held
            if offset < range.upperBound {
                while cut > 0 && buffer[cut - 1] != 0x0A { cut -= 1 }
            }
            guard cut > 0 else { continue }
            guard try buffer.withUnsafeBufferPointer({ try body(UnsafeBufferPointer(rebasing: $0[0..<cut])) }) else { return true }
            buffer.withUnsafeMutableBytes { b in
                if cut < held { _ = memmove(b.baseAddress!, b.baseAddress! + cut, held - cut) }
            }
            held -= cut
        }
        return true
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
    private func addInHalves(path: String, threshold: Int, chunkSize: Int) throws -> CSVLayout? {
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
              !head.withUnsafeBufferPointer({ Self.holdsQuote(UnsafeBufferPointer(rebasing: $0[0..<dataStart])) }) else { return nil }
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
                half.pending = PendingPool.take(capacity: ranges[k].count / 48)
                // Thread-private copies: shared objects would bounce their reference counts
                // between the cores on every row.
                let (map, path, localLabels) = (map.unshared, String(decoding: Array(path.utf8), as: UTF8.self),
                                                Self.localLabelCount)
                // The second half counts lines from 0 until the first half's count is known.
                half.endLine = k == 0 ? 2 : 0
                do {
                    let whole = try Self.forEachLineChunk(fd, ranges[k], chunk: chunkSize) { chunk in
                        guard !Self.holdsQuote(chunk) else { half.unusable = true; return false }
                        half.endLine = try CSVReader.forEachUnquotedRow(bytes: chunk, firstLine: half.endLine) { row in
                            half.pending.append(try Self.parseRow(row, columns, map, &half.tables, &half.newImages,
                                                                  path: path, localLabels: localLabels))
                        }
                        return true
                    }
                    if !whole { half.unusable = true }
                } catch {
                    half.error = error
                }
            }
        }
        // Moved out, not copied: a copy would make the merge's writes copy whole arrays.
        var second = halves.removeLast(), first = halves.removeLast()
        defer { swap(&first.tables, &interning) }
        if first.unusable || second.unusable {
            first.tables = saved
            return nil
        }
        register(path: path, layout: map.layout)
        if let e = second.error as? CSVError {
            second.error = CSVError(file: e.file, line: e.line + first.endLine, column: e.column, reason: e.reason)
        }
        if first.error == nil {
            merge(&second, into: &first, lineOffset: first.endLine)
        } else {
            PendingPool.give(&second.pending)
        }
        finishAdd(first.pending, second.pending, source: sources.count - 1, newImages: first.newImages,
                  readerNames: first.tables.readerNames)
        PendingPool.give(&first.pending)
        PendingPool.give(&second.pending)
        if let error = first.error ?? second.error { throw error }
        return map.layout
    }

    /// Renumbers the second half's rows, in place, into the first half's tables: its images and
    /// readers (ids in its own tables, which started empty) and its line numbers.
    private func merge(_ second: inout Half, into first: inout Half, lineOffset: Int) {
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
        second.pending.withUnsafeMutableBufferPointer { rows in
            for k in rows.indices {
                rows[k].image = images[Int(rows[k].image)]
                rows[k].line = Int32(clamping: Int(rows[k].line) + lineOffset)
                if rows[k].reader >= 0 { rows[k].reader = readers[Int(rows[k].reader)] }
            }
        }
    }

    /// Registers the images first seen in a file, then files its rows (`pending`, then `more`).
    private func finishAdd(_ pending: [PendingRow], _ more: [PendingRow] = [], source: Int, newImages: [String],
                           readerNames: [String]) {
        for id in newImages { images.append(ImageRecord(id: id)) }
        apply(pending, more, source: source, readerNames: readerNames)
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
            if c.score >= 0, !row.field(c.score).isEmpty { out.score = try read(c.score) }
        } else {
            out.kind = .labelOnly
            out.ignoredBox = blanks == 0
            out.missingBox = isLocal
        }
        return out
    }

    /// Files parsed rows under their images and readers: rows are bucketed by image (counting
    /// sort, which keeps file order within an image), then each part of the image list is filed
    /// into flat storage of its own; large files file their two halves on two threads (records
    /// are independent).
    private func apply(_ first: [PendingRow], _ second: [PendingRow], source: Int, readerNames: [String]) {
        let total = first.count + second.count
        rowCounts[source] = total
        // Rows per image, and how many of them are boxes and image-label rows (so that filing
        // can size its arrays without reading the rows in image order twice).
        var counts = [Int](repeating: 0, count: images.count + 1)
        var boxRows = [Int32](repeating: 0, count: images.count), tickRows = boxRows
        for rows in [first, second] {
            for r in rows {
                counts[Int(r.image) + 1] += 1
                if r.kind == .box { boxRows[Int(r.image)] += 1 } else if r.kind == .imageLabels { tickRows[Int(r.image)] += 1 }
            }
        }
        for i in 0..<images.count { counts[i + 1] += counts[i] }
        let start = counts
        var order = [Int](repeating: 0, count: total)
        for (k, r) in first.enumerated() {
            order[counts[Int(r.image)]] = k
            counts[Int(r.image)] += 1
        }
        for (k, r) in second.enumerated() {
            order[counts[Int(r.image)]] = first.count + k
            counts[Int(r.image)] += 1
        }
        let parts = total >= 20_000 && sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 ? 2 : 1
        // Image ranges holding about the same number of rows.
        var bounds = [0]
        for p in 1..<parts { bounds.append(start.firstIndex { $0 >= total * p / parts } ?? images.count) }
        bounds.append(images.count)
        // The workers read plain buffers: shared arrays would bounce reference counts between cores.
        first.withUnsafeBufferPointer { first in
        second.withUnsafeBufferPointer { second in
        start.withUnsafeBufferPointer { start in
        order.withUnsafeBufferPointer { order in
        boxRows.withUnsafeBufferPointer { boxRows in
        tickRows.withUnsafeBufferPointer { tickRows in
        images.withUnsafeMutableBufferPointer { images in
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let names = readerNames.map { String(decoding: Array($0.utf8), as: UTF8.self) }
                Self.file(PendingRows(first: first, second: second), order: order, start: start,
                          kinds: (boxRows, tickRows), into: images, bounds[part]..<bounds[part + 1],
                          source: source, readerNames: names)
            }
        }
        }
        }
        }
        }
        }
        }
    }

    /// Two runs of parsed rows read as one (the halves of a file, without copying them together).
    private struct PendingRows {
        let first: UnsafeBufferPointer<PendingRow>
        let second: UnsafeBufferPointer<PendingRow>

        subscript(k: Int) -> PendingRow { k < first.count ? first[k] : second[k - first.count] }
    }

    /// Files the rows of the images in `range` (`order[start[p]..<start[p + 1]]` are image p's
    /// rows, in file order): an image's readings are its earlier ones, in order, then new readers
    /// in order of their first row, each with its earlier rows then the new ones. All rows go
    /// into one `RowStore` and all readings into one array, which the records see runs of.
    private static func file(_ rows: PendingRows, order: UnsafeBufferPointer<Int>, start: UnsafeBufferPointer<Int>,
                             kinds: (boxes: UnsafeBufferPointer<Int32>, ticks: UnsafeBufferPointer<Int32>),
                             into images: UnsafeMutableBufferPointer<ImageRecord>,
                             _ range: Range<Int>, source: Int, readerNames: [String]) {
        var boxCount = 0, labelRowCount = 0, imageLabelRowCount = 0, readingBound = 0
        for p in range where start[p] < start[p + 1] {
            for r in images[p].readings {
                boxCount += r.boxes.count
                labelRowCount += r.labelRows.count
                imageLabelRowCount += r.imageLabelRows.count
            }
            readingBound += images[p].readings.count + start[p + 1] - start[p]
            boxCount += Int(kinds.boxes[p])
            imageLabelRowCount += Int(kinds.ticks[p])
            labelRowCount += start[p + 1] - start[p] - Int(kinds.boxes[p]) - Int(kinds.ticks[p])
        }
        var boxes = [BoxAnnotation](), labelRows = [LabelRow](), imageLabelRows = [RowLocation]()
        boxes.reserveCapacity(boxCount)
        labelRows.reserveCapacity(labelRowCount)
        imageLabelRows.reserveCapacity(imageLabelRowCount)
        let store = RowStore()
        var readings = [Reading]()
        readings.reserveCapacity(readingBound)
        var imageSpans = [(image: Int, readings: Range<Int>)]()
        imageSpans.reserveCapacity(range.count)
        var keys = [Int]()
        var local = [PendingRow]()  // the image's rows, gathered once from their scattered places
        for p in range where start[p] < start[p + 1] {
            let earlier = images[p].readings
            local.removeAll(keepingCapacity: true)
            for k in start[p]..<start[p + 1] { local.append(rows[order[k]]) }
            keys.removeAll(keepingCapacity: true)
            for r in earlier { keys.append(Int(r.key)) }
            for r in local where !keys.contains(Int(r.reader)) { keys.append(Int(r.reader)) }
            let first = readings.count
            for (j, key) in keys.enumerated() {
                let (b, l, i) = (boxes.count, labelRows.count, imageLabelRows.count)
                var reader = key < 0 ? nil : readerNames[key]
                var labels = LabelSet()
                if j < earlier.count {
                    let r = earlier[j]
                    (reader, labels) = (r.reader, r.labels)
                    boxes.append(contentsOf: r.boxes)
                    labelRows.append(contentsOf: r.labelRows)
                    imageLabelRows.append(contentsOf: r.imageLabelRows)
                }
                for r in local where Int(r.reader) == key {
                    let location = RowLocation(source: source, line: Int(r.line))
                    switch r.kind {
                    case .imageLabels:
                        imageLabelRows.append(location)
                        labels.bits |= r.labels.bits
                    case .box:
                        labels.insert(Int(r.label))
                        boxes.append(BoxAnnotation(label: Int(r.label), box: r.box, score: r.score,
                                                   hadReversedCorners: r.reversed, location: location))
                    case .labelOnly:
                        labels.insert(Int(r.label))
                        labelRows.append(LabelRow(label: Int(r.label), location: location,
                                                  ignoredBox: r.ignoredBox, missingBox: r.missingBox))
                    }
                }
                readings.append(Reading(reader: reader, labels: labels, key: key, rows: store,
                                        boxes: b..<boxes.count, labelRows: l..<labelRows.count,
                                        imageLabelRows: i..<imageLabelRows.count))
            }
            imageSpans.append((p, first..<readings.count))
        }
        (store.boxes, store.labelRows, store.imageLabelRows) = (boxes, labelRows, imageLabelRows)
        for (p, span) in imageSpans { images[p].readings = FlatSlice(readings, span) }
    }

    /// "file:line" of a row location.
    public func describe(_ location: RowLocation) -> String {
        let file = sources.indices.contains(location.source) ? sources[location.source] : "?"
        return "\(file):\(location.line)"
    }
}
