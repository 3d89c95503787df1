import CVinDrHandles
import VinDrAnnotations
import VinDrDICOM
import VinDrLoader

/// Format of vdr_stats_table: the table as text (what `vindr stats` prints).
public let VDR_STATS_TEXT: Int32 = 0
/// Format of vdr_stats_table: JSON (the document of `vindr stats --json`).
public let VDR_STATS_JSON: Int32 = 1
/// Format of vdr_stats_table: Figure 4 (label distribution) as an SVG document.
public let VDR_STATS_SVG: Int32 = 2

/// The paper's Table 2 for a training split and, beside it, a test split: collection rows from
/// the DICOM headers under `train_images` / `test_images` (UTF-8 folders), label rows from the
/// `train` / `test` annotations under the consensus rules with `min_votes` (box F1 at `iou_thr`).
/// Any of the four may be NULL, not all. `format`: VDR_STATS_TEXT, VDR_STATS_JSON or
/// VDR_STATS_SVG (Figure 4, which needs annotations). *out is freed with vdr_string_destroy.
@c public func vdr_stats_table(_ train: UnsafeMutablePointer<vdr_annotations>?, _ train_images: UnsafePointer<CChar>?,
                               _ test: UnsafeMutablePointer<vdr_annotations>?, _ test_images: UnsafePointer<CChar>?,
                               _ min_votes: Int32, _ iou_thr: Double, _ format: Int32,
                               _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let table = try DatasetCharacteristics.table(
            train: try train.map { try AnnotationIndex.from($0) }, trainImages: train_images.map { String(cString: $0) },
            test: try test.map { try AnnotationIndex.from($0) }, testImages: test_images.map { String(cString: $0) },
            minimumVotes: Int(min_votes), iouThreshold: iou_thr)
        switch format {
        case VDR_STATS_TEXT: try store(table.report, to: out)
        case VDR_STATS_JSON: try store(table.json.text, to: out)
        case VDR_STATS_SVG: try store(try LabelDistributionFigure(table: table).svg, to: out)
        default: throw VinDrError(.argument, "format \(format) is not VDR_STATS_TEXT, VDR_STATS_JSON or VDR_STATS_SVG")
        }
    }
}

/// Draws the paper's Figure 4 (label distribution, one panel per split with annotations) to
/// `path` (UTF-8), PNG or SVG by its extension (.png, .svg); `train` or `test` may be NULL, not
/// both. The PNG holds the bars and axes without text.
@c public func vdr_stats_plot(_ train: UnsafeMutablePointer<vdr_annotations>?, _ test: UnsafeMutablePointer<vdr_annotations>?,
                              _ min_votes: Int32, _ path: UnsafePointer<CChar>?) -> Int32 {
    abiCall {
        let path = try requireString(path, "path")
        let table = try DatasetCharacteristics.table(train: try train.map { try AnnotationIndex.from($0) }, trainImages: nil,
                                                     test: try test.map { try AnnotationIndex.from($0) }, testImages: nil,
                                                     minimumVotes: Int(min_votes))
        try LabelDistributionFigure(table: table).write(to: path)
    }
}
