import VinDrBoxes

/// A Kaggle VinBigData submission: `image_id,PredictionString`, where the prediction string is
/// groups of `class score x_min y_min x_max y_max` (pixels; "No finding" is `14 1 0 0 1 1`).
public struct Submission: Sendable {
    /// Image ids in file order.
    public var imageIDs: [String] = []
    /// Predictions per image; labels are Kaggle class ids.
    public var predictions: [String: Detections] = [:]

    public init() {}

    /// Reads a submission file; malformed groups are CSV errors naming the line and group.
    public init(path: String) throws {
        var map: ColumnMap?
        var result = Submission()
        try CSVReader.forEachRow(path: path) { row in
            guard let m = map else {
                let detected = try ColumnMap.detect(header: (0..<row.count).map { row.string($0) }, file: path)
                guard detected.layout == .kaggleSubmission else {
                    throw VinDrError(file: path, line: row.line, reason: "not a submission (expected image_id,PredictionString)")
                }
                map = detected
                return
            }
            func fail(_ column: Int, _ reason: String) -> VinDrError {
                VinDrError(file: path, line: row.line, column: m.names[column], reason: reason)
            }
            guard row.count == m.names.count else {
                throw VinDrError(file: path, line: row.line, reason: "\(row.count) fields, the header has \(m.names.count)")
            }
            let id = row.string(m.imageID).trimmingSpaces
            guard !id.isEmpty else { throw fail(m.imageID, "empty image_id") }
            guard result.predictions[id] == nil else { throw fail(m.imageID, "image \(id) appears twice") }
            guard let values = row.numbers(m.prediction) else { throw fail(m.prediction, "not a list of numbers") }
            guard values.count % 6 == 0 else {
                throw fail(m.prediction, "\(values.count) numbers; expected groups of 6 (class score x_min y_min x_max y_max)")
            }
            var d = Detections()
            for g in stride(from: 0, to: values.count, by: 6) {
                guard let c = Int(exactly: values[g]), Taxonomy.label(kaggleClassID: c) != nil else {
                    throw fail(m.prediction, "group \(g / 6 + 1): class \(values[g]) is not a Kaggle class id 0...14")
                }
                let b = Box(x1: values[g + 2], y1: values[g + 3], x2: values[g + 4], y2: values[g + 5])
                guard b.x1 <= b.x2, b.y1 <= b.y2 else {
                    throw fail(m.prediction, "group \(g / 6 + 1): box \(b) has x_max < x_min or y_max < y_min")
                }
                d.append(b, score: values[g + 1], label: c)
            }
            result.imageIDs.append(id)
            result.predictions[id] = d
        }
        guard map != nil else { throw VinDrError(file: path, line: 1, reason: "empty file (no header)") }
        self = result
    }
}

extension Submission {
    /// The submission as CSV text (`image_id,PredictionString`), images in `imageIDs` order.
    /// Coordinates are written with the shortest round-trip representation; an image without
    /// predictions gets an empty prediction string.
    public var csvText: String {
        var out = "image_id,PredictionString\n"
        for id in imageIDs {
            out += id + ","
            if let d = predictions[id] {
                var parts = [String]()
                for i in 0..<d.count {
                    let b = d.boxes[i]
                    parts.append("\(d.labels[i]) \(d.scores[i]) \(b.x1) \(b.y1) \(b.x2) \(b.y2)")
                }
                out += parts.joined(separator: " ")
            }
            out += "\n"
        }
        return out
    }
}

/// Which readers' rows form the ground truth of an evaluation.
public enum GroundTruthReaders: Sendable {
    /// Every row as given (the test split's consensus; on train.csv, every reader's boxes).
    case asGiven
    /// One radiologist's rows (images that reader did not read are left out).
    case reader(String)
    /// The consensus rules (`ConsensusRules`): "No finding" by strict majority, else the labels
    /// given by at least `minimumVotes` readers with their boxes fused at this IoU; consensus
    /// readings as given. `Export.submission` with `.fused` writes the same answer.
    case fused(iouThreshold: Double, minimumVotes: Int = 2)
}

/// The competition score of a submission plus bookkeeping.
public struct CompetitionEvaluation: Sendable {
    public var evaluation: DetectionEvaluation
    public var images: Int
    /// Submission rows whose image is not in the ground truth (ignored).
    public var unknownImages: Int
    /// Ground-truth images the submission has no row for (scored as no predictions with
    /// `MissingImages.empty`, left out of `images` with `.skip`).
    public var missingImages: Int

    /// `{"mAP": .., "ap": {class name: AP}, "images": .., ...}`.
    public var json: JSONValue {
        let ap = evaluation.ap.keys.sorted().map { k -> (String, JSONValue) in
            (Taxonomy.label(kaggleClassID: k)?.name ?? String(k), .number(evaluation.ap[k] ?? 0))
        }
        return .object([
            ("mAP", evaluation.meanAP.map(JSONValue.number) ?? .null), ("ap", .object(ap)),
            ("images", .integer(images)), ("unknown_images", .integer(unknownImages)),
            ("missing_images", .integer(missingImages)),
        ])
    }
}

/// "No finding" is scored as Kaggle class 14 with this box.
public let noFindingBox = Box(x1: 0, y1: 0, x2: 1, y2: 1)

extension ImageRecord {
    /// The image's consensus answer (`consensusBoxes` and `consensusLabels`) in Kaggle classes:
    /// boxes of labels with a Kaggle class, with their scores, and "No finding" as the class-14 box
    /// 0 0 1 1 with score 1 when it holds.
    public func kaggleConsensus(_ mode: BoxConsensus, minimumVotes: Int = 2,
                                filter: ReaderFilter = ReaderFilter()) throws -> Detections {
        let d = try consensusBoxes(mode, minimumVotes: minimumVotes, filter: filter)
        var p = Detections()
        for i in 0..<d.count {
            if let c = Taxonomy.labels[d.labels[i]].kaggleClassID { p.append(d.boxes[i], score: d.scores[i], label: c) }
        }
        if consensusLabels(minimumVotes: minimumVotes, filter: filter).contains(Taxonomy.noFinding.index) {
            p.append(noFindingBox, score: 1, label: 14)
        }
        return p
    }
}

extension AnnotationIndex {
    /// Ground-truth boxes in Kaggle classes (score 1), one list per image in index order (images
    /// excluded by `readers` are nil). Rows of labels outside the 15 Kaggle classes are left out;
    /// "No finding" is a class-14 box 0 0 1 1 (per row as given, once under `.fused`).
    public func kaggleGroundTruth(_ readers: GroundTruthReaders) throws -> [Detections?] {
        try images.map { image -> Detections? in
            var filter = ReaderFilter()
            if case let .reader(id) = readers { filter.reader = id }
            let included = image.readings.filter(filter.includes)
            if included.isEmpty { return nil }
            if case let .fused(iou, votes) = readers {
                let answer = try image.kaggleConsensus(.fused(iouThreshold: iou, confidenceType: .avg), minimumVotes: votes)
                return try Detections(boxes: answer.boxes, scores: answer.scores.map { _ in 1 }, labels: answer.labels)
            }
            var all = Detections()
            for r in included {
                for b in r.boxes { if let c = Taxonomy.labels[b.label].kaggleClassID { all.append(b.box, score: 1, label: c) } }
                for lr in r.labelRows where lr.label == Taxonomy.noFinding.index { all.append(noFindingBox, score: 1, label: 14) }
            }
            return all
        }
    }

    /// The VinBigData competition metric: AP per Kaggle class at IoU > `iouThreshold` (PASCAL VOC
    /// 2010 all-point, or COCO 101-point), averaged over the classes present in the ground truth.
    /// Detections with equal scores rank in submission-file order. Ground-truth images without a
    /// submission row are an error naming them, left out of the scoring with `missing: .skip`, or
    /// scored as images without predictions with `missing: .empty`.
    public func evaluate(_ submission: Submission, readers: GroundTruthReaders = .asGiven, iouThreshold: Double = 0.4,
                         interpolation: APInterpolation = .voc2010,
                         missing: MissingImages = .error) throws -> CompetitionEvaluation {
        let s = try scoringSet(submission, readers: readers, missing: missing)
        let e = try evaluateDetections(groundTruth: s.gt, detections: s.dets, imageCount: s.images,
                                       iouThreshold: iouThreshold, interpolation: interpolation)
        return CompetitionEvaluation(evaluation: e, images: s.images, unknownImages: s.unknown, missingImages: s.missing)
    }

    /// The COCO summary (`COCOEvaluation`: AP@[.5:.95], AP50, AP75, AP and AR per area range, AR at
    /// 1/10/100 detections) of a submission over the 15 Kaggle classes, with the ground truth and
    /// missing images chosen as in `evaluate`. Returns it with the images scored, the submission's
    /// unknown images and the ground-truth images without a row.
    public func evaluateCOCO(_ submission: Submission, readers: GroundTruthReaders = .asGiven,
                             missing: MissingImages = .error) throws -> (evaluation: COCOEvaluation, images: Int, unknownImages: Int, missingImages: Int) {
        let s = try scoringSet(submission, readers: readers, missing: missing)
        let e = try COCOEvaluation.evaluate(groundTruth: s.gt, detections: s.dets, imageCount: s.images,
                                            categoryCount: Taxonomy.kaggleClasses.count)
        return (e, s.images, s.unknown, s.missing)
    }

    /// Ground truth and detections of the images scored (numbered in index order), the count of
    /// submission images not in the ground truth and of ground-truth images without a row.
    func scoringSet(_ submission: Submission, readers: GroundTruthReaders,
                    missing: MissingImages) throws -> (gt: [GroundTruthBox], dets: [ScoredBox], images: Int, unknown: Int, missing: Int) {
        let truth = try kaggleGroundTruth(readers)
        let covered = Set(submission.imageIDs)
        let absent = truth.indices.filter { truth[$0] != nil && !covered.contains(images[$0].id) }.map { images[$0].id }
        if missing == .error, !absent.isEmpty {
            let named = absent.prefix(10).joined(separator: ", ") + (absent.count > 10 ? " and \(absent.count - 10) more" : "")
            throw VinDrError(.argument, "the submission has no row for \(absent.count) of \(truth.lazy.filter { $0 != nil }.count) ground-truth images: "
                           + "\(named) (missing=empty scores them as images without predictions, missing=skip leaves them out)")
        }
        var gt = [GroundTruthBox]()
        var slots = [String: Int]()
        for (i, t) in truth.enumerated() {
            guard let t, missing != .skip || covered.contains(images[i].id) else { continue }
            let slot = slots.count
            slots[images[i].id] = slot
            for k in 0..<t.count { gt.append(GroundTruthBox(image: slot, label: t.labels[k], box: t.boxes[k])) }
        }
        // Detections in submission order, so equal scores rank as they appear in the file.
        var dets = [ScoredBox]()
        var unknown = 0
        for id in submission.imageIDs {
            guard let slot = slots[id] else { unknown += 1; continue }
            guard let p = submission.predictions[id] else { continue }
            for k in 0..<p.count { dets.append(ScoredBox(image: slot, label: p.labels[k], score: p.scores[k], box: p.boxes[k])) }
        }
        return (gt, dets, slots.count, unknown, absent.count)
    }
}
