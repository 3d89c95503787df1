/// Scored, labelled boxes: one model's predictions or one radiologist's marks (score 1).
public struct Detections: Equatable, Sendable {
    public var boxes: [Box]
    public var scores: [Double]
    public var labels: [Int]

    public init() {
        boxes = []
        scores = []
        labels = []
    }

    /// Throws unless the three arrays have one entry per box and every value is finite.
    /// Corner order is not checked: ensemble-style entry points repair it (and count it).
    public init(boxes: [Box], scores: [Double], labels: [Int]) throws {
        guard boxes.count == scores.count, boxes.count == labels.count else {
            throw VinDrError(.argument, "\(boxes.count) boxes, \(scores.count) scores and \(labels.count) labels: counts differ")
        }
        for (i, b) in boxes.enumerated() where !(b.x1.isFinite && b.y1.isFinite && b.x2.isFinite && b.y2.isFinite) {
            throw VinDrError(.argument, "boxes[\(i)] \(b) has a non-finite coordinate")
        }
        if let i = scores.firstIndex(where: { !$0.isFinite }) {
            throw VinDrError(.argument, "scores[\(i)] = \(scores[i]) is not finite")
        }
        self.boxes = boxes
        self.scores = scores
        self.labels = labels
    }

    public var count: Int { boxes.count }

    public mutating func append(_ box: Box, score: Double, label: Int) {
        boxes.append(box)
        scores.append(score)
        labels.append(label)
    }
}

/// What the ensemble-boxes input preparation changed, counted rather than done silently.
/// ensemble-boxes expects normalised coordinates: it swaps reversed corners, clamps every
/// coordinate into [0, 1] and drops boxes whose area is then zero (warning as it goes).
public struct InputAdjustments: Equatable, Sendable {
    /// Boxes whose x or y corners were given in reverse order and were swapped.
    public var swappedBoxes = 0
    /// Coordinates outside [0, 1] that were clamped to the nearest bound.
    public var clampedCoordinates = 0
    /// Boxes dropped because their area was zero after clamping.
    public var droppedZeroArea = 0
    /// Boxes dropped by weighted boxes fusion because their score was below `skip_box_thr`.
    public var droppedLowScore = 0

    public init() {}

    public var isEmpty: Bool { swappedBoxes == 0 && clampedCoordinates == 0 && droppedZeroArea == 0 && droppedLowScore == 0 }

    /// Repairs one box as ensemble-boxes does; returns nil when it has zero area afterwards.
    mutating func repair(_ box: Box) -> Box? {
        var b = box
        if b.x2 < b.x1 || b.y2 < b.y1 {
            swappedBoxes += 1
            if b.x2 < b.x1 { swap(&b.x1, &b.x2) }
            if b.y2 < b.y1 { swap(&b.y1, &b.y2) }
        }
        b.x1 = clamp(b.x1); b.y1 = clamp(b.y1); b.x2 = clamp(b.x2); b.y2 = clamp(b.y2)
        if b.area == 0 {
            droppedZeroArea += 1
            return nil
        }
        return b
    }

    private mutating func clamp(_ v: Double) -> Double {
        if v < 0 { clampedCoordinates += 1; return 0 }
        if v > 1 { clampedCoordinates += 1; return 1 }
        return v
    }
}

/// Validates per-model weights (one per model, finite, non-negative, positive sum).
func validatedWeights(_ weights: [Double]?, models: Int) throws -> [Double] {
    guard let weights else { return [Double](repeating: 1, count: models) }
    guard weights.count == models else {
        throw VinDrError(.argument, "\(weights.count) weights for \(models) models: give one weight per model")
    }
    guard weights.allSatisfy({ $0.isFinite && $0 >= 0 }), numpySum(weights) > 0 else {
        throw VinDrError(.argument, "weights \(weights) must be finite, non-negative and not all zero")
    }
    return weights
}
