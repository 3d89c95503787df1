import VinDrAnnotations
import VinDrBoxes

// C ABI of the detection metric: the VinBigData competition score (PASCAL VOC 2010 all-point AP
// at IoU > threshold, mean over the classes present in the ground truth) and a COCO-style
// 101-point variant, from files or from arrays.

/// AP interpolation: PASCAL VOC 2010 all-point (the competition's metric).
public let VDR_AP_VOC2010: Int32 = 0
/// AP interpolation: COCO 101-point, pycocotools matching, at one IoU threshold.
public let VDR_AP_COCO101: Int32 = 1

/// Ground truth: every row as given (test consensus; on train.csv every reader's boxes).
public let VDR_GT_AS_GIVEN: Int32 = 0
/// Ground truth: one reader's rows (the `reader` argument).
public let VDR_GT_READER: Int32 = 1
/// Ground truth: the consensus rules ("No finding" by strict majority, else labels given by
/// `min_votes` readers with their boxes fused by weighted boxes fusion at `fuse_iou_thr`).
public let VDR_GT_FUSED: Int32 = 2

/// Number of Kaggle classes (0..13 findings, 14 "No finding").
public let VDR_KAGGLE_CLASS_COUNT: Int32 = 15

private func interpolation(_ code: Int32) throws -> APInterpolation {
    switch code {
    case VDR_AP_VOC2010: return .voc2010
    case VDR_AP_COCO101: return .coco101
    default: throw VinDrError(.argument, "interpolation \(code) is not one of VDR_AP_*")
    }
}

/// Scores a Kaggle submission file against a ground-truth CSV (Kaggle train.csv or PhysioNet
/// annotations_test.csv layout). gt_mode is VDR_GT_*; `reader` is used with VDR_GT_READER,
/// `fuse_iou_thr` and `min_votes` with VDR_GT_FUSED; `missing` (VDR_MISSING_*) decides what ground-truth
/// images without a submission row do: ERROR fails naming them, SKIP leaves them out, EMPTY scores them
/// as images without predictions.
/// Writes the mean AP (NaN when the ground truth is empty) and, when not NULL, out_ap[15]
/// (AP per Kaggle class, NaN for classes absent from the ground truth) and out_gt_counts[15].
@c public func vdr_evaluate_files(_ gt_path: UnsafePointer<CChar>?, _ pred_path: UnsafePointer<CChar>?, _ gt_mode: Int32,
                                       _ reader: UnsafePointer<CChar>?, _ fuse_iou_thr: Double, _ min_votes: Int32,
                                       _ iou_thr: Double, _ interp: Int32, _ missing: Int32,
                                       _ out_mean_ap: UnsafeMutablePointer<Double>?, _ out_ap: UnsafeMutablePointer<Double>?,
                                       _ out_gt_counts: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let gt = try requireString(gt_path, "gt_path")
        let pred = try requireString(pred_path, "pred_path")
        let mode = try interpolation(interp)
        let out = try require(out_mean_ap, "out_mean_ap")
        let readers = try groundTruthReaders(gt_mode, reader, fuse_iou_thr, min_votes)
        let policy = try missingImages(missing)
        let index = try AnnotationIndex(paths: [gt])
        let r = try index.evaluate(try Submission(path: pred), readers: readers, iouThreshold: iou_thr, interpolation: mode,
                                   missing: policy)
        writeEvaluation(r.evaluation, classes: Int(VDR_KAGGLE_CLASS_COUNT), out, out_ap, out_gt_counts)
    }
}

/// AP per class from arrays. Ground truth: n_gt boxes (x_min, y_min, x_max, y_max) with image
/// index (0..n_images-1) and label (0..n_labels-1); detections likewise plus scores. Writes the
/// mean over labels present in the ground truth and, when not NULL, out_ap[n_labels] (NaN for
/// labels without ground truth).
@c public func vdr_evaluate(_ gt_image: UnsafePointer<Int64>?, _ gt_label: UnsafePointer<Int64>?, _ gt_boxes: UnsafePointer<Double>?,
                            _ n_gt: UInt, _ det_image: UnsafePointer<Int64>?, _ det_label: UnsafePointer<Int64>?,
                            _ det_scores: UnsafePointer<Double>?, _ det_boxes: UnsafePointer<Double>?, _ n_det: UInt,
                            _ n_images: UInt, _ n_labels: UInt, _ iou_thr: Double, _ interp: Int32,
                            _ out_mean_ap: UnsafeMutablePointer<Double>?, _ out_ap: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let mode = try interpolation(interp)
        let out = try require(out_mean_ap, "out_mean_ap")
        let a = try detectionArrays(gt_image, gt_label, gt_boxes, n_gt, det_image, det_label, det_scores, det_boxes, n_det, n_images, n_labels)
        let e = try evaluateDetections(groundTruth: a.gt, detections: a.dets, imageCount: a.images, iouThreshold: iou_thr, interpolation: mode)
        writeEvaluation(e, classes: a.labels, out, out_ap, nil)
    }
}

/// Number of COCO summary numbers (vdr_coco_evaluate): AP@[.5:.95], AP50, AP75, AP small,
/// medium, large, AR@1, AR@10, AR@100, AR small, medium, large (pycocotools' COCOeval.stats).
public let VDR_COCO_STAT_COUNT: Int32 = 12

/// The COCO detection summary from arrays (the layout of vdr_evaluate): pycocotools COCOeval's
/// bbox rules, every label 0..n_labels-1 evaluated, no crowd boxes. Writes out_stats[12]
/// (VDR_COCO_STAT_COUNT; -1 where nothing was scored) and, when not NULL, out_category_ap[n_labels]
/// (AP@[.5:.95] per label, -1 for labels without ground truth).
@c public func vdr_coco_evaluate(_ gt_image: UnsafePointer<Int64>?, _ gt_label: UnsafePointer<Int64>?, _ gt_boxes: UnsafePointer<Double>?,
                                 _ n_gt: UInt, _ det_image: UnsafePointer<Int64>?, _ det_label: UnsafePointer<Int64>?,
                                 _ det_scores: UnsafePointer<Double>?, _ det_boxes: UnsafePointer<Double>?, _ n_det: UInt,
                                 _ n_images: UInt, _ n_labels: UInt, _ out_stats: UnsafeMutablePointer<Double>?,
                                 _ out_category_ap: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let out = try require(out_stats, "out_stats")
        let a = try detectionArrays(gt_image, gt_label, gt_boxes, n_gt, det_image, det_label, det_scores, det_boxes, n_det, n_images, n_labels)
        let e = try COCOEvaluation.evaluate(groundTruth: a.gt, detections: a.dets, imageCount: a.images, categoryCount: a.labels)
        writeCOCO(e, out, out_category_ap)
    }
}

/// The COCO summary of a Kaggle submission file over the 15 Kaggle classes, with the ground
/// truth, `gt_mode`, `reader`, `fuse_iou_thr`, `min_votes` and `missing` of vdr_evaluate_files.
/// Writes out_stats[12] and, when not NULL, out_category_ap[15] (-1 for classes absent from the
/// ground truth).
@c public func vdr_coco_evaluate_files(_ gt_path: UnsafePointer<CChar>?, _ pred_path: UnsafePointer<CChar>?, _ gt_mode: Int32,
                                       _ reader: UnsafePointer<CChar>?, _ fuse_iou_thr: Double, _ min_votes: Int32, _ missing: Int32,
                                       _ out_stats: UnsafeMutablePointer<Double>?, _ out_category_ap: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let gt = try requireString(gt_path, "gt_path")
        let pred = try requireString(pred_path, "pred_path")
        let out = try require(out_stats, "out_stats")
        let readers = try groundTruthReaders(gt_mode, reader, fuse_iou_thr, min_votes)
        let policy = try missingImages(missing)
        let r = try AnnotationIndex(paths: [gt]).evaluateCOCO(try Submission(path: pred), readers: readers, missing: policy)
        writeCOCO(r.evaluation, out, out_category_ap)
    }
}

/// VDR_GT_* with its reader and fusion settings, checked.
private func groundTruthReaders(_ mode: Int32, _ reader: UnsafePointer<CChar>?, _ fuseIoU: Double, _ minVotes: Int32) throws -> GroundTruthReaders {
    switch mode {
    case VDR_GT_AS_GIVEN: return .asGiven
    case VDR_GT_READER: return .reader(try requireString(reader, "reader"))
    case VDR_GT_FUSED:
        guard fuseIoU.isFinite, fuseIoU >= 0, fuseIoU <= 1 else {
            throw VinDrError(.argument, "fuse_iou_thr \(fuseIoU) must be in [0, 1]")
        }
        guard minVotes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1") }
        return .fused(iouThreshold: fuseIoU, minimumVotes: Int(minVotes))
    default: throw VinDrError(.argument, "gt_mode \(mode) is not one of VDR_GT_*")
    }
}

/// Ground truth and detections from the caller's columns (vdr_evaluate's layout), every count,
/// pointer, image index and label checked before use.
private func detectionArrays(_ gt_image: UnsafePointer<Int64>?, _ gt_label: UnsafePointer<Int64>?, _ gt_boxes: UnsafePointer<Double>?,
                             _ n_gt: UInt, _ det_image: UnsafePointer<Int64>?, _ det_label: UnsafePointer<Int64>?,
                             _ det_scores: UnsafePointer<Double>?, _ det_boxes: UnsafePointer<Double>?, _ n_det: UInt,
                             _ n_images: UInt, _ n_labels: UInt) throws -> (gt: [GroundTruthBox], dets: [ScoredBox], images: Int, labels: Int) {
    let images = try scaledCount(n_images, by: 1, "n_images")
    // n_labels sizes the per-label outputs: bounded before anything loops over it (ABIChecks.swift).
    let labels = try scaledCount(n_labels, by: MemoryLayout<Double>.size, "n_labels") / MemoryLayout<Double>.size
    let g = try scaledCount(n_gt, by: 1, "n_gt"), d = try scaledCount(n_det, by: 1, "n_det")
    let (gi, gl) = (try buffer(gt_image, g, "gt_image"), try buffer(gt_label, g, "gt_label"))
    let gb = try boxArray(gt_boxes, n_gt, "gt_boxes")
    let (di, dl, ds) = (try buffer(det_image, d, "det_image"), try buffer(det_label, d, "det_label"), try buffer(det_scores, d, "det_scores"))
    let db = try boxArray(det_boxes, n_det, "det_boxes")
    func label(_ v: Int64, _ what: String) throws -> Int {
        guard v >= 0, v < Int64(labels) else { throw VinDrError(.argument, "\(what) label \(v) outside 0..<\(labels)") }
        return Int(v)
    }
    func image(_ v: Int64, _ what: String) throws -> Int {
        guard v >= 0, v < Int64(images) else { throw VinDrError(.argument, "\(what) image \(v) outside 0..<\(images)") }
        return Int(v)
    }
    var gt = [GroundTruthBox]()
    gt.reserveCapacity(g)
    for k in 0..<g { gt.append(GroundTruthBox(image: try image(gi[k], "gt"), label: try label(gl[k], "gt"), box: gb[k])) }
    var dets = [ScoredBox]()
    dets.reserveCapacity(d)
    for k in 0..<d {
        dets.append(ScoredBox(image: try image(di[k], "detection"), label: try label(dl[k], "detection"), score: ds[k], box: db[k]))
    }
    return (gt, dets, images, labels)
}

/// out_stats[12], then the optional per-category AP.
private func writeCOCO(_ e: COCOEvaluation, _ out_stats: UnsafeMutablePointer<Double>, _ out_category_ap: UnsafeMutablePointer<Double>?) {
    for (i, v) in e.stats.enumerated() { out_stats[i] = v }
    if let out_category_ap { for (i, v) in e.categoryAP.enumerated() { out_category_ap[i] = v } }
}

/// Writes the optional per-class outputs only when given: NaN / 0, then the classes scored.
private func writeEvaluation(_ e: DetectionEvaluation, classes: Int, _ out_mean_ap: UnsafeMutablePointer<Double>,
                             _ out_ap: UnsafeMutablePointer<Double>?, _ out_gt_counts: UnsafeMutablePointer<UInt>?) {
    out_mean_ap.pointee = e.meanAP ?? .nan
    if let out_ap {
        out_ap.update(repeating: .nan, count: classes)
        for (c, ap) in e.ap where c >= 0 && c < classes { out_ap[c] = ap }
    }
    if let out_gt_counts {
        out_gt_counts.update(repeating: 0, count: classes)
        for (c, n) in e.groundTruthCounts where c >= 0 && c < classes { out_gt_counts[c] = UInt(n) }
    }
}
