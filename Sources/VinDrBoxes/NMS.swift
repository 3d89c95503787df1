#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Greedy non-maximum suppression of one class. Visits boxes by descending score and keeps a box
/// unless its IoU with an already kept box exceeds `iouThreshold` (a box with IoU equal to the
/// threshold survives, as in ensemble-boxes and torchvision). Returns kept indices, best first.
public func nms(boxes: [Box], scores: [Double], iouThreshold: Double) throws -> [Int] {
    guard boxes.count == scores.count else {
        throw VinDrError(.argument, "\(boxes.count) boxes but \(scores.count) scores")
    }
    try Box.validate(boxes)
    if let i = scores.firstIndex(where: { !$0.isFinite }) { throw VinDrError(.argument, "scores[\(i)] is not finite") }
    guard iouThreshold.isFinite else { throw VinDrError(.argument, "iou_thr must be finite") }
    return greedyNMS(boxes, scores, nil, iouThreshold)
}

/// Class-aware NMS: suppression only between boxes of the same label. Returns kept indices
/// grouped by ascending label, best score first within a label.
public func nms(_ detections: Detections, iouThreshold: Double) throws -> [Int] {
    try Box.validate(detections.boxes)
    if let i = detections.scores.firstIndex(where: { !$0.isFinite }) { throw VinDrError(.argument, "scores[\(i)] is not finite") }
    guard iouThreshold.isFinite else { throw VinDrError(.argument, "iou_thr must be finite") }
    return greedyNMS(detections.boxes, detections.scores, detections.labels, iouThreshold)
}

/// Soft-NMS decay functions (Bodla et al., 2017) as in ensemble-boxes' `soft_nms` methods 1 and 2.
public enum SoftNMSMethod: Int, Sendable {
    /// Scores of boxes with IoU > `iouThreshold` are multiplied by `1 - IoU`.
    case linear = 1
    /// Every score is multiplied by `exp(-IoU^2 / sigma)`.
    case gaussian = 2
}

/// The result of an ensemble-style call over several models' predictions.
public struct EnsembleResult: Equatable, Sendable {
    /// Kept boxes (after ensemble-boxes' input repair), their scores and labels, grouped by
    /// ascending label and in selection order within a label.
    public var detections: Detections
    /// For each kept box, its index in the concatenation of all models' inputs.
    public var sourceIndices: [Int]
    /// Soft-NMS only: each kept box's decayed score (ensemble-boxes reports the undecayed
    /// `detections.scores` and uses these only to select).
    public var decayedScores: [Double]
    /// What the input repair changed.
    public var adjustments: InputAdjustments
}

/// ensemble-boxes 1.0.9 `nms(boxes_list, scores_list, labels_list, iou_thr, weights)`: scores are
/// scaled by `weight / sum(weights)` when weights are given, coordinates clamped to [0, 1] and
/// zero-area boxes dropped (both counted in `adjustments`), then NMS runs per label.
public func ensembleNMS(_ models: [Detections], weights: [Double]? = nil, iouThreshold: Double = 0.5) throws -> EnsembleResult {
    try ensembleNMS(FusionInput(models), models: models.count, weights: weights, iouThreshold: iouThreshold)
}

/// `ensembleNMS` over every model's boxes in one flat list (`input.models` tags each box).
public func ensembleNMS(_ input: FusionInput, models: Int, weights: [Double]? = nil, iouThreshold: Double = 0.5) throws -> EnsembleResult {
    let (prepared, kept) = try ensembleNMSKept(input, models: models, weights: weights, iouThreshold: iouThreshold)
    var result = EnsembleResult(capacity: kept.count, adjustments: prepared.adjustments)
    for k in kept { result.append(prepared, k, decayed: prepared.scores[k]) }
    return result
}

/// `ensembleNMS` as the prepared input and the positions in it of the kept boxes, for callers
/// that write the result out themselves (the C ABI).
package func ensembleNMSKept(_ input: FusionInput, models: Int, weights: [Double]?,
                             iouThreshold: Double) throws -> (PreparedEnsembleInput, [Int]) {
    guard iouThreshold.isFinite else { throw VinDrError(.argument, "iou_thr must be finite") }
    let prepared = try PreparedEnsembleInput(input, models: models, weights: weights)
    return (prepared, greedyNMS(prepared.boxes, prepared.scores, prepared.labels, iouThreshold))
}

/// ensemble-boxes 1.0.9 `soft_nms(boxes_list, scores_list, labels_list, method, iou_thr, sigma,
/// thresh, weights)`: same input repair as `ensembleNMS`, then per label the soft-NMS loop of
/// `cpu_soft_nms_float` (repeatedly bring the best remaining decayed score forward, decay the
/// rest), keeping boxes whose decayed score ends above `threshold`.
public func ensembleSoftNMS(_ models: [Detections], weights: [Double]? = nil, method: SoftNMSMethod = .gaussian,
                            iouThreshold: Double = 0.5, sigma: Double = 0.5, threshold: Double = 0.001) throws -> EnsembleResult {
    try ensembleSoftNMS(FusionInput(models), models: models.count, weights: weights, method: method,
                        iouThreshold: iouThreshold, sigma: sigma, threshold: threshold)
}

/// `ensembleSoftNMS` over every model's boxes in one flat list (`input.models` tags each box).
public func ensembleSoftNMS(_ input: FusionInput, models: Int, weights: [Double]? = nil, method: SoftNMSMethod = .gaussian,
                            iouThreshold: Double = 0.5, sigma: Double = 0.5, threshold: Double = 0.001) throws -> EnsembleResult {
    guard iouThreshold.isFinite, threshold.isFinite else { throw VinDrError(.argument, "iou_thr and thresh must be finite") }
    guard sigma.isFinite, sigma > 0 else { throw VinDrError(.argument, "sigma must be finite and positive, got \(sigma)") }
    let prepared = try PreparedEnsembleInput(input, models: models, weights: weights)
    var result = EnsembleResult(capacity: prepared.boxes.count, adjustments: prepared.adjustments)
    for group in groupsByAscendingLabel(prepared.labels) {
        let kept = softNMS(group.map { prepared.boxes[$0] }, group.map { prepared.scores[$0] }, method: method,
                           iouThreshold: iouThreshold, sigma: sigma, threshold: threshold)
        for (k, decayed) in kept { result.append(prepared, group[k], decayed: decayed) }
    }
    return result
}

extension EnsembleResult {
    fileprivate init(capacity: Int, adjustments: InputAdjustments) {
        detections = Detections()
        detections.boxes.reserveCapacity(capacity)
        detections.scores.reserveCapacity(capacity)
        detections.labels.reserveCapacity(capacity)
        sourceIndices = []
        sourceIndices.reserveCapacity(capacity)
        decayedScores = []
        decayedScores.reserveCapacity(capacity)
        self.adjustments = adjustments
    }

    fileprivate mutating func append(_ input: PreparedEnsembleInput, _ i: Int, decayed: Double) {
        detections.append(input.boxes[i], score: input.scores[i], label: input.labels[i])
        sourceIndices.append(input.source[i])
        decayedScores.append(decayed)
    }
}

/// All models' predictions concatenated, weighted and repaired as ensemble-boxes'
/// `nms_method` + `prepare_boxes` do.
package struct PreparedEnsembleInput {
    package private(set) var boxes: [Box] = []
    package private(set) var scores: [Double] = []
    package private(set) var labels: [Int] = []
    /// Each box's position in the input.
    package private(set) var source: [Int] = []
    package private(set) var adjustments = InputAdjustments()

    init(_ input: FusionInput, models: Int, weights: [Double]?) throws {
        let w = try weights.map { try validatedWeights($0, models: models) }
        let total = w.map(numpySum)
        let n = input.count
        // Filled in place (the arrays are sized for every box, then trimmed to those kept).
        var kept = 0
        var failure: VinDrError?
        var adjustments = InputAdjustments()
        boxes = [Box](unsafeUninitializedCapacity: n) { boxes, boxCount in
        scores = [Double](unsafeUninitializedCapacity: n) { scores, scoreCount in
        labels = [Int](unsafeUninitializedCapacity: n) { labels, labelCount in
        source = [Int](unsafeUninitializedCapacity: n) { source, sourceCount in
            for i in 0..<n {
                let m = input.models[i]
                guard m >= 0, m < models else { failure = VinDrError(.argument, "box \(i): model \(m) outside 0..<\(models)"); break }
                let raw = input.boxes[i], score = input.scores[i]
                guard raw.x1.isFinite, raw.y1.isFinite, raw.x2.isFinite, raw.y2.isFinite, score.isFinite else {
                    failure = VinDrError(.argument, "box \(i) \(raw) or its score \(score) is not finite")
                    break
                }
                guard let b = adjustments.repair(raw) else { continue }
                boxes[kept] = b
                if let w, let total { scores[kept] = score * w[m] / total } else { scores[kept] = score }
                labels[kept] = input.labels[i]
                source[kept] = i
                kept += 1
            }
            sourceCount = kept
        }
            labelCount = kept
        }
            scoreCount = kept
        }
            boxCount = kept
        }
        if let failure { throw failure }
        self.adjustments = adjustments
    }
}

/// Index groups per distinct label, labels ascending, input order within a group.
func groupsByAscendingLabel(_ labels: [Int]) -> [[Int]] {
    let order = labels.indices.sorted { labels[$0] < labels[$1] || (labels[$0] == labels[$1] && $0 < $1) }
    var groups = [[Int]]()
    var start = 0
    while start < order.count {
        var end = start + 1
        while end < order.count && labels[order[end]] == labels[order[start]] { end += 1 }
        groups.append(Array(order[start..<end]))
        start = end
    }
    return groups
}

/// The greedy loop shared by the NMS entry points; inputs already validated. Visits boxes by
/// ascending label, then descending score (equal scores in reverse input order, as
/// `argsort()[::-1]` gives them), and suppresses only within a label (`labels` nil: one class).
/// Returns kept indices in visiting order.
func greedyNMS(_ boxes: [Box], _ scores: [Double], _ labels: [Int]?, _ threshold: Double) -> [Int] {
    let n = boxes.count
    let labels = labels ?? [Int](repeating: 0, count: n)
    let order = visitingOrder(labels, scores)
    let sorted = order.map { boxes[$0] }  // boxes in visiting order: the inner loop reads them in sequence
    var suppressed = [Bool](repeating: false, count: n)
    var keep = [Int]()
    keep.reserveCapacity(n)
    sorted.withUnsafeBufferPointer { box in
    labels.withUnsafeBufferPointer { label in
        order.withUnsafeBufferPointer { order in
        suppressed.withUnsafeMutableBufferPointer { suppressed in
            var start = 0
            while start < n {
                var end = start + 1
                while end < n && label[order[end]] == label[order[start]] { end += 1 }
                for r in start..<end where !suppressed[r] {
                    let bi = box[r]
                    keep.append(order[r])
                    for q in (r + 1)..<max(r + 1, end) where !suppressed[q] && iouExceeds(bi, box[q], threshold) {
                        suppressed[q] = true
                    }
                }
                start = end
            }
        }
        }
    }
    }
    return keep
}

/// Indices by ascending label, then descending score, equal scores in reverse input order.
/// Labels spanning a small range with few boxes each (detector outputs: a few dozen boxes per
/// class) are bucketed by counting and each bucket sorted by insertion; anything else takes a
/// comparison sort.
func visitingOrder(_ labels: [Int], _ scores: [Double]) -> [Int] {
    let n = labels.count
    guard let low = labels.min(), let high = labels.max() else { return [] }
    let (span, overflow) = high.subtractingReportingOverflow(low)
    var start = [Int](repeating: 0, count: !overflow && span < 4 * n + 64 ? span + 2 : 0)
    if !start.isEmpty {
        for l in labels { start[l - low + 1] += 1 }
    }
    guard !start.isEmpty, start.max()! <= 64 else {
        return (0..<n).sorted { a, b in
            if labels[a] != labels[b] { return labels[a] < labels[b] }
            if scores[a] != scores[b] { return scores[a] > scores[b] }
            return a > b
        }
    }
    for k in 0...span { start[k + 1] += start[k] }
    var order = [Int](repeating: 0, count: n)
    scores.withUnsafeBufferPointer { score in
    order.withUnsafeMutableBufferPointer { order in
        var fill = start
        for i in 0..<n {
            // Insert i into its bucket, which holds earlier indices best first.
            let bucket = labels[i] - low
            var j = fill[bucket]
            fill[bucket] += 1
            while j > start[bucket] && !(score[order[j - 1]] > score[i]) {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = i
        }
    }
    }
    return order
}

/// `cpu_soft_nms_float` of one label group: returns (index, decayed score) of kept boxes in
/// selection order.
func softNMS(_ boxes: [Box], _ scores: [Double], method: SoftNMSMethod, iouThreshold: Double,
             sigma: Double, threshold: Double) -> [(Int, Double)] {
    let n = boxes.count
    var b = boxes
    var s = scores
    var idx = Array(0..<n)
    for i in 0..<n {
        if i + 1 < n {
            var best = i + 1
            for j in (i + 2)..<max(i + 2, n) where s[j] > s[best] { best = j }
            if s[i] < s[best] {
                b.swapAt(i, best)
                s.swapAt(i, best)
                idx.swapAt(i, best)
            }
        }
        let bi = b[i]
        for j in (i + 1)..<max(i + 1, n) {
            let o = iou(bi, b[j])
            switch method {
            case .linear: if o > iouThreshold { s[j] *= 1 - o }
            case .gaussian: s[j] *= exp(-(o * o) / sigma)
            }
        }
    }
    return (0..<n).filter { s[$0] > threshold }.map { (idx[$0], s[$0]) }
}

/// Integer class codes for ensemble-boxes' float class ids, grouped by exact value as
/// `np.unique` groups them (-0.0 and 0.0 are one class): integral values keep their integer,
/// other sets become each value's first position among the sorted values, so order is kept either way.
/// A non-finite label is a VinDrError naming its position. (Not generic: a generic function of
/// another module runs unspecialized, through value witnesses, several times slower per call.)
public func classCodes(ofLabelValues values: UnsafeBufferPointer<Double>) throws -> [Int] {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
        throw VinDrError(.argument, "labels[\(i)] is not finite")
    }
    let limit = 0x1p62
    if values.allSatisfy({ $0.rounded(.towardZero) == $0 && abs($0) < limit }) {
        return values.map { Int($0) }
    }
    let sorted = values.sorted()
    return values.map { v in
        // Position of the first sorted value >= v: equal values share it.
        var (lo, hi) = (0, sorted.count)
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
