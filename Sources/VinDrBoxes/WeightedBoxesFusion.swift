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
    /// True (ensemble-boxes): fused boxes, scores and weights are held in float32. False: they
    /// are computed and kept in Double, so a fused box keeps the precision of its inputs (reader
    /// consensus uses this; a box that joined no cluster is returned unchanged either way).
    public var roundsToFloat32: Bool

    public init(weights: [Double]? = nil, iouThreshold: Double = 0.55, skipBoxThreshold: Double = 0,
                confidenceType: ConfidenceType = .avg, allowsOverflow: Bool = false, normalisedCoordinates: Bool = true,
                roundsToFloat32: Bool = true) {
        self.weights = weights
        self.iouThreshold = iouThreshold
        self.skipBoxThreshold = skipBoxThreshold
        self.confidenceType = confidenceType
        self.allowsOverflow = allowsOverflow
        self.normalisedCoordinates = normalisedCoordinates
        self.roundsToFloat32 = roundsToFloat32
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
/// ensemble-boxes does (unless `roundsToFloat32` is false), and its score is rescaled by `confidenceType`. Results are ordered by
/// descending score. Unlike ensemble-boxes, a wrong number of weights is an error, not a reset.
public func weightedBoxesFusion(_ models: [Detections], options: FusionOptions = FusionOptions()) throws -> FusionResult {
    var fuser = try WeightedBoxesFuser(models: models.count, options: options)
    return try fuser.fuse(FusionInput(models))
}

/// Every model's boxes in one flat list, each tagged with its model (reusable across calls).
public struct FusionInput: Sendable {
    public var boxes: [Box] = []
    public var scores: [Double] = []
    public var labels: [Int] = []
    public var models: [Int] = []

    public init() {}

    /// The models' detections in model order, box order within a model.
    public init(_ models: [Detections]) throws {
        for (m, d) in models.enumerated() {
            guard d.boxes.count == d.scores.count, d.boxes.count == d.labels.count else {
                throw VinDrError(.argument, "model \(m): \(d.boxes.count) boxes, \(d.scores.count) scores, \(d.labels.count) labels")
            }
            for i in 0..<d.count { append(d.boxes[i], score: d.scores[i], label: d.labels[i], model: m) }
        }
    }

    public var count: Int { boxes.count }

    public mutating func append(_ box: Box, score: Double, label: Int, model: Int) {
        boxes.append(box)
        scores.append(score)
        labels.append(label)
        models.append(model)
    }

    public mutating func removeAll() {
        boxes.removeAll(keepingCapacity: true)
        scores.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        models.removeAll(keepingCapacity: true)
    }
}

/// One box as ensemble-boxes' `prefilter_boxes` stores it, plus its label's rank (order of first
/// appearance) and its position in the input.
private struct Member {
    var score: Double  // score * model weight
    var weight: Double
    var model: Int
    var box: Box
    var rank: Int
    var position: Int
}

/// A cluster's current fused box (members are found through `WeightedBoxesFuser.clusterOf`).
private struct Cluster {
    var label: Int
    var count: Int
    var score: Double
    var weight: Double
    var box: Box
}

/// Weighted boxes fusion with scratch storage reused across calls, so fusing many small images
/// (e.g. every image's readers) allocates little beyond the results.
public struct WeightedBoxesFuser {
    let weights: [Double]
    let options: FusionOptions
    let weightSum: Double
    let maxWeight: Double
    private var members: [Member] = []
    private var labelOrder: [Int] = []
    private var processed: [Int] = []  // member indices in clustering order
    private var clusterOf: [Int] = []  // cluster of each processed member
    private var clusters: [Cluster] = []
    private var present: [Bool] = []

    /// Validates options and weights for `models` models.
    public init(models: Int, options: FusionOptions) throws {
        guard options.iouThreshold.isFinite, options.skipBoxThreshold.isFinite else {
            throw VinDrError(.argument, "iou_thr and skip_box_thr must be finite")
        }
        weights = try validatedWeights(options.weights, models: models)
        self.options = options
        weightSum = numpySum(weights)
        maxWeight = weights.max() ?? 1
        present = [Bool](repeating: false, count: models)
    }

    public mutating func fuse(_ input: FusionInput) throws -> FusionResult {
        var adjustments = InputAdjustments()
        members.removeAll(keepingCapacity: true)
        labelOrder.removeAll(keepingCapacity: true)
        for i in 0..<input.count {
            let m = input.models[i]
            guard m >= 0, m < weights.count else { throw VinDrError(.argument, "box \(i): model \(m) outside 0..<\(weights.count)") }
            let score = input.scores[i]
            guard score.isFinite else { throw VinDrError(.argument, "box \(i): score \(score) is not finite") }
            if score < options.skipBoxThreshold {
                adjustments.droppedLowScore += 1
                continue
            }
            let raw = input.boxes[i]
            guard raw.x1.isFinite, raw.y1.isFinite, raw.x2.isFinite, raw.y2.isFinite else {
                throw VinDrError(.argument, "model \(m) box \(raw) has a non-finite coordinate")
            }
            let box: Box
            if options.normalisedCoordinates {
                guard let repaired = adjustments.repair(raw) else { continue }
                box = repaired
            } else {
                box = try raw.validated("model \(m) box \(i)")
                if box.area == 0 {
                    adjustments.droppedZeroArea += 1
                    continue
                }
            }
            let label = input.labels[i]
            var rank = labelOrder.firstIndex(of: label) ?? -1
            if rank < 0 {
                rank = labelOrder.count
                labelOrder.append(label)
            }
            members.append(Member(score: score * weights[m], weight: weights[m], model: m, box: box, rank: rank,
                                  position: members.count))
        }
        // Per label (first-appearance order), descending score; equal scores in reverse input
        // order, as `argsort()[::-1]` gives them (see `descendingOrder`).
        members.sort { a, b in
            if a.rank != b.rank { return a.rank < b.rank }
            if a.score != b.score { return a.score > b.score }
            return a.position > b.position
        }
        clusters.removeAll(keepingCapacity: true)
        processed.removeAll(keepingCapacity: true)
        clusterOf.removeAll(keepingCapacity: true)
        var groupStart = 0  // first cluster of the current label
        var processedStart = 0
        for (i, m) in members.enumerated() {
            if i > 0 && members[i - 1].rank != m.rank {
                groupStart = clusters.count
                processedStart = processed.count
            }
            var best = -1
            var bestIoU = -Double.infinity
            for k in groupStart..<clusters.count {
                let o = iou(clusters[k].box, m.box)
                if o > bestIoU { bestIoU = o; best = k }
            }
            processed.append(i)
            if best >= 0, bestIoU > options.iouThreshold {
                clusterOf.append(best)
                clusters[best].count += 1
                fuse(cluster: best, from: processedStart)
            } else {
                clusterOf.append(clusters.count)
                clusters.append(Cluster(label: labelOrder[m.rank], count: 1, score: m.score, weight: m.weight, box: m.box))
            }
        }
        var fusedScores = [Double]()
        fusedScores.reserveCapacity(clusters.count)
        for k in clusters.indices { fusedScores.append(rescaledScore(k)) }
        var out = Detections()
        out.boxes.reserveCapacity(clusters.count)
        out.scores.reserveCapacity(clusters.count)
        out.labels.reserveCapacity(clusters.count)
        for k in descendingOrder(fusedScores) {
            out.append(clusters[k].box, score: fusedScores[k], label: clusters[k].label)
        }
        return FusionResult(detections: out, adjustments: adjustments)
    }

    /// ensemble-boxes' `get_weighted_box` over cluster `k`'s members in the order they joined:
    /// coordinates accumulate in a float32 buffer (each step computed in float64, then rounded),
    /// confidence and weight sums in float64, and the results are stored as float32 (all in
    /// float64 when `roundsToFloat32` is false).
    private mutating func fuse(cluster k: Int, from start: Int) {
        let float32 = options.roundsToFloat32
        func stored(_ x: Double) -> Double { float32 ? Double(Float(x)) : x }
        var (x1, y1, x2, y2) = (0.0, 0.0, 0.0, 0.0)
        var conf = 0.0
        var weight = 0.0
        var maxScore = -Double.infinity
        for j in start..<processed.count where clusterOf[j] == k {
            let m = members[processed[j]]
            x1 = stored(x1 + m.score * m.box.x1)
            y1 = stored(y1 + m.score * m.box.y1)
            x2 = stored(x2 + m.score * m.box.x2)
            y2 = stored(y2 + m.score * m.box.y2)
            conf += m.score
            weight += m.weight
            maxScore = Swift.max(maxScore, m.score)
        }
        let n = Double(clusters[k].count)
        clusters[k].score = stored(options.confidenceType == .max ? maxScore : conf / n)
        clusters[k].weight = stored(weight)
        clusters[k].box = Box(x1: stored(x1 / conf), y1: stored(y1 / conf), x2: stored(x2 / conf), y2: stored(y2 / conf))
    }

    /// The final per-cluster confidence rescaling of `weighted_boxes_fusion`.
    private mutating func rescaledScore(_ k: Int) -> Double {
        let c = clusters[k]
        let n = Double(c.count)
        switch options.confidenceType {
        case .boxAndModelAvg, .absentModelAwareAvg:
            for j in present.indices { present[j] = false }
            for j in processed.indices where clusterOf[j] == k { present[members[processed[j]].model] = true }
            if options.confidenceType == .boxAndModelAvg {
                let presentWeights = weights.indices.filter { present[$0] }.map { weights[$0] }
                return c.score * n / c.weight * numpySum(presentWeights) / weightSum
            }
            let absent = weights.indices.filter { !present[$0] }.map { weights[$0] }
            return c.score * n / (c.weight + numpySum(absent))
        case .max:
            return c.score / maxWeight
        case .avg:
            let boxes = options.allowsOverflow ? n : Double(Swift.min(weights.count, c.count))
            return c.score * boxes / weightSum
        }
    }
}
