import VinDrBoxes

/// Per-label counts in the layout of the paper's Table 2, plus inter-reader agreement.
public struct LabelStatistics: Sendable {
    public var label: Label
    /// Images where the label holds by majority vote (>= `minimumVotes` readers, or consensus).
    public var majority: Int
    /// `majority` as a percentage of all images.
    public var percent: Double
    /// Images where at least one reader gave the label.
    public var any: Int
    /// Annotation rows with this label (boxes and label-only rows).
    public var rows: Int
    public var boxes: Int
    /// Box F1 between reader pairs at the IoU threshold (local labels with boxes; nil when no
    /// pair of readers drew any box of this label).
    public var boxF1: Double?
    /// Fleiss' kappa of the image-level label over images read by the most common number of
    /// readers (nil when undefined: fewer than 2 readers, or no variation at all).
    public var fleissKappa: Double?
}

/// Rows and boxes per radiologist.
public struct ReaderStatistics: Sendable {
    public var reader: String
    public var images: Int
    public var rows: Int
    public var boxes: Int
}

/// Dataset statistics (`vindr stats`).
public struct DatasetStatistics: Sendable {
    public var images: Int
    public var rows: Int
    public var boxes: Int
    public var minimumVotes: Int
    public var iouThreshold: Double
    /// Readers per image used for Fleiss' kappa.
    public var kappaReaders: Int
    public var kappaImages: Int
    public var labels: [LabelStatistics]
    public var readers: [ReaderStatistics]
    /// Images whose answer is a consensus reading (a file without rad_id: the test split).
    public var consensusImages: Int
    /// Median number of distinct readers (rad_id) per image, over the images that have readers'
    /// readings (nil when none has).
    public var medianReaders: Double?

    /// Readers behind each test image's consensus (paper, Methods "Data labeling" and Figure 1:
    /// "each image in the test set ... was labeled by the consensus of 5 radiologists"); the
    /// consensus files do not name them.
    public static let consensusReaders = 5

    /// Table 2's "Number of human annotators per scan": the median readers per image from the
    /// readings, or `consensusReaders` when every image has only a consensus reading.
    public var annotatorsPerScan: Double? {
        if let medianReaders { return medianReaders }
        return consensusImages > 0 ? Double(Self.consensusReaders) : nil
    }

    var annotatorsText: String? {
        guard let n = annotatorsPerScan else { return nil }
        let text = n == n.rounded() ? String(Int(n)) : decimalText(n, places: 1)
        return medianReaders == nil ? text + " (consensus)" : text
    }

    /// How a label row's images were counted: "consensus labels" (every image has a consensus
    /// reading), the majority rule with `minimumVotes` (readers' readings), or both.
    public var labelRule: String {
        if consensusImages == images && images > 0 { return "consensus labels" }
        let vote = "majority vote, at least \(minimumVotes) reader\(minimumVotes == 1 ? "" : "s") per label"
        return consensusImages == 0 ? vote : "consensus labels on \(consensusImages) images, \(vote) on the others"
    }

    /// One label row of Table 2: "count (percent%)" with two decimals.
    public func labelText(_ label: Label) -> String {
        let s = labels[label.index]
        return "\(s.majority) (\(decimalText(s.percent, places: 2))%)"
    }

    /// `{"images": N, "rows": .., "boxes": .., "labels": {name: {...}}, "readers": {id: {...}}}`.
    public var json: JSONValue {
        let opt: (Double?) -> JSONValue = { $0.map(JSONValue.number) ?? .null }
        return .object([
            ("images", .integer(images)), ("rows", .integer(rows)), ("boxes", .integer(boxes)),
            ("minimum_votes", .integer(minimumVotes)), ("iou_threshold", .number(iouThreshold)),
            ("kappa_readers", .integer(kappaReaders)), ("kappa_images", .integer(kappaImages)),
            ("labels", .object(labels.map { s in
                (s.label.name, .object([
                    ("kind", .string(s.label.kind.rawValue)),
                    ("kaggle_class_id", s.label.kaggleClassID.map { .integer($0) } ?? .null),
                    ("majority", .integer(s.majority)), ("percent", .number(s.percent)), ("any", .integer(s.any)),
                    ("rows", .integer(s.rows)), ("boxes", .integer(s.boxes)),
                    ("box_f1", opt(s.boxF1)), ("fleiss_kappa", opt(s.fleissKappa)),
                ]))
            })),
            ("readers", .object(readers.map { r in
                (r.reader, .object([("images", .integer(r.images)), ("rows", .integer(r.rows)), ("boxes", .integer(r.boxes))]))
            })),
            ("label_rule", .string(labelRule)), ("consensus_images", .integer(consensusImages)),
            ("annotators_per_scan", opt(annotatorsPerScan)), ("median_readers", opt(medianReaders)),
            ("table2_labels", .array(Taxonomy.paperOrder.enumerated().map { n, label in
                let s = labels[label.index]
                return .object([("number", .integer(n + 1)), ("label", .string(label.name)), ("kind", .string(label.kind.rawValue)),
                                ("count", .integer(s.majority)), ("percent", .number(s.percent)),
                                ("percent_text", .string(decimalText(s.percent, places: 2)))])
            })),
        ])
    }

    /// Per-label detail in the paper's label order (Table 2): label, images by the label rule and
    /// their share (two decimals), images marked by any reader, boxes, box F1, Fleiss' kappa.
    public var table: String {
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return right ? fill + s : s + fill
        }
        func percent(_ v: Double) -> String { decimalText(v, places: 2) }
        var lines = ["\(pad("Label", 20)) \(pad("Kind", 6)) \(pad("Majority", 9, right: true)) \(pad("%", 7, right: true)) \(pad("Any", 7, right: true)) \(pad("Boxes", 7, right: true)) \(pad("Box F1", 7, right: true)) \(pad("Kappa", 7, right: true))"]
        for s in Taxonomy.paperOrder.map({ labels[$0.index] }) {
            let f1 = s.boxF1.map { percent($0) } ?? "-"
            let kappa = s.fleissKappa.map { percent($0) } ?? "-"
            lines.append("\(pad(s.label.name, 20)) \(pad(s.label.kind.rawValue, 6)) \(pad(String(s.majority), 9, right: true)) \(pad(percent(s.percent), 7, right: true)) \(pad(String(s.any), 7, right: true)) \(pad(String(s.boxes), 7, right: true)) \(pad(f1, 7, right: true)) \(pad(kappa, 7, right: true))")
        }
        lines.append("\(images) images, \(rows) rows, \(boxes) boxes; labels: \(labelRule)")
        if !readers.isEmpty { lines.append("Readers: " + readers.map { "\($0.reader) \($0.images) images/\($0.boxes) boxes" }.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}

extension AnnotationIndex {
    /// Table 2 statistics with inter-reader agreement (box F1 at `iouThreshold` between every
    /// pair of readers of an image, pooled over images; Fleiss' kappa per image-level label).
    public func statistics(minimumVotes: Int = 2, iouThreshold: Double = 0.4) -> DatasetStatistics {
        let n = Taxonomy.count
        var majority = [Int](repeating: 0, count: n), any = majority, rows = majority, boxes = majority
        var matched = [Int](repeating: 0, count: n), pairBoxes = matched
        var readerStats = [String: ReaderStatistics]()
        var readerCounts = [Int: Int]()
        var consensusImages = 0
        var distinctReaders: [Double] = []
        for image in images {
            if image.readings.contains(where: { $0.reader == nil }) { consensusImages += 1 }
            let ids = Set(image.readings.compactMap(\.reader))
            if !ids.isEmpty { distinctReaders.append(Double(ids.count)) }
            for l in image.consensusLabels(minimumVotes: minimumVotes) { majority[l] += 1 }
            var union = LabelSet()
            for r in image.readings {
                union.bits |= r.labels.bits
                for b in r.boxes { rows[b.label] += 1; boxes[b.label] += 1 }
                for lr in r.labelRows { rows[lr.label] += 1 }
                if let id = r.reader {
                    var s = readerStats[id] ?? ReaderStatistics(reader: id, images: 0, rows: 0, boxes: 0)
                    s.images += 1
                    s.rows += r.boxes.count + r.labelRows.count
                    s.boxes += r.boxes.count
                    readerStats[id] = s
                }
            }
            for l in union { any[l] += 1 }
            let readers = image.readings.filter { $0.reader != nil }
            readerCounts[readers.count, default: 0] += 1
            for a in 0..<readers.count {
                for b in (a + 1)..<max(a + 1, readers.count) {
                    for label in 0..<n {
                        let boxesA = readers[a].boxes.filter { $0.label == label }.map(\.box)
                        let boxesB = readers[b].boxes.filter { $0.label == label }.map(\.box)
                        if boxesA.isEmpty && boxesB.isEmpty { continue }
                        matched[label] += greedyMatches(boxesA, boxesB, iouThreshold: iouThreshold)
                        pairBoxes[label] += boxesA.count + boxesB.count
                    }
                }
            }
        }
        // Fleiss' kappa over images read by the most common number (>= 2) of readers.
        let kappaReaders = readerCounts.filter { $0.key >= 2 }.max { ($0.value, $0.key) < ($1.value, $1.key) }?.key ?? 0
        let kappaImages = images.filter { img in img.readings.filter { $0.reader != nil }.count == kappaReaders }
        let labelStats = Taxonomy.labels.map { label -> LabelStatistics in
            let i = label.index
            let f1 = pairBoxes[i] > 0 ? 2 * Double(matched[i]) / Double(pairBoxes[i]) : nil
            let kappa = kappaReaders >= 2 ? fleissKappa(kappaImages.map { img in
                img.readings.filter { $0.reader != nil && $0.labels.contains(i) }.count
            }, raters: kappaReaders) : nil
            return LabelStatistics(label: label, majority: majority[i],
                                   percent: images.isEmpty ? 0 : 100 * Double(majority[i]) / Double(images.count),
                                   any: any[i], rows: rows[i], boxes: boxes[i], boxF1: f1, fleissKappa: kappa)
        }
        let readers = readerStats.values.sorted { readerOrder($0.reader, $1.reader) }
        return DatasetStatistics(images: images.count, rows: rowCounts.reduce(0, +) - imageLabelRowCount,
                                 boxes: boxes.reduce(0, +), minimumVotes: minimumVotes, iouThreshold: iouThreshold,
                                 kappaReaders: kappaReaders, kappaImages: kappaImages.count, labels: labelStats, readers: readers,
                                 consensusImages: consensusImages, medianReaders: median(distinctReaders))
    }

    private var imageLabelRowCount: Int {
        zip(layouts, rowCounts).filter { $0.0 == .imageLabels || $0.0 == .consensusImageLabels }.map(\.1).reduce(0, +)
    }
}

/// Natural order of reader ids, "R2" before "R10": numeric suffixes compare as numbers.
public func readerOrder(_ a: String, _ b: String) -> Bool {
    func split(_ s: String) -> (String, Int?) {
        let digits = s.reversed().prefix { $0.isASCII && $0.isNumber }.prefix(9)
        return (String(s.dropLast(digits.count)), Int(String(digits.reversed())))
    }
    let (pa, na) = split(a), (pb, nb) = split(b)
    if pa != pb { return pa < pb }
    if let na, let nb, na != nb { return na < nb }
    return a < b
}

/// One-to-one matches between two box sets with IoU > threshold, taken greedily from the
/// highest IoU down.
func greedyMatches(_ a: [Box], _ b: [Box], iouThreshold: Double) -> Int {
    var pairs = [(Double, Int, Int)]()
    for (i, x) in a.enumerated() {
        for (j, y) in b.enumerated() {
            let o = iou(x, y)
            if o > iouThreshold { pairs.append((o, i, j)) }
        }
    }
    pairs.sort { $0.0 > $1.0 || ($0.0 == $1.0 && ($0.1, $0.2) < ($1.1, $1.2)) }
    var usedA = Set<Int>(), usedB = Set<Int>()
    var count = 0
    for (_, i, j) in pairs where !usedA.contains(i) && !usedB.contains(j) {
        usedA.insert(i)
        usedB.insert(j)
        count += 1
    }
    return count
}

/// Fleiss' kappa for a binary label: `positives[i]` of `raters` raters said yes on subject i.
/// nil when undefined (no subjects, or every rating identical so chance agreement is 1).
func fleissKappa(_ positives: [Int], raters: Int) -> Double? {
    guard !positives.isEmpty, raters >= 2 else { return nil }
    let n = Double(raters), subjects = Double(positives.count)
    var agreement = 0.0
    var yes = 0.0
    for p in positives {
        let a = Double(p), b = n - a
        agreement += (a * a + b * b - n) / (n * (n - 1))
        yes += a
    }
    let pBar = agreement / subjects
    let p1 = yes / (subjects * n)
    let pe = p1 * p1 + (1 - p1) * (1 - p1)
    guard pe < 1 else { return nil }
    return (pBar - pe) / (1 - pe)
}
