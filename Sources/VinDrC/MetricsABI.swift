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
/// Ground truth: readers' boxes fused per image by weighted boxes fusion at `fuse_iou`.
public let VDR_GT_FUSED: Int32 = 2

/// Number of Kaggle classes (0..13 findings, 14 "No finding").
public let VDR_KAGGLE_CLASS_COUNT: Int32 = 15

private func interpolation(_ code: Int32) throws -> APInterpolation {
    switch code {
    case VDR_AP_VOC2010: return .voc2010
    case VDR_AP_COCO101: return .coco101
    default: throw ABIError(status: VDR_ERR_ARGUMENT, message: "interpolation \(code) is not one of VDR_AP_*")
    }
}

/// Scores a Kaggle submission file against a ground-truth CSV (Kaggle train.csv or PhysioNet
/// annotations_test.csv layout). gt_mode is VDR_GT_*; `reader` is used with VDR_GT_READER.
/// Writes the mean AP (NaN when the ground truth is empty) and, when not NULL, out_ap[15]
/// (AP per Kaggle class, NaN for classes absent from the ground truth) and out_gt_counts[15].
@c public func vdr_evaluate_files(_ gtPath: UnsafePointer<CChar>?, _ predPath: UnsafePointer<CChar>?, _ gtMode: Int32,
                                  _ reader: UnsafePointer<CChar>?, _ fuseIou: Double, _ iouThr: Double, _ interp: Int32,
                                  _ outMeanAP: UnsafeMutablePointer<Double>?, _ outAP: UnsafeMutablePointer<Double>?,
                                  _ outGTCounts: UnsafeMutablePointer<Int64>?) -> Int32 {
    abiCall {
        let gt = try requiredString(gtPath, "gt_path")
        let pred = try requiredString(predPath, "pred_path")
        let mode = try interpolation(interp)
        let out = try required(outMeanAP, "out_map")
        let readers: GroundTruthReaders
        switch gtMode {
        case VDR_GT_AS_GIVEN: readers = .asGiven
        case VDR_GT_READER: readers = .reader(try requiredString(reader, "reader"))
        case VDR_GT_FUSED:
            guard fuseIou.isFinite, fuseIou >= 0, fuseIou <= 1 else {
                throw ABIError(status: VDR_ERR_ARGUMENT, message: "fuse_iou \(fuseIou) must be in [0, 1]")
            }
            readers = .fused(iouThreshold: fuseIou)
        default: throw ABIError(status: VDR_ERR_ARGUMENT, message: "gt_mode \(gtMode) is not one of VDR_GT_*")
        }
        let index = try AnnotationIndex(paths: [gt])
        let r = try index.evaluate(try Submission(path: pred), readers: readers, iouThreshold: iouThr, interpolation: mode)
        writeEvaluation(r.evaluation, classes: Int(VDR_KAGGLE_CLASS_COUNT), out, outAP, outGTCounts)
    }
}

/// AP per class from arrays. Ground truth: n_gt boxes (x_min, y_min, x_max, y_max) with image
/// index (0..n_images-1) and label (0..n_labels-1); detections likewise plus scores. Writes the
/// mean over labels present in the ground truth and, when not NULL, out_ap[n_labels] (NaN for
/// labels without ground truth).
@c public func vdr_evaluate(_ gtImage: UnsafePointer<Int64>?, _ gtLabel: UnsafePointer<Int64>?, _ gtBoxes: UnsafePointer<Double>?,
                            _ nGT: UInt, _ detImage: UnsafePointer<Int64>?, _ detLabel: UnsafePointer<Int64>?,
                            _ detScores: UnsafePointer<Double>?, _ detBoxes: UnsafePointer<Double>?, _ nDet: UInt,
                            _ nImages: UInt, _ nLabels: UInt, _ iouThr: Double, _ interp: Int32,
                            _ outMeanAP: UnsafeMutablePointer<Double>?, _ outAP: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let mode = try interpolation(interp)
        let out = try required(outMeanAP, "out_map")
        let images = try scaledCount(nImages, by: 1, "n_images")
        let labels = try scaledCount(nLabels, by: 1, "n_labels")
        let g = try scaledCount(nGT, by: 1, "n_gt"), d = try scaledCount(nDet, by: 1, "n_det")
        let (gi, gl) = (try buffer(gtImage, g, "gt_image"), try buffer(gtLabel, g, "gt_label"))
        let gb = try boxArray(gtBoxes, nGT, "gt_boxes")
        let (di, dl, ds) = (try buffer(detImage, d, "det_image"), try buffer(detLabel, d, "det_label"), try buffer(detScores, d, "det_scores"))
        let db = try boxArray(detBoxes, nDet, "det_boxes")
        func label(_ v: Int64, _ what: String) throws -> Int {
            guard v >= 0, v < Int64(labels) else { throw ABIError(status: VDR_ERR_ARGUMENT, message: "\(what) label \(v) outside 0..<\(labels)") }
            return Int(v)
        }
        func image(_ v: Int64, _ what: String) throws -> Int {
            guard v >= 0, v < Int64(images) else { throw ABIError(status: VDR_ERR_ARGUMENT, message: "\(what) image \(v) outside 0..<\(images)") }
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
        let e = try evaluateDetections(groundTruth: gt, detections: dets, imageCount: images, iouThreshold: iouThr, interpolation: mode)
        writeEvaluation(e, classes: labels, out, outAP, nil)
    }
}

private func writeEvaluation(_ e: DetectionEvaluation, classes: Int, _ outMeanAP: UnsafeMutablePointer<Double>,
                             _ outAP: UnsafeMutablePointer<Double>?, _ outGTCounts: UnsafeMutablePointer<Int64>?) {
    outMeanAP.pointee = e.meanAP ?? .nan
    for c in 0..<classes {
        outAP?[c] = e.ap[c] ?? .nan
        outGTCounts?[c] = Int64(e.groundTruthCounts[c] ?? 0)
    }
}
