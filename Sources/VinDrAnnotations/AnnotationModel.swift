@_exported import VinDrCore

import VinDrBoxes

/// Where a row came from: the index of its file in `AnnotationIndex.sources` and its line.
public struct RowLocation: Hashable, Sendable {
    public var source: Int
    public var line: Int

    public init(source: Int, line: Int) {
        self.source = source
        self.line = line
    }
}

/// A box drawn by one radiologist (or by the consensus), in pixels.
public struct BoxAnnotation: Sendable {
    /// Index in `Taxonomy.labels`.
    public var label: Int
    /// The box with ordered corners (reversed corners in the file are swapped and reported by QC).
    public var box: Box
    /// 1 for a reader's box; a consensus file's `score` column when it has one.
    public var score: Double
    /// True when the file gave x_max < x_min or y_max < y_min.
    public var hadReversedCorners: Bool
    public var location: RowLocation

    public init(label: Int, box: Box, score: Double = 1, hadReversedCorners: Bool = false, location: RowLocation) {
        self.label = label
        self.box = box
        self.score = score
        self.hadReversedCorners = hadReversedCorners
        self.location = location
    }
}

/// An image-level label given without a box: a global label, or "No finding".
public struct LabelRow: Sendable {
    public var label: Int
    public var location: RowLocation
    /// The row carried box coordinates although its label takes none (they are ignored).
    public var ignoredBox: Bool
    /// A local finding given without a box.
    public var missingBox: Bool

    public init(label: Int, location: RowLocation, ignoredBox: Bool = false, missingBox: Bool = false) {
        self.label = label
        self.location = location
        self.ignoredBox = ignoredBox
        self.missingBox = missingBox
    }
}

/// The rows behind a group of readings, contiguous: the boxes, label rows and image_labels rows
/// of one file's images (or of one part of them), which each reading sees a run of. Filled once
/// by the index that files them, before any reading of it is handed out; read-only after.
final class RowStore: @unchecked Sendable {
    var boxes: [BoxAnnotation]
    var labelRows: [LabelRow]
    var imageLabelRows: [RowLocation]

    init(boxes: [BoxAnnotation] = [], labelRows: [LabelRow] = [], imageLabelRows: [RowLocation] = []) {
        self.boxes = boxes
        self.labelRows = labelRows
        self.imageLabelRows = imageLabelRows
    }
}

/// Everything one radiologist (or the consensus, `reader == nil`) said about one image.
public struct Reading: Sendable {
    public let reader: String?
    private let rows: RowStore
    /// Image-level labels: ticked in an image_labels file or implied by annotation rows.
    public let labels: LabelSet
    /// The index's interned number of the reader (-1: consensus or not from an index).
    let key: Int32
    /// Where the reading's runs start in `rows`, and their lengths (32 bits: a reading is one
    /// of millions in an index, so its size counts).
    private let boxStart: Int32, boxCount: Int32
    private let labelRowStart: Int32, labelRowCount: Int32
    private let imageLabelRowStart: Int32, imageLabelRowCount: Int32

    public var boxes: FlatSlice<BoxAnnotation> { FlatSlice(rows.boxes, Self.range(boxStart, boxCount)) }
    public var labelRows: FlatSlice<LabelRow> { FlatSlice(rows.labelRows, Self.range(labelRowStart, labelRowCount)) }
    /// Rows of image_labels files for this reader and image (for QC).
    public var imageLabelRows: FlatSlice<RowLocation> {
        FlatSlice(rows.imageLabelRows, Self.range(imageLabelRowStart, imageLabelRowCount))
    }

    /// A reading built by hand (an index files its own readings).
    public init(reader: String?, boxes: [BoxAnnotation] = [], labelRows: [LabelRow] = [], labels: LabelSet = LabelSet(),
                imageLabelRows: [RowLocation] = []) {
        self.init(reader: reader, labels: labels, key: -1,
                  rows: RowStore(boxes: boxes, labelRows: labelRows, imageLabelRows: imageLabelRows),
                  boxes: 0..<boxes.count, labelRows: 0..<labelRows.count, imageLabelRows: 0..<imageLabelRows.count)
    }

    /// A reading whose rows are runs of a shared store (which may still be being filled).
    init(reader: String?, labels: LabelSet, key: Int, rows: RowStore,
         boxes: Range<Int>, labelRows: Range<Int>, imageLabelRows: Range<Int>) {
        self.reader = reader
        self.labels = labels
        self.key = Int32(key)
        self.rows = rows
        (boxStart, boxCount) = (Int32(boxes.lowerBound), Int32(boxes.count))
        (labelRowStart, labelRowCount) = (Int32(labelRows.lowerBound), Int32(labelRows.count))
        (imageLabelRowStart, imageLabelRowCount) = (Int32(imageLabelRows.lowerBound), Int32(imageLabelRows.count))
    }

    private static func range(_ start: Int32, _ count: Int32) -> Range<Int> { Int(start)..<(Int(start) + Int(count)) }
}

/// One image and all readings of it.
public struct ImageRecord: Sendable {
    public let id: String
    public internal(set) var readings: FlatSlice<Reading>
    /// Pixel size when known (`AnnotationIndex.setImageSize`): enables out-of-image checks and
    /// normalised exports.
    public var width: Int?
    public var height: Int?

    public init(id: String, readings: [Reading] = []) {
        self.id = id
        self.readings = FlatSlice(readings)
    }
}
