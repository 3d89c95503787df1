import VinDrBoxes

/// Which boxes become an image's targets.
public enum TargetMode: Sendable {
    /// Every included reader's boxes with their scores (`BoxAnnotation.score`), each with its reader.
    case all
    /// The consensus rules at the IoU threshold (`BoxConsensus.fused` with `.avg` confidence:
    /// score = share of readers, labels held by `minimumVotes` readers); no reader.
    case fused(iouThreshold: Double, minimumVotes: Int = 2)
}

/// Every image's box targets as columns, one row per box: the layout the C ABI lends out and
/// numpy reads without copying (vdr_annotations_targets, `Annotations.targets`).
public struct TargetTable: Sendable {
    /// Index of the box's image in `AnnotationIndex.images`.
    public var image: [Int64] = []
    /// x_min, y_min, x_max, y_max in pixels, four per row.
    public var boxes: [Double] = []
    public var scores: [Double] = []
    /// Label index in the taxonomy (`Taxonomy.labels`).
    public var labels: [Int32] = []
    /// Position of the box's reader in `AnnotationIndex.sortedReaderIDs`; -1 for consensus or
    /// fused boxes.
    public var readers: [Int32] = []

    public var count: Int { image.count }

    mutating func append(image i: Int, _ b: Box, score: Double, label: Int, reader: Int32) {
        image.append(Int64(i))
        boxes.append(b.x1); boxes.append(b.y1); boxes.append(b.x2); boxes.append(b.y2)
        scores.append(score)
        labels.append(Int32(label))
        readers.append(reader)
    }
}

extension AnnotationIndex {
    /// Reader ids (rad_id) in natural order, R2 before R10 (R1 to R17 in the released training
    /// set); consensus readings have none.
    public var sortedReaderIDs: [String] { Array(Set(readerIDs)).sorted(by: readerOrder) }

    /// The box targets of every image under `mode`, readers chosen by `filter`.
    public func targetTable(_ mode: TargetMode, filter: ReaderFilter = ReaderFilter()) throws -> TargetTable {
        var t = TargetTable()
        switch mode {
        case .all:
            let position = Dictionary(uniqueKeysWithValues: sortedReaderIDs.enumerated().map { ($0.element, Int32($0.offset)) })
            for (i, image) in images.enumerated() {
                for r in image.readings where filter.includes(r) {
                    let who = r.reader.flatMap { position[$0] } ?? -1
                    for b in r.boxes { t.append(image: i, b.box, score: b.score, label: b.label, reader: who) }
                }
            }
        case let .fused(iou, votes):
            guard iou.isFinite, iou >= 0, iou <= 1 else { throw VinDrError(.argument, "iou_thr \(iou) must be in [0, 1]") }
            let all = try consensusBoxes(.fused(iouThreshold: iou, confidenceType: .avg), minimumVotes: votes, filter: filter)
            for (i, d) in all.enumerated() {
                for k in 0..<d.count { t.append(image: i, d.boxes[k], score: d.scores[k], label: d.labels[k], reader: -1) }
            }
        }
        return t
    }
}
