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
        let readers: GroundTruthReaders
        switch gt_mode {
        case VDR_GT_AS_GIVEN: readers = .asGiven
        case VDR_GT_READER: readers = .reader(try requireString(reader, "reader"))
        case VDR_GT_FUSED:
            guard fuse_iou_thr.isFinite, fuse_iou_thr >= 0, fuse_iou_thr <= 1 else {
                throw VinDrError(.argument, "fuse_iou_thr \(fuse_iou_thr) must be in [0, 1]")
            }
            guard min_votes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1") }
            readers = .fused(iouThreshold: fuse_iou_thr, minimumVotes: Int(min_votes))
        default: throw VinDrError(.argument, "gt_mode \(gt_mode) is not one of VDR_GT_*")
        }
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
        let images = try scaledCount(n_images, by: 1, "n_images")
        // n_labels sizes out_ap: bounded before anything loops over it (ABIChecks.swift).
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
        let e = try evaluateDetections(groundTruth: gt, detections: dets, imageCount: images, iouThreshold: iou_thr, interpolation: mode)
        writeEvaluation(e, classes: labels, out, out_ap, nil)
    }
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
