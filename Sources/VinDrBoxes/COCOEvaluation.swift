/// The COCO detection summary (Lin et al., "Microsoft COCO", ECCV 2014; the rules of
/// pycocotools' COCOeval with iouType "bbox" and its default parameters): AP averaged over the
/// IoU thresholds 0.50:0.05:0.95 with 101-point interpolated precision, AP at 0.50 and 0.75, AP
/// per area range (small < 32^2 <= medium <= 96^2 < large, in pixels^2 of box area), and AR with
/// at most 1, 10 and 100 detections per image and category. VinDr has no crowd boxes, so none
/// are. Categories without ground truth score -1 and are left out of the means; a summary with
/// nothing to average is -1, as in COCOeval.
public struct COCOEvaluation: Sendable, Equatable {
    /// Names of `stats`, in COCOeval.summarize order.
    public static let statNames = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
                                   "AR_1", "AR_10", "AR_100", "AR_small", "AR_medium", "AR_large"]
    /// The 12 summary numbers of COCOeval.stats.
    public var stats: [Double]
    /// AP@[.50:.95] (all areas, 100 detections) per category; -1 for categories without ground truth.
    public var categoryAP: [Double]

    /// IoU thresholds as np.linspace(.5, .95, 10) computes them (start + i * step, the last exact).
    static let iouThresholds: [Double] = linspace(0.5, 0.95, 10)
    /// Recall thresholds np.linspace(0, 1, 101).
    static let recallThresholds: [Double] = linspace(0, 1, 101)

    /// np.linspace(start, stop, n): start + i * ((stop - start) / (n - 1)), the last value `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
        let step: Double = (stop - start) / Double(n - 1)
        var out = [Double]()
        for i in 0..<(n - 1) { out.append(Double(i) * step + start) }
        return out + [stop]
    }
    /// Area ranges all, small, medium, large (inclusive at both ends, as COCOeval compares).
    static let areaRanges: [(Double, Double)] = [(0, 1e10), (0, 1024), (1024, 9216), (9216, 1e10)]
    static let maxDetections = [1, 10, 100]

    /// Per image, category and area range: detection scores (highest first, at most 100) and, per
    /// IoU threshold, whether each detection matched and whether it is ignored; the number of
    /// ground-truth boxes inside the area range.
    struct ImageResult {
        var scores: [Double]
        var matched: [[Bool]]
        var ignored: [[Bool]]
        var counted: Int
    }

    /// Evaluates detections against ground truth on images `0..<imageCount` with labels
    /// `0..<categoryCount` (every category is evaluated, as COCOeval evaluates every category of
    /// the ground-truth file). Boxes are x_min, y_min, x_max, y_max; a box's area is its width x
    /// height. Equal scores keep input order (COCOeval's mergesort).
    public static func evaluate(groundTruth: [GroundTruthBox], detections: [ScoredBox], imageCount: Int,
                                categoryCount: Int) throws -> COCOEvaluation {
        guard imageCount >= 0, categoryCount >= 0 else {
            throw VinDrError(.argument, "image count \(imageCount) and category count \(categoryCount) must not be negative")
        }
        for (i, g) in groundTruth.enumerated() {
            guard g.image >= 0, g.image < imageCount else { throw VinDrError(.argument, "ground truth \(i): image \(g.image) outside 0..<\(imageCount)") }
            guard g.label >= 0, g.label < categoryCount else { throw VinDrError(.argument, "ground truth \(i): label \(g.label) outside 0..<\(categoryCount)") }
            _ = try g.box.validated("ground truth \(i)")
        }
        for (i, d) in detections.enumerated() {
            guard d.image >= 0, d.image < imageCount else { throw VinDrError(.argument, "detection \(i): image \(d.image) outside 0..<\(imageCount)") }
            guard d.label >= 0, d.label < categoryCount else { throw VinDrError(.argument, "detection \(i): label \(d.label) outside 0..<\(categoryCount)") }
            guard d.score.isFinite else { throw VinDrError(.argument, "detection \(i): score \(d.score) is not finite") }
            _ = try d.box.validated("detection \(i)")
        }
        // Boxes per category, then image, in input order.
        var gtCells = [[Int: [Box]]](repeating: [:], count: categoryCount)
        var dtCells = [[Int: [ScoredBox]]](repeating: [:], count: categoryCount)
        for g in groundTruth { gtCells[g.label][g.image, default: []].append(g.box) }
        for d in detections { dtCells[d.label][d.image, default: []].append(d) }

        let (T, R, A, M) = (iouThresholds.count, recallThresholds.count, areaRanges.count, maxDetections.count)
        let K = categoryCount
        // precision[((t * R + r) * K + k) * A * M + a * M + m], recall[((t * K + k) * A + a) * M + m]
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        for k in 0..<K {
            let images = Set(gtCells[k].keys).union(dtCells[k].keys).sorted()
            var results = [[ImageResult]](repeating: [], count: A)
            for image in images {
                let gts = gtCells[k][image] ?? []
                var dts = dtCells[k][image] ?? []
                dts = stableSortedByScore(dts.map(\.score)).prefix(maxDetections[M - 1]).map { dts[$0] }
                let ious = dts.map { d in gts.map { cocoIoU(d.box, $0) } }
                for a in 0..<A {
                    results[a].append(match(gts, dts, ious, range: areaRanges[a]))
                }
            }
            for a in 0..<A {
                for m in 0..<M where !results[a].isEmpty {
                    let cap = maxDetections[m]
                    let positives = results[a].reduce(0) { $0 + $1.counted }
                    guard positives > 0 else { continue }
                    var scores = [Double]()
                    var matched = [[Bool]](repeating: [], count: T), ignored = [[Bool]](repeating: [], count: T)
                    for e in results[a] {
                        let n = Swift.min(cap, e.scores.count)
                        scores += e.scores[0..<n]
                        for t in 0..<T {
                            matched[t] += e.matched[t][0..<n]
                            ignored[t] += e.ignored[t][0..<n]
                        }
                    }
                    let order = stableSortedByScore(scores)
                    for t in 0..<T {
                        var tp = 0.0, fp = 0.0
                        var rc = [Double](), pr = [Double]()
                        rc.reserveCapacity(order.count)
                        pr.reserveCapacity(order.count)
                        for i in order {
                            if !ignored[t][i] {
                                if matched[t][i] { tp += 1 } else { fp += 1 }
                            }
                            rc.append(tp / Double(positives))
                            pr.append(tp / (fp + tp + Double.ulpOfOne))  // np.spacing(1)
                        }
                        recall[((t * K + k) * A + a) * M + m] = rc.last ?? 0
                        for i in stride(from: pr.count - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] }
                        var i = 0
                        for r in 0..<R {
                            // np.searchsorted(rc, threshold, side="left"); 0 past the last detection.
                            while i < rc.count, rc[i] < recallThresholds[r] { i += 1 }
                            precision[((t * R + r) * K + k) * A * M + a * M + m] = i < pr.count ? pr[i] : 0
                        }
                    }
                }
            }
        }

        func meanAP(_ threshold: Double?, area a: Int, detections m: Int, category: Int? = nil) -> Double {
            let ts: [Int]
            if let threshold { ts = iouThresholds.indices.filter { iouThresholds[$0] == threshold } } else { ts = Array(0..<T) }
            var sum = 0.0, n = 0
            for t in ts {
                for r in 0..<R {
                    for k in category.map({ [$0] }) ?? Array(0..<K) {
                        let v = precision[((t * R + r) * K + k) * A * M + a * M + m]
                        if v > -1 { sum += v; n += 1 }
                    }
                }
            }
            return n == 0 ? -1 : sum / Double(n)
        }
        func meanAR(area a: Int, detections m: Int) -> Double {
            var sum = 0.0, n = 0
            for t in 0..<T {
                for k in 0..<K {
                    let v = recall[((t * K + k) * A + a) * M + m]
                    if v > -1 { sum += v; n += 1 }
                }
            }
            return n == 0 ? -1 : sum / Double(n)
        }
        let stats = [meanAP(nil, area: 0, detections: 2), meanAP(0.5, area: 0, detections: 2), meanAP(0.75, area: 0, detections: 2),
                     meanAP(nil, area: 1, detections: 2), meanAP(nil, area: 2, detections: 2), meanAP(nil, area: 3, detections: 2),
                     meanAR(area: 0, detections: 0), meanAR(area: 0, detections: 1), meanAR(area: 0, detections: 2),
                     meanAR(area: 1, detections: 2), meanAR(area: 2, detections: 2), meanAR(area: 3, detections: 2)]
        return COCOEvaluation(stats: stats, categoryAP: (0..<K).map { meanAP(nil, area: 0, detections: 2, category: $0) })
    }

    /// COCOeval.evaluateImg for one image, category and area range: ground truth outside the
    /// range is ignored and tried last; at each IoU threshold each detection (highest score
    /// first) takes the unmatched ground-truth box of highest IoU >= the threshold, preferring
    /// boxes not ignored; an unmatched detection outside the range is ignored.
    static func match(_ gts: [Box], _ dts: [ScoredBox], _ ious: [[Double]], range: (Double, Double)) -> ImageResult {
        let outside = gts.map { $0.area < range.0 || $0.area > range.1 }
        let gtOrder = gts.indices.filter { !outside[$0] } + gts.indices.filter { outside[$0] }
        let T = iouThresholds.count
        var matched = [[Bool]](repeating: [Bool](repeating: false, count: dts.count), count: T)
        var ignored = matched
        for t in 0..<T {
            var taken = [Bool](repeating: false, count: gts.count)
            for d in dts.indices {
                var best = Swift.min(iouThresholds[t], 1 - 1e-10)
                var m = -1
                for g in gtOrder {
                    if taken[g] { continue }
                    if m > -1, !outside[m], outside[g] { break }
                    if ious[d][g] < best { continue }
                    best = ious[d][g]
                    m = g
                }
                if m == -1 {
                    let area = dts[d].box.area
                    ignored[t][d] = area < range.0 || area > range.1
                    continue
                }
                ignored[t][d] = outside[m]
                matched[t][d] = true
                taken[m] = true
            }
        }
        return ImageResult(scores: dts.map(\.score), matched: matched, ignored: ignored, counted: outside.filter { !$0 }.count)
    }

    /// Indices ordered by descending score, ties in input order (np.argsort(-s, kind="mergesort")).
    static func stableSortedByScore(_ scores: [Double]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }

    /// IoU as pycocotools' maskApi bbIou computes it from x, y, width, height (no +1).
    static func cocoIoU(_ d: Box, _ g: Box) -> Double {
        let (dw, dh, gw, gh) = (d.x2 - d.x1, d.y2 - d.y1, g.x2 - g.x1, g.y2 - g.y1)
        let w = Swift.min(dw + d.x1, gw + g.x1) - Swift.max(d.x1, g.x1)
        if w <= 0 { return 0 }
        let h = Swift.min(dh + d.y1, gh + g.y1) - Swift.max(d.y1, g.y1)
        if h <= 0 { return 0 }
        let i = w * h
        return i / (dw * dh + gw * gh - i)
    }
}
