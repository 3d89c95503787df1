#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVinDrHandles
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM

// C ABI of VinDrAnnotations: the label taxonomy, the dataset index (vdr_annotations handle),
// consensus labels and box targets, statistics and QC reports.
//
// Thread safety: a vdr_annotations handle may be read from several threads at once, but
// vdr_annotations_add and vdr_annotations_set_image_size must not run concurrently with anything
// else on the same handle. vdr_targets results are immutable.

/// Label kind: a local finding, marked with boxes.
public let VDR_LABEL_LOCAL: Int32 = 0
/// Label kind: a global, image-level label.
public let VDR_LABEL_GLOBAL: Int32 = 1
/// Number of labels in the VinDr-CXR taxonomy (22 local, 6 global).
public let VDR_LABEL_COUNT: Int32 = 28

/// CSV layout: PhysioNet annotations_train.csv.
public let VDR_LAYOUT_ANNOTATIONS: Int32 = 0
/// CSV layout: PhysioNet annotations_test.csv (consensus, no rad_id).
public let VDR_LAYOUT_CONSENSUS_ANNOTATIONS: Int32 = 1
/// CSV layout: PhysioNet image_labels_train.csv.
public let VDR_LAYOUT_IMAGE_LABELS: Int32 = 2
/// CSV layout: PhysioNet image_labels_test.csv (consensus, no rad_id).
public let VDR_LAYOUT_CONSENSUS_IMAGE_LABELS: Int32 = 3
/// CSV layout: Kaggle VinBigData train.csv.
public let VDR_LAYOUT_KAGGLE_TRAIN: Int32 = 4
/// CSV layout: Kaggle submission (image_id,PredictionString).
public let VDR_LAYOUT_KAGGLE_SUBMISSION: Int32 = 5

/// What to do with an image that should be there and is not (`missing` of vdr_evaluate_files and
/// vdr_samples_from_dataset): an error naming the first few and their count.
public let VDR_MISSING_ERROR: Int32 = 0
/// Leave it out (of the scoring; of the samples, listed by vdr_samples_skipped).
public let VDR_MISSING_SKIP: Int32 = 1
/// Score it as an image without predictions (vdr_evaluate_files only).
public let VDR_MISSING_EMPTY: Int32 = 2

/// The Swift value of a VDR_MISSING_* code.
func missingImages(_ code: Int32) throws -> MissingImages {
    switch code {
    case VDR_MISSING_ERROR: return .error
    case VDR_MISSING_SKIP: return .skip
    case VDR_MISSING_EMPTY: return .empty
    default: throw VinDrError(.argument, "missing \(code) is not one of VDR_MISSING_*")
    }
}

/// Box targets: every included reader's boxes (score 1, or a consensus file's score column).
public let VDR_TARGETS_ALL: Int32 = 0
/// Box targets: the consensus rules (vdr_annotations_labels), the boxes of the labels that hold
/// fused per image by weighted boxes fusion (score = reader share); consensus readings as given.
public let VDR_TARGETS_FUSED: Int32 = 1

/// Static label names, created once and never freed (immutable after initialisation).
nonisolated(unsafe) private let labelNames: [UnsafeMutablePointer<CChar>?] = Taxonomy.labels.map { strdup($0.name) }

/// Describes label `index` (0..27, the column order of image_labels_train.csv): its exact
/// dataset spelling (static storage), VDR_LABEL_LOCAL/GLOBAL, and its Kaggle class id (-1 if none).
@c public func vdr_label_info(_ index: Int32, _ out_name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                              _ out_kind: UnsafeMutablePointer<Int32>?, _ out_kaggle_id: UnsafeMutablePointer<Int32>?) -> Int32 {
    abiCall {
        guard index >= 0, Int(index) < Taxonomy.count, let name = labelNames[Int(index)] else {
            throw VinDrError(.argument, "label index \(index) outside 0..<\(Taxonomy.count)")
        }
        let label = Taxonomy.labels[Int(index)]
        if let out_name { out_name.pointee = UnsafePointer(name) }
        if let out_kind { out_kind.pointee = label.kind == .local ? VDR_LABEL_LOCAL : VDR_LABEL_GLOBAL }
        if let out_kaggle_id { out_kaggle_id.pointee = Int32(label.kaggleClassID ?? -1) }
    }
}

/// Finds a label by name: exact spelling, an alias ("Other disease"), or another letter case.
@c public func vdr_label_lookup(_ name: UnsafePointer<CChar>?, _ out_index: UnsafeMutablePointer<Int32>?) -> Int32 {
    abiCall {
        let text = try requireString(name, "name")
        let out = try require(out_index, "out_index")
        guard let label = Taxonomy.label(named: text) else {
            throw VinDrError(.argument, "\"\(text)\" is not a VinDr-CXR label")
        }
        out.pointee = Int32(label.index)
    }
}

private func layoutCode(_ l: CSVLayout) -> Int32 {
    switch l {
    case .annotations: return VDR_LAYOUT_ANNOTATIONS
    case .consensusAnnotations: return VDR_LAYOUT_CONSENSUS_ANNOTATIONS
    case .imageLabels: return VDR_LAYOUT_IMAGE_LABELS
    case .consensusImageLabels: return VDR_LAYOUT_CONSENSUS_IMAGE_LABELS
    case .kaggleTrain: return VDR_LAYOUT_KAGGLE_TRAIN
    case .kaggleSubmission: return VDR_LAYOUT_KAGGLE_SUBMISSION
    }
}

/// Creates an empty dataset index; fill it with vdr_annotations_add. Destroy with vdr_annotations_destroy.
@c public func vdr_annotations_create(_ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_annotations>?>?) -> Int32 {
    abiCall {
        try store(AnnotationIndex(), to: out)
    }
}

/// Opens a dataset index from one annotation or image-label CSV (layout detected from the
/// header, written to out_layout as VDR_LAYOUT_* when not NULL). Destroy with vdr_annotations_destroy.
@c public func vdr_annotations_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_annotations>?>?,
                                    _ out_layout: UnsafeMutablePointer<Int32>?) -> Int32 {
    abiCall {
        let p = try requireString(path, "path")
        _ = try require(out, "out")
        let index = AnnotationIndex()
        let layout = try index.add(path: p)
        out_layout?.pointee = layoutCode(layout)
        try store(index, to: out)
    }
}

/// Adds another CSV to the index (e.g. image_labels_train.csv after annotations_train.csv);
/// writes its layout (VDR_LAYOUT_*) to out_layout when not NULL.
@c public func vdr_annotations_add(_ h: UnsafeMutablePointer<vdr_annotations>?, _ path: UnsafePointer<CChar>?, _ out_layout: UnsafeMutablePointer<Int32>?) -> Int32 {
    abiCall {
        let layout = try AnnotationIndex.from(h).add(path: try requireString(path, "path"))
        out_layout?.pointee = layoutCode(layout)
    }
}

/// Releases a dataset index; NULL is accepted.
@c public func vdr_annotations_destroy(_ h: UnsafeMutablePointer<vdr_annotations>?) {
    AnnotationIndex.destroy(h)
}

/// Number of images in the index.
@c public func vdr_annotations_image_count(_ h: UnsafeMutablePointer<vdr_annotations>?, _ out_count: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall { try require(out_count, "out_count").pointee = UInt(try AnnotationIndex.from(h).images.count) }
}

/// The image_id of image `index` (*out: release with vdr_string_destroy).
@c public func vdr_annotations_image_id(_ h: UnsafeMutablePointer<vdr_annotations>?, _ index: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let images = try AnnotationIndex.from(h).images
        guard index < UInt(images.count) else {
            throw VinDrError(.argument, "image index \(index) outside 0..<\(images.count)")
        }
        try store(images[Int(index)].id, to: out)
    }
}

/// All image ids, in index order, separated by '\n' (*out: release with vdr_string_destroy).
@c public func vdr_annotations_image_ids(_ h: UnsafeMutablePointer<vdr_annotations>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { try store(try AnnotationIndex.from(h).images.map(\.id).joined(separator: "\n"), to: out) }
}

/// Number of distinct readers (rad_id values); consensus readings are not counted.
@c public func vdr_annotations_reader_count(_ h: UnsafeMutablePointer<vdr_annotations>?, _ out_count: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall { try require(out_count, "out_count").pointee = UInt(try AnnotationIndex.from(h).sortedReaderIDs.count) }
}

/// The rad_id of reader `index` (readers are in natural order: R1, R2, ..., R10, ...); *out:
/// release with vdr_string_destroy.
@c public func vdr_annotations_reader_name(_ h: UnsafeMutablePointer<vdr_annotations>?, _ index: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let readers = try AnnotationIndex.from(h).sortedReaderIDs
        guard index < UInt(readers.count) else {
            throw VinDrError(.argument, "reader index \(index) outside 0..<\(readers.count)")
        }
        try store(readers[Int(index)], to: out)
    }
}

/// Records an image's size in pixels (enables out-of-image QC).
@c public func vdr_annotations_set_image_size(_ h: UnsafeMutablePointer<vdr_annotations>?, _ image_id: UnsafePointer<CChar>?, _ width: Int32, _ height: Int32) -> Int32 {
    abiCall { try AnnotationIndex.from(h).setImageSize(try requireString(image_id, "image_id"), width: Int(width), height: Int(height)) }
}

/// Reader selection from C arguments: `reader` (NULL = all) and a comma-separated `exclude` list.
func readerFilter(_ reader: UnsafePointer<CChar>?, _ exclude: UnsafePointer<CChar>?) -> ReaderFilter {
    ReaderFilter(reader: reader.map { String(cString: $0) }, excluded: Set(exclude.map { commaList(String(cString: $0)) } ?? []))
}

/// The items of a comma-separated C list ("R1, R2,"), spaces dropped, empty items left out.
func commaList(_ text: String) -> [String] {
    text.split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
}

/// Consensus image labels: out[i * 28 + l] = 1 when label l holds for image i under the
/// consensus rules: a consensus reading (or the chosen reader) is the answer itself; else
/// "No finding" by strict majority of the included readers, excluding the rest; else the labels at
/// least `min_votes` included readers gave.
/// `reader` (NULL = all) picks one reader; `exclude` (NULL or comma-separated rad_ids) drops
/// readers. out: image_count * 28 bytes.
@c public func vdr_annotations_labels(_ h: UnsafeMutablePointer<vdr_annotations>?, _ min_votes: Int32, _ reader: UnsafePointer<CChar>?,
                                      _ exclude: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UInt8>?) -> Int32 {
    abiCall {
        let images = try AnnotationIndex.from(h).images
        guard min_votes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1") }
        if images.isEmpty { return }
        let o = try require(out, "out")
        let filter = readerFilter(reader, exclude)
        let rows = images.map { $0.consensusLabels(minimumVotes: Int(min_votes), filter: filter) }
        for (i, set) in rows.enumerated() {
            for l in 0..<Taxonomy.count { o[i * Taxonomy.count + l] = set.contains(l) ? 1 : 0 }
        }
    }
}

/// A target table lent to C: its columns, copied into memory that stays put until
/// vdr_targets_destroy.
final class TargetsResult {
    let count: Int
    let image: UnsafeMutableBufferPointer<Int64>
    let boxes: UnsafeMutableBufferPointer<Double>
    let scores: UnsafeMutableBufferPointer<Double>
    let labels: UnsafeMutableBufferPointer<Int32>
    let readers: UnsafeMutableBufferPointer<Int32>

    init(_ t: TargetTable) {
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let p = UnsafeMutableBufferPointer<T>.allocate(capacity: max(a.count, 1))
            _ = p.initialize(from: a)
            return p
        }
        count = t.count
        image = copy(t.image); boxes = copy(t.boxes); scores = copy(t.scores); labels = copy(t.labels); readers = copy(t.readers)
    }

    deinit {
        image.deallocate(); boxes.deallocate(); scores.deallocate(); labels.deallocate(); readers.deallocate()
    }
}

/// Box targets (pixels) of every image under a consensus rule (VDR_TARGETS_*), in one call.
/// VDR_TARGETS_FUSED applies the consensus rules of vdr_annotations_labels with `min_votes`:
/// the boxes of the labels that hold, fused by weighted boxes fusion at `iou_thr`. The result is
/// read with vdr_targets_view and released with vdr_targets_destroy.
@c public func vdr_annotations_targets(_ h: UnsafeMutablePointer<vdr_annotations>?, _ mode: Int32, _ iou_thr: Double,
                                       _ min_votes: Int32, _ reader: UnsafePointer<CChar>?, _ exclude: UnsafePointer<CChar>?,
                                       _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_targets>?>?) -> Int32 {
    abiCall {
        let index = try AnnotationIndex.from(h)
        guard min_votes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1") }
        let rule: TargetMode
        switch mode {
        case VDR_TARGETS_ALL: rule = .all
        case VDR_TARGETS_FUSED: rule = .fused(iouThreshold: iou_thr, minimumVotes: Int(min_votes))
        default: throw VinDrError(.argument, "targets mode \(mode) is not one of VDR_TARGETS_*")
        }
        try store(TargetsResult(try index.targetTable(rule, filter: readerFilter(reader, exclude))), to: out)
    }
}

/// Borrowed views of a targets result, valid until vdr_targets_destroy: per box its image index,
/// box (x_min, y_min, x_max, y_max pixels), score, label index (taxonomy) and reader index
/// (vdr_annotations_reader_name; -1 for consensus or fused boxes). Any output may be NULL.
@c public func vdr_targets_view(_ t: UnsafeMutablePointer<vdr_targets>?, _ out_count: UnsafeMutablePointer<UInt>?,
                                _ out_image: UnsafeMutablePointer<UnsafePointer<Int64>?>?,
                                _ out_boxes: UnsafeMutablePointer<UnsafePointer<Double>?>?,
                                _ out_scores: UnsafeMutablePointer<UnsafePointer<Double>?>?,
                                _ out_labels: UnsafeMutablePointer<UnsafePointer<Int32>?>?,
                                _ out_readers: UnsafeMutablePointer<UnsafePointer<Int32>?>?) -> Int32 {
    abiCall {
        let r = try TargetsResult.from(t)
        out_count?.pointee = UInt(r.count)
        out_image?.pointee = UnsafePointer(r.image.baseAddress)
        out_boxes?.pointee = UnsafePointer(r.boxes.baseAddress)
        out_scores?.pointee = UnsafePointer(r.scores.baseAddress)
        out_labels?.pointee = UnsafePointer(r.labels.baseAddress)
        out_readers?.pointee = UnsafePointer(r.readers.baseAddress)
    }
}

/// Releases a targets result; NULL is accepted.
@c public func vdr_targets_destroy(_ t: UnsafeMutablePointer<vdr_targets>?) {
    TargetsResult.destroy(t)
}

/// Statistics as JSON (the layout of `vindr stats --json`): images, rows, boxes, per-label
/// majority/any counts, box F1 at `iou_thr` between reader pairs, Fleiss' kappa, per-reader
/// counts. *out is freed with vdr_string_destroy.
@c public func vdr_annotations_stats_json(_ h: UnsafeMutablePointer<vdr_annotations>?, _ min_votes: Int32, _ iou_thr: Double,
                                          _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let a = try AnnotationIndex.from(h)
        guard min_votes >= 1, iou_thr.isFinite else {
            throw VinDrError(.argument, "min_votes must be >= 1 and iou_thr finite")
        }
        try store(a.statistics(minimumVotes: Int(min_votes), iouThreshold: iou_thr).json.text, to: out)
    }
}

/// Label QC issues as JSON (the layout of `vindr qc --json`); *out is freed with vdr_string_destroy.
@c public func vdr_annotations_qc_json(_ h: UnsafeMutablePointer<vdr_annotations>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        try store(try AnnotationIndex.from(h).qualityReportJSON(), to: out)
    }
}

/// Export format (vdr_annotations_export): COCO detection JSON, one file.
public let VDR_EXPORT_COCO: Int32 = 0
/// Export format: YOLO label files (`<image_id>.txt` per image and classes.txt) in a folder.
public let VDR_EXPORT_YOLO: Int32 = 1
/// Export format: a Kaggle submission CSV, one file.
public let VDR_EXPORT_SUBMISSION: Int32 = 2
/// Export classes: the 14 Kaggle finding classes (ids 0-13; COCO category ids 1-14).
public let VDR_EXPORT_CLASSES_KAGGLE: Int32 = 0
/// Export classes: the 22 local labels of the taxonomy (ids 0-21; COCO category ids 1-22).
public let VDR_EXPORT_CLASSES_LOCAL: Int32 = 1

/// Writes the index's boxes for a training tool (VDR_EXPORT_*) to `path`: a file for COCO and
/// submissions, a folder (created when missing) for YOLO, which needs every image's size
/// (vdr_annotations_set_image_size, vdr_annotations_load_image_sizes). `mode` is VDR_TARGETS_ALL
/// or VDR_TARGETS_FUSED (the consensus rules of vdr_annotations_labels with `min_votes`, boxes
/// fused by weighted boxes fusion at `iou_thr`); `classes` VDR_EXPORT_CLASSES_*; `reader` (NULL = all) and
/// `exclude` (NULL or comma-separated rad_ids) select readers. Files are written atomically.
@c public func vdr_annotations_export(_ h: UnsafeMutablePointer<vdr_annotations>?, _ format: Int32, _ mode: Int32, _ iou_thr: Double, _ classes: Int32,
                                      _ min_votes: Int32, _ reader: UnsafePointer<CChar>?, _ exclude: UnsafePointer<CChar>?,
                                      _ path: UnsafePointer<CChar>?) -> Int32 {
    abiCall {
        let index = try AnnotationIndex.from(h)
        let path = try requireString(path, "path")
        let options = try exportOptions(mode, iou_thr, classes, min_votes, reader, exclude)
        switch format {
        case VDR_EXPORT_COCO: try FileSystem.writeAtomically(try Export.coco(index, options).utf8, to: path)
        case VDR_EXPORT_SUBMISSION: try FileSystem.writeAtomically(try Export.submission(index, options).utf8, to: path)
        case VDR_EXPORT_YOLO:
            let files = try Export.yolo(index, options)
            try FileSystem.createDirectories(path)
            for file in files { try FileSystem.writeAtomically(file.text.utf8, to: FileSystem.joined(path, file.name)) }
        default: throw VinDrError(.argument, "unknown export format \(format)")
        }
    }
}

/// Export.Options from the C arguments shared by the export calls: VDR_TARGETS_* `mode`, the
/// fusion IoU, VDR_EXPORT_CLASSES_*, `min_votes` >= 1 and the reader selection.
func exportOptions(_ mode: Int32, _ iou: Double, _ classes: Int32, _ minVotes: Int32, _ reader: UnsafePointer<CChar>?,
                   _ exclude: UnsafePointer<CChar>?) throws -> Export.Options {
    guard minVotes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1") }
    var options = Export.Options(filter: readerFilter(reader, exclude), minimumVotes: Int(minVotes))
    switch mode {
    case VDR_TARGETS_ALL: options.boxes = .all
    case VDR_TARGETS_FUSED: options.boxes = .fused(iouThreshold: iou, confidenceType: .avg)
    default: throw VinDrError(.argument, "unknown targets mode \(mode)")
    }
    switch classes {
    case VDR_EXPORT_CLASSES_KAGGLE: options.classes = .kaggle
    case VDR_EXPORT_CLASSES_LOCAL: options.classes = .local
    default: throw VinDrError(.argument, "unknown export classes \(classes)")
    }
    return options
}

/// Sets image sizes from a CSV with image_id,width,height or Kaggle's image_id,dim0,dim1 columns
/// (images not in the index are ignored); `out_count` (may be NULL) receives how many were set.
@c public func vdr_annotations_load_image_sizes(_ h: UnsafeMutablePointer<vdr_annotations>?, _ path: UnsafePointer<CChar>?,
                                                _ out_count: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let count = try Export.loadImageSizes(try requireString(path, "path"), into: AnnotationIndex.from(h))
        out_count?.pointee = UInt(count)
    }
}

/// Seeded, label-stratified split of the index's images (iterative multi-label stratification,
/// Sechidis et al. 2011, on the consensus labels of vdr_annotations_labels with `min_votes`,
/// `reader` and `exclude`): give exactly one of `folds` (k >= 2, at most the image count; folds
/// 0..k-1) and `validation` (a fraction in (0, 1); fold 0 is train, 1 validation), the other 0.
/// Ties are broken by SplitMix64 from `seed`, after ordering the images by image_id, so a seed gives
/// the same folds on every platform. out_folds[i] receives the fold of image i in index order
/// (vdr_annotations_image_id); `capacity` is its length in elements (at least the image count).
@c public func vdr_annotations_split(_ h: UnsafeMutablePointer<vdr_annotations>?, _ folds: UInt, _ validation: Double, _ seed: UInt64,
                                     _ min_votes: Int32, _ reader: UnsafePointer<CChar>?, _ exclude: UnsafePointer<CChar>?,
                                     _ out_folds: UnsafeMutablePointer<Int32>?, _ capacity: UInt) -> Int32 {
    abiCall {
        let index = try AnnotationIndex.from(h)
        let shape = try SplitShape(folds: try count(folds, "folds"), validation: validation)
        let assigned = try index.split(shape, seed: seed, minimumVotes: Int(min_votes), filter: readerFilter(reader, exclude))
        let o = try require(out_folds, "out_folds")
        let room = try count(capacity, "capacity")
        guard room >= assigned.count else {
            throw VinDrError(.bufferTooSmall, "out_folds: capacity \(room) is less than the \(assigned.count) images")
        }
        for (i, fold) in assigned.enumerated() { o[i] = Int32(fold) }
    }
}
