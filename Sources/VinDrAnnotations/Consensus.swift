import VinDrBoxes

/// Which readings take part: one chosen radiologist, or everyone but the excluded ones.
/// Consensus readings (test split, no rad_id) are included unless `reader` names someone.
public struct ReaderFilter: Sendable {
    public var reader: String?
    public var excluded: Set<String>

    public init(reader: String? = nil, excluded: Set<String> = []) {
        self.reader = reader
        self.excluded = excluded
    }

    public func includes(_ r: Reading) -> Bool {
        if let reader { return r.reader == reader }
        guard let id = r.reader else { return true }
        return !excluded.contains(id)
    }
}

/// How readers' boxes become one set of targets per image.
public enum BoxConsensus: Sendable {
    /// Every included reader's boxes (union), score 1.
    case all
    /// Weighted boxes fusion across included readers (each reader one model of weight 1, boxes in
    /// pixels, ensemble-boxes semantics otherwise). A fused box's score is the share of readers
    /// in its cluster: `min(readers, boxes) / readers` with the default `.avg` confidence.
    case fused(iouThreshold: Double, confidenceType: ConfidenceType)
}

extension ImageRecord {
    /// Image-level labels by vote (the rule behind the paper's Table 2): a label holds when at
    /// least `minimumVotes` included readers gave it (1 gives the union). A consensus reading
    /// (test split) is the answer itself, and so is the one reader a filter chooses.
    public func consensusLabels(minimumVotes: Int = 2, filter: ReaderFilter = ReaderFilter()) -> LabelSet {
        let included = readings.filter(filter.includes)
        if let consensus = included.first(where: { $0.reader == nil }) { return consensus.labels }
        if filter.reader != nil { return included.first?.labels ?? LabelSet() }
        var votes = [Int](repeating: 0, count: Taxonomy.count)
        for r in included { for l in r.labels { votes[l] += 1 } }
        var out = LabelSet()
        for (l, v) in votes.enumerated() where v >= max(minimumVotes, 1) { out.insert(l) }
        return out
    }

    /// Box targets (pixels; labels are taxonomy indices) under a consensus rule.
    public func consensusBoxes(_ mode: BoxConsensus, filter: ReaderFilter = ReaderFilter()) throws -> Detections {
        let included = readings.filter(filter.includes)
        switch mode {
        case .all:
            var d = Detections()
            for r in included { for b in r.boxes { d.append(b.box, score: 1, label: b.label) } }
            return d
        case let .fused(iouThreshold, confidenceType):
            let models = included.map { r in
                var d = Detections()
                for b in r.boxes { d.append(b.box, score: 1, label: b.label) }
                return d
            }
            guard !models.isEmpty else { return Detections() }
            let options = FusionOptions(iouThreshold: iouThreshold, confidenceType: confidenceType, normalisedCoordinates: false)
            return try weightedBoxesFusion(models, options: options).detections
        }
    }
}
