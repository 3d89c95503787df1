#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

/// The dataset index: image -> radiologist -> boxes and image-level labels, built from any mix of
/// the PhysioNet and Kaggle CSV layouts (`add(path:)` detects each file's layout from its header).
/// Test-split files without rad_id become one consensus reading (`reader == nil`) per image.
/// Not thread-safe while adding files; read-only use from several threads is safe.
public final class AnnotationIndex: @unchecked Sendable {
    public internal(set) var images: [ImageRecord] = []
    /// Files added, in order; `RowLocation.source` indexes this.
    public private(set) var sources: [String] = []
    public private(set) var layouts: [CSVLayout] = []
    /// Data rows read per source.
    public internal(set) var rowCounts: [Int] = []
    /// Byte-level interning of the values repeated across rows, so a row allocates no strings.
    var interning = Interning()
    /// Local labels come first in the taxonomy: index < this means local.
    static let localLabelCount = Taxonomy.labels.filter { $0.kind == .local }.count

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
        guard width > 0, height > 0 else { throw VinDrError(.argument, "image size \(width) x \(height) must be positive") }
        guard let p = position(of: imageID) else { throw VinDrError(.argument, "unknown image_id \(imageID)") }
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
        guard let m = map else { throw VinDrError(file: path, line: 1, reason: "empty file (no header)") }
        finishAdd(pending, source: source, newImages: newImages, readerNames: tables.readerNames)
        return m.layout
    }

    /// Files at least this large are parsed in two halves on two threads.
    static let parallelThreshold = 1 << 20

    /// Detects a file's layout from its header row (not for submissions).
    static func columns(path: String, header row: CSVRow) throws -> ColumnMap {
        let header = (0..<row.count).map { row.string($0) }
        let detected = try ColumnMap.detect(header: header, file: path)
        if detected.layout == .kaggleSubmission {
            throw VinDrError(file: path, line: row.line, reason: "a submission file holds predictions, not annotations")
        }
        return detected
    }

    /// Registers a file as a source.
    func register(path: String, layout: CSVLayout) {
        sources.append(path)
        layouts.append(layout)
        rowCounts.append(0)
    }

    /// Registers the images first seen in a file, then files its rows (`pending`, then `more`).
    func finishAdd(_ pending: [PendingRow], _ more: [PendingRow] = [], source: Int, newImages: [String],
                           readerNames: [String]) {
        for id in newImages { images.append(ImageRecord(id: id)) }
        apply(pending, more, source: source, readerNames: readerNames)
    }

    /// "file:line" of a row location.
    public func describe(_ location: RowLocation) -> String {
        let file = sources.indices.contains(location.source) ? sources[location.source] : "?"
        return "\(file):\(location.line)"
    }
}
