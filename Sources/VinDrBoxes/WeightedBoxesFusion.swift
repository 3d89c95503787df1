/// How weighted boxes fusion scores a cluster (ensemble-boxes 1.0.9 `conf_type`).
public enum ConfidenceType: String, CaseIterable, Sendable {
    /// Mean weighted score, rescaled by `min(models, boxes) / sum(weights)` (or by
    /// `boxes / sum(weights)` when overflow is allowed).
    case avg
    /// Highest weighted score, divided by the largest weight.
    case max
    /// Mean score over the cluster's boxes, rescaled by the weights of the models present.
    case boxAndModelAvg = "box_and_model_avg"
    /// Weighted mean whose denominator also counts the weights of the models absent from the
    /// cluster.
    case absentModelAwareAvg = "absent_model_aware_avg"
}

/// Options of weighted boxes fusion, with ensemble-boxes' defaults.
public struct FusionOptions: Sendable {
    /// One weight per model; nil means 1 for every model.
    public var weights: [Double]?
    /// A box joins a cluster when its IoU with the cluster's fused box exceeds this.
    public var iouThreshold: Double
    /// Boxes scoring below this are skipped (counted in `InputAdjustments.droppedLowScore`).
    public var skipBoxThreshold: Double
    public var confidenceType: ConfidenceType
    /// With `.avg`, lets a cluster with more boxes than models score above 1.
    public var allowsOverflow: Bool
    /// True (ensemble-boxes' contract): coordinates are normalised, corners may be reversed and
    /// are swapped, out-of-range values are clamped into [0, 1], all counted. False: coordinates
    /// are in any unit (e.g. pixels) and must already be ordered; nothing is clamped.
    public var normalisedCoordinates: Bool

    public init(weights: [Double]? = nil, iouThreshold: Double = 0.55, skipBoxThreshold: Double = 0,
                confidenceType: ConfidenceType = .avg, allowsOverflow: Bool = false, normalisedCoordinates: Bool = true) {
        self.weights = weights
        self.iouThreshold = iouThreshold
        self.skipBoxThreshold = skipBoxThreshold
        self.confidenceType = confidenceType
        self.allowsOverflow = allowsOverflow
        self.normalisedCoordinates = normalisedCoordinates
    }
}

/// Fused boxes (best score first) and what the input repair changed.
public struct FusionResult: Equatable, Sendable {
    public var detections: Detections
    public var adjustments: InputAdjustments
}

/// Weighted boxes fusion (Solovyev et al., 2021) with the exact semantics of ensemble-boxes 1.0.9
/// `weighted_boxes_fusion`: per label, boxes are visited by descending weighted score and each
/// joins the cluster whose current fused box overlaps it most (IoU > `iouThreshold`) or starts a
/// new one; a cluster's fused box is the score-weighted mean of its members, held in float32 as
/// ensemble-boxes does, and its score is rescaled by `confidenceType`. Results are ordered by
/// descending score. Unlike ensemble-boxes, a wrong number of weights is an error, not a reset.
public func weightedBoxesFusion(_ models: [Detections], options: FusionOptions = FusionOptions()) throws -> FusionResult {
    guard options.iouThreshold.isFinite, options.skipBoxThreshold.isFinite else {
        throw BoxError("iou_thr and skip_box_thr must be finite")
    }
    let weights = try validatedWeights(options.weights, models: models.count)
    let fuser = WeightedBoxesFuser(weights: weights, options: options)
    return try fuser.fuse(models)
}

/// One box as ensemble-boxes' `prefilter_boxes` stores it.
private struct Member {
    var score: Double  // score * model weight
    var weight: Double
    var model: Int
    var box: Box
}

/// A cluster and its current fused box.
private struct Cluster {
    var members: [Member]
    var score: Double
    var weight: Double
    var box: Box
}

/// Reusable fusion state; `fuse` can be called for many images with one instance.
struct WeightedBoxesFuser {
    let weights: [Double]
    let options: FusionOptions
    let weightSum: Double
    let maxWeight: Double

    init(weights: [Double], options: FusionOptions) {
        self.weights = weights
        self.options = options
        weightSum = numpySum(weights)
        maxWeight = weights.max() ?? 1
    }

    func fuse(_ models: [Detections]) throws -> FusionResult {
        guard models.count == weights.count else {
            throw BoxError("\(models.count) models but \(weights.count) weights")
        }
        var adjustments = InputAdjustments()
        var labelOrder = [Int]()
        var groups = [Int: [Member]]()
        for (m, d) in models.enumerated() {
            guard d.boxes.count == d.scores.count, d.boxes.count == d.labels.count else {
                throw BoxError("model \(m): \(d.boxes.count) boxes, \(d.scores.count) scores, \(d.labels.count) labels")
            }
            for i in 0..<d.count {
                let score = d.scores[i]
                if score < options.skipBoxThreshold {
                    adjustments.droppedLowScore += 1
                    continue
                }
                let box: Box
                if options.normalisedCoordinates {
                    guard let repaired = adjustments.repair(d.boxes[i]) else { continue }
                    box = repaired
                } else {
                    box = try d.boxes[i].validated("model \(m) box \(i)")
                    if box.area == 0 {
                        adjustments.droppedZeroArea += 1
                        continue
                    }
                }
                let label = d.labels[i]
                if groups[label] == nil { labelOrder.append(label) }
                groups[label, default: []].append(Member(score: score * weights[m], weight: weights[m], model: m, box: box))
            }
        }

        var fusedBoxes = [Box]()
        var fusedScores = [Double]()
        var fusedLabels = [Int]()
        for label in labelOrder {
            guard let members = groups[label] else { continue }
            for c in cluster(members) {
                fusedBoxes.append(c.box)
                fusedScores.append(rescaledScore(c))
                fusedLabels.append(label)
            }
        }
        var out = Detections()
        for i in descendingOrder(fusedScores) {
            out.append(fusedBoxes[i], score: fusedScores[i], label: fusedLabels[i])
        }
        return FusionResult(detections: out, adjustments: adjustments)
    }

    /// Greedy clustering of one label's boxes (ensemble-boxes' `find_matching_box_fast` loop).
    private func cluster(_ members: [Member]) -> [Cluster] {
        var clusters = [Cluster]()
        for i in descendingOrder(members.map(\.score)) {
            let m = members[i]
            var best = -1
            var bestIoU = -Double.infinity
            for (k, c) in clusters.enumerated() {
                let o = iou(c.box, m.box)
                if o > bestIoU { bestIoU = o; best = k }
            }
            if best >= 0, bestIoU > options.iouThreshold {
                clusters[best].members.append(m)
                fuseInPlace(&clusters[best])
            } else {
                clusters.append(Cluster(members: [m], score: m.score, weight: m.weight, box: m.box))
            }
        }
        return clusters
    }

    /// ensemble-boxes' `get_weighted_box`: coordinates accumulate in a float32 buffer (each step
    /// computed in float64, then rounded), confidence and weight sums in float64, and the
    /// results are stored as float32.
    private func fuseInPlace(_ c: inout Cluster) {
        var (x1, y1, x2, y2): (Float, Float, Float, Float) = (0, 0, 0, 0)
        var conf = 0.0
        var weight = 0.0
        var maxScore = -Double.infinity
        for m in c.members {
            x1 = Float(Double(x1) + m.score * m.box.x1)
            y1 = Float(Double(y1) + m.score * m.box.y1)
            x2 = Float(Double(x2) + m.score * m.box.x2)
            y2 = Float(Double(y2) + m.score * m.box.y2)
            conf += m.score
            weight += m.weight
            maxScore = Swift.max(maxScore, m.score)
        }
        c.score = Double(Float(options.confidenceType == .max ? maxScore : conf / Double(c.members.count)))
        c.weight = Double(Float(weight))
        c.box = Box(x1: Double(Float(Double(x1) / conf)), y1: Double(Float(Double(y1) / conf)),
                    x2: Double(Float(Double(x2) / conf)), y2: Double(Float(Double(y2) / conf)))
    }

    /// The final per-cluster confidence rescaling of `weighted_boxes_fusion`.
    private func rescaledScore(_ c: Cluster) -> Double {
        let n = Double(c.members.count)
        switch options.confidenceType {
        case .boxAndModelAvg:
            let present = Set(c.members.map(\.model)).sorted()
            return c.score * n / c.weight * numpySum(present.map { weights[$0] }) / weightSum
        case .absentModelAwareAvg:
            let present = Set(c.members.map(\.model))
            let absent = weights.indices.filter { !present.contains($0) }.map { weights[$0] }
            return c.score * n / (c.weight + numpySum(absent))
        case .max:
            return c.score / maxWeight
        case .avg:
            let boxes = options.allowsOverflow ? n : Double(Swift.min(weights.count, c.members.count))
            return c.score * boxes / weightSum
        }
    }
}
