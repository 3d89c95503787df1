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
            var fusers = ReaderFusers(iouThreshold: iouThreshold, confidenceType: confidenceType)
            return try fusers.fuse(included, filter: ReaderFilter()) ?? Detections()
        }
    }
}

/// Fuses readers' boxes image after image, reusing one fuser per reader count.
struct ReaderFusers {
    let options: FusionOptions
    private var byReaders: [Int: WeightedBoxesFuser] = [:]
    private var input = FusionInput()

    init(iouThreshold: Double, confidenceType: ConfidenceType) {
        options = FusionOptions(iouThreshold: iouThreshold, confidenceType: confidenceType, normalisedCoordinates: false)
    }

    /// Weighted boxes fusion of the included readings (each one model of weight 1, score 1 per
    /// box); nil when no reading is included.
    mutating func fuse(_ readings: some Collection<Reading>, filter: ReaderFilter) throws -> Detections? {
        input.removeAll()
        var models = 0
        for r in readings where filter.includes(r) {
            for b in r.boxes { input.append(b.box, score: 1, label: b.label, model: models) }
            models += 1
        }
        guard models > 0 else { return nil }
        // Taken out of the cache while in use, so its scratch buffers stay uniquely referenced.
        var fuser = try byReaders.removeValue(forKey: models) ?? WeightedBoxesFuser(models: models, options: options)
        defer { byReaders[models] = fuser }
        return try fuser.fuse(input).detections
    }
}

extension AnnotationIndex {
    /// Box targets of every image, in index order, under a consensus rule (one pass; fusion
    /// scratch storage is reused across images).
    public func consensusBoxes(_ mode: BoxConsensus, filter: ReaderFilter = ReaderFilter()) throws -> [Detections] {
        switch mode {
        case .all:
            return try images.map { try $0.consensusBoxes(.all, filter: filter) }
        case let .fused(iouThreshold, confidenceType):
            var fusers = ReaderFusers(iouThreshold: iouThreshold, confidenceType: confidenceType)
            return try images.map { try fusers.fuse($0.readings, filter: filter) ?? Detections() }
        }
    }
}
