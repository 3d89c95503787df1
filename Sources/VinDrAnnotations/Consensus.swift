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
    /// Every included reader's boxes as drawn (union, no vote), with their scores (`BoxAnnotation.score`).
    case all
    /// The consensus rules (`ImageRecord.consensusBoxes`): boxes of the labels that hold by vote,
    /// fused across the included readers by weighted boxes fusion (each reader one model of
    /// weight 1, boxes in pixels, computed in Double). A fused box's score is the share of
    /// readers in its cluster: `min(readers, boxes) / readers` with the default `.avg` confidence.
    case fused(iouThreshold: Double, confidenceType: ConfidenceType)
}

/// The consensus rules, after the paper (Methods, "Data labeling": each training image labeled
/// independently by 3 radiologists, each test image by the consensus of 5; Technical Validation:
/// no lesion may be marked with "No finding"; Table 3: "No finding" is "the absence of all
/// pathologies"):
/// 1. A consensus reading (test split or a consensus file: no rad_id), or the one reader a
///    filter chooses, is the answer itself: its labels and boxes (with their scores) as read,
///    never fused again.
/// 2. "No finding" holds when a strict majority of the included readers gave it; it then
///    excludes every other label and every box.
/// 3. Otherwise a label holds when at least `minimumVotes` included readers gave it (2: the
///    majority of 3 readers, the rule behind the paper's Table 2; 1: any reader), and only the
///    boxes of labels that hold are fused.
enum ConsensusRules {
    /// The reading that stands as the answer (rule 1), if any.
    static func given(_ included: [Reading], filter: ReaderFilter) -> Reading? {
        if let consensus = included.first(where: { $0.reader == nil }) { return consensus }
        return filter.reader != nil ? included.first : nil
    }

    /// Labels by vote of the included readers (rules 2 and 3).
    /// (The tally lives on the stack: this runs once per image when every image is fused.)
    static func votedLabels(_ included: [Reading], minimumVotes: Int) -> LabelSet {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: Taxonomy.count) { votes in
            votes.initialize(repeating: 0)
            for r in included { for l in r.labels { votes[l] += 1 } }
            let noFinding = Taxonomy.noFinding.index
            var out = LabelSet()
            if votes[noFinding] * 2 > included.count {
                out.insert(noFinding)
                return out
            }
            for (l, v) in votes.enumerated() where l != noFinding && v >= max(minimumVotes, 1) { out.insert(l) }
            return out
        }
    }
}

extension ImageRecord {
    /// Image-level labels under the consensus rules (`ConsensusRules`): the consensus reading or
    /// chosen reader as read; else "No finding" by strict majority, excluding the rest; else each
    /// label given by at least `minimumVotes` included readers (1 gives the union).
    public func consensusLabels(minimumVotes: Int = 2, filter: ReaderFilter = ReaderFilter()) -> LabelSet {
        let included = readings.filter(filter.includes)
        if let answer = ConsensusRules.given(included, filter: filter) { return answer.labels }
        return ConsensusRules.votedLabels(included, minimumVotes: minimumVotes)
    }

    /// Box targets (pixels; labels are taxonomy indices): `.all` gives every included reader's
    /// boxes; `.fused` follows the consensus rules with `minimumVotes` (see `consensusLabels`).
    public func consensusBoxes(_ mode: BoxConsensus, minimumVotes: Int = 2,
                               filter: ReaderFilter = ReaderFilter()) throws -> Detections {
        switch mode {
        case .all:
            var d = Detections()
            for r in readings where filter.includes(r) { for b in r.boxes { d.append(b.box, score: b.score, label: b.label) } }
            return d
        case let .fused(iouThreshold, confidenceType):
            var fusers = ReaderFusers(iouThreshold: iouThreshold, confidenceType: confidenceType, minimumVotes: minimumVotes)
            return try fusers.fuse(readings, filter: filter) ?? Detections()
        }
    }
}

/// Applies the consensus rules' fusion image after image, reusing one fuser per reader count.
struct ReaderFusers {
    let options: FusionOptions
    let minimumVotes: Int
    private var byReaders: [Int: WeightedBoxesFuser] = [:]
    private var input = FusionInput()

    init(iouThreshold: Double, confidenceType: ConfidenceType, minimumVotes: Int) {
        options = FusionOptions(iouThreshold: iouThreshold, confidenceType: confidenceType, normalisedCoordinates: false,
                                roundsToFloat32: false)
        self.minimumVotes = minimumVotes
    }

    /// The consensus boxes of the included readings (each reader one model of weight 1, score 1
    /// per box); nil when no reading is included.
    mutating func fuse(_ readings: some Collection<Reading>, filter: ReaderFilter) throws -> Detections? {
        let included = readings.filter(filter.includes)
        guard !included.isEmpty else { return nil }
        if let answer = ConsensusRules.given(included, filter: filter) {
            var d = Detections()
            for b in answer.boxes { d.append(b.box, score: b.score, label: b.label) }
            return d
        }
        let labels = ConsensusRules.votedLabels(included, minimumVotes: minimumVotes)
        input.removeAll()
        for (model, r) in included.enumerated() {
            for b in r.boxes where labels.contains(b.label) { input.append(b.box, score: 1, label: b.label, model: model) }
        }
        // Taken out of the cache while in use, so its scratch buffers stay uniquely referenced.
        let models = included.count
        var fuser = try byReaders.removeValue(forKey: models) ?? WeightedBoxesFuser(models: models, options: options)
        defer { byReaders[models] = fuser }
        return try fuser.fuse(input).detections
    }
}

extension AnnotationIndex {
    /// Box targets of every image, in index order, under `ImageRecord.consensusBoxes` (one pass;
    /// fusion scratch storage is reused across images).
    public func consensusBoxes(_ mode: BoxConsensus, minimumVotes: Int = 2,
                               filter: ReaderFilter = ReaderFilter()) throws -> [Detections] {
        switch mode {
        case .all:
            return try images.map { try $0.consensusBoxes(.all, filter: filter) }
        case let .fused(iouThreshold, confidenceType):
            var fusers = ReaderFusers(iouThreshold: iouThreshold, confidenceType: confidenceType, minimumVotes: minimumVotes)
            return try images.map { try fusers.fuse($0.readings, filter: filter) ?? Detections() }
        }
    }
}
