/// How average precision summarises a precision/recall curve.
public enum APInterpolation: String, Sendable {
    /// PASCAL VOC 2010+ all-point interpolation: the area under the monotone precision envelope
    /// (the VinBigData competition metric, with IoU > threshold). Each detection is matched to
    /// the ground-truth box it overlaps most; if that box is already taken it is a false positive.
    case voc2010
    /// COCO-style 101-point interpolation at one IoU threshold, with pycocotools' matching: each
    /// detection takes the best still-unmatched ground-truth box with IoU >= threshold.
    case coco101
}

/// A ground-truth box of one image.
public struct GroundTruthBox: Sendable {
    public var image: Int
    public var label: Int
    public var box: Box
    public init(image: Int, label: Int, box: Box) {
        self.image = image
        self.label = label
        self.box = box
    }
}

/// A scored detection on one image.
public struct ScoredBox: Sendable {
    public var image: Int
    public var label: Int
    public var score: Double
    public var box: Box
    public init(image: Int, label: Int, score: Double, box: Box) {
        self.image = image
        self.label = label
        self.score = score
        self.box = box
    }
}

/// Per-class AP and their mean over the classes present in the ground truth.
public struct DetectionEvaluation: Sendable {
    /// Mean of `ap` (nil when the ground truth has no boxes).
    public var meanAP: Double?
    /// AP per label present in the ground truth (labels without ground truth are not scored).
    public var ap: [Int: Double]
    public var groundTruthCounts: [Int: Int]
    public var detectionCounts: [Int: Int]
}

/// Average precision per class over a set of images (images are `0..<imageCount`).
/// Detections rank by descending score; equal scores keep input order (a stable sort, as
/// pycocotools' mergesort). A class with ground truth but no detections scores 0.
public func evaluateDetections(groundTruth: [GroundTruthBox], detections: [ScoredBox], imageCount: Int,
                               iouThreshold: Double = 0.4, interpolation: APInterpolation = .voc2010) throws -> DetectionEvaluation {
    guard iouThreshold.isFinite, iouThreshold >= 0, iouThreshold <= 1 else {
        throw VinDrError(.argument, "IoU threshold \(iouThreshold) must be in [0, 1]")
    }
    for (i, g) in groundTruth.enumerated() {
        guard g.image >= 0, g.image < imageCount else { throw VinDrError(.argument, "ground truth \(i): image \(g.image) outside 0..<\(imageCount)") }
        _ = try g.box.validated("ground truth \(i)")
    }
    for (i, d) in detections.enumerated() {
        guard d.image >= 0, d.image < imageCount else { throw VinDrError(.argument, "detection \(i): image \(d.image) outside 0..<\(imageCount)") }
        guard d.score.isFinite else { throw VinDrError(.argument, "detection \(i): score \(d.score) is not finite") }
        _ = try d.box.validated("detection \(i)")
    }
    // Ground truth per label, then per image.
    var gtByLabel = [Int: [Int: [Box]]]()
    var gtCounts = [Int: Int]()
    for g in groundTruth {
        gtByLabel[g.label, default: [:]][g.image, default: []].append(g.box)
        gtCounts[g.label, default: 0] += 1
    }
    var detByLabel = [Int: [Int]]()
    for (i, d) in detections.enumerated() { detByLabel[d.label, default: []].append(i) }

    var ap = [Int: Double]()
    for (label, npos) in gtCounts {
        let gts = gtByLabel[label] ?? [:]
        var order = detByLabel[label] ?? []
        // Image order, then descending score, input order among ties.
        order.sort { a, b in
            let (da, db) = (detections[a], detections[b])
            if interpolation == .coco101, da.image != db.image { return da.image < db.image }
            return da.score > db.score || (da.score == db.score && a < b)
        }
        var isTP = [Bool](repeating: false, count: order.count)
        var taken = [Int: [Bool]]()
        for (rank, i) in order.enumerated() {
            let d = detections[i]
            guard let boxes = gts[d.image] else { continue }
            var used = taken[d.image] ?? [Bool](repeating: false, count: boxes.count)
            switch interpolation {
            case .voc2010:
                var best = -1
                var bestIoU = -Double.infinity
                for (k, g) in boxes.enumerated() {
                    let o = iou(d.box, g)
                    if o > bestIoU { bestIoU = o; best = k }
                }
                if best >= 0, bestIoU > iouThreshold, !used[best] { used[best] = true; isTP[rank] = true }
            case .coco101:
                var best = -1
                var bestIoU = Swift.min(iouThreshold, 1 - 1e-10)
                for (k, g) in boxes.enumerated() where !used[k] {
                    let o = iou(d.box, g)
                    if o >= bestIoU { bestIoU = o; best = k }
                }
                if best >= 0 { used[best] = true; isTP[rank] = true }
            }
            taken[d.image] = used
        }
        if interpolation == .coco101 {
            // pycocotools matches per image, then ranks all detections by score (stable).
            let ranked = order.indices.sorted { a, b in
                let (sa, sb) = (detections[order[a]].score, detections[order[b]].score)
                return sa > sb || (sa == sb && a < b)
            }
            isTP = ranked.map { isTP[$0] }
        }
        ap[label] = averagePrecision(isTP, positives: npos, interpolation: interpolation)
    }
    let mean = ap.isEmpty ? nil : ap.keys.sorted().map { ap[$0] ?? 0 }.reduce(0, +) / Double(ap.count)
    return DetectionEvaluation(meanAP: mean, ap: ap, groundTruthCounts: gtCounts,
                               detectionCounts: detByLabel.mapValues(\.count))
}

/// AP of a ranked list of true/false positives against `positives` ground-truth boxes.
func averagePrecision(_ isTP: [Bool], positives: Int, interpolation: APInterpolation) -> Double {
    guard positives > 0 else { return 0 }
    var recall = [Double](), precision = [Double]()
    recall.reserveCapacity(isTP.count)
    precision.reserveCapacity(isTP.count)
    var tp = 0.0, fp = 0.0
    for t in isTP {
        if t { tp += 1 } else { fp += 1 }
        recall.append(tp / Double(positives))
        precision.append(tp / Swift.max(tp + fp, Double.ulpOfOne))
    }
    switch interpolation {
    case .voc2010:
        // mrec = [0, recall..., 1], mpre = [0, precision..., 0]; envelope; sum where recall steps.
        let mrec = [0] + recall + [1]
        var mpre = [0] + precision + [0]
        for i in stride(from: mpre.count - 1, to: 0, by: -1) { mpre[i - 1] = Swift.max(mpre[i - 1], mpre[i]) }
        var ap = 0.0
        for i in 0..<(mrec.count - 1) where mrec[i + 1] != mrec[i] { ap += (mrec[i + 1] - mrec[i]) * mpre[i + 1] }
        return ap
    case .coco101:
        var envelope = precision
        for i in stride(from: envelope.count - 1, to: 0, by: -1) { envelope[i - 1] = Swift.max(envelope[i - 1], envelope[i]) }
        var sum = 0.0
        var k = 0
        for step in 0...100 {
            let threshold = step == 100 ? 1.0 : Double(step) * 0.01  // np.linspace(0, 1, 101)
            while k < recall.count, recall[k] < threshold { k += 1 }
            if k < recall.count { sum += envelope[k] }
        }
        return sum / 101
    }
}
