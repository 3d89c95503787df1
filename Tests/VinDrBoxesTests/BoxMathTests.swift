import XCTest
@testable import VinDrBoxes

final class BoxMathTests: XCTestCase {
    func testIoUOfHandComputedOverlaps() throws {
        let a = Box(x1: 0, y1: 0, x2: 2, y2: 2)
        let b = Box(x1: 1, y1: 1, x2: 3, y2: 3)  // intersection 1, union 7
        XCTAssertEqual(iou(a, b), 1.0 / 7.0, accuracy: 1e-15)
        XCTAssertEqual(iou(a, a), 1)
        XCTAssertEqual(iou(a, Box(x1: 2, y1: 0, x2: 4, y2: 2)), 0)  // touching edges
        let m = try iouMatrix([a, b], [b, a, Box(x1: 5, y1: 5, x2: 6, y2: 6)])
        XCTAssertEqual(m.count, 6)
        XCTAssertEqual(m[0], 1.0 / 7.0, accuracy: 1e-15)
        XCTAssertEqual(m[1], 1)
        XCTAssertEqual(m[2], 0)
        XCTAssertEqual(m[3], 1)
    }

    /// The division-free test decides exactly as `iou(a, b) > threshold`, including thresholds
    /// equal to the IoU or one ulp either side, touching and empty boxes.
    func testIoUExceedsDecidesLikeTheDivision() {
        var rng = SystemRandomNumberGenerator()
        func box() -> Box {
            // Coordinates on a coarse grid give touching edges, equal boxes and empty boxes.
            let v = (0..<4).map { _ in Double(Int.random(in: 0...12, using: &rng)) / 8 }
            return Box(x1: min(v[0], v[1]), y1: min(v[2], v[3]), x2: max(v[0], v[1]), y2: max(v[2], v[3]))
        }
        var checked = 0
        for _ in 0..<20_000 {
            let a = box(), b = Bool.random(using: &rng) ? box() : a
            let o = iou(a, b)
            for t in [o, o.nextUp, o.nextDown, 0, -0.5, 1, 0.5, Double.random(in: -0.1...1.1, using: &rng)] {
                XCTAssertEqual(iouExceeds(a, b, t), o > t, "\(a) \(b) threshold \(t)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 160_000)
    }

    /// Both ways of ordering boxes for NMS (buckets with insertion, comparison sort) give
    /// ascending labels, descending scores and equal scores in reverse input order.
    func testVisitingOrderMatchesTheReferenceSort() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<400 {
            let n = Int.random(in: 0...300, using: &rng)
            let range = [0, 3, 20, 1_000_000, Int.max / 2][trial % 5]  // 0: one label, buckets > 64
            let labels = (0..<n).map { _ in Int.random(in: -range...range, using: &rng) / (trial % 3 == 0 ? 1 : range / 3 + 1) }
            let scores = (0..<n).map { _ in Double(Int.random(in: 0...4, using: &rng)) / 4 }
            let expected = (0..<n).sorted { a, b in
                (labels[a], -scores[a], -a) < (labels[b], -scores[b], -b)
            }
            XCTAssertEqual(visitingOrder(labels, scores), expected, "trial \(trial)")
        }
    }

    func testInvalidBoxesThrowInsteadOfTrapping() {
        XCTAssertThrowsError(try iouMatrix([Box(x1: 1, y1: 0, x2: 0, y2: 1)], []))
        XCTAssertThrowsError(try iouMatrix([Box(x1: .nan, y1: 0, x2: 1, y2: 1)], []))
        XCTAssertThrowsError(try nms(boxes: [Box(x1: 0, y1: 0, x2: 1, y2: 1)], scores: [], iouThreshold: 0.5))
        XCTAssertThrowsError(try Detections(boxes: [Box(x1: 0, y1: 0, x2: 1, y2: 1)], scores: [.infinity], labels: [0]))
        XCTAssertThrowsError(try convertBoxes([1, 2, 3], from: .xyxy, to: .xywh))
        XCTAssertThrowsError(try weightedBoxesFusion([Detections()], options: FusionOptions(weights: [1, 2])))
    }

    func testClassCodesGroupFloatLabelsLikeNumpyUnique() throws {
        func codes(_ values: [Double]) throws -> [Int] { try values.withUnsafeBufferPointer { try classCodes(ofLabelValues: $0) } }
        XCTAssertEqual(try codes([3, 0, -0.0, 3, 7]), [3, 0, 0, 3, 7])
        XCTAssertEqual(try codes([0.5, -1, 0.5, 2.25, -0.0, 0]), [3, 0, 3, 5, 1, 1])
        XCTAssertThrowsError(try codes([1, .nan])) { XCTAssertEqual(($0 as? VinDrError)?.message, "labels[1] is not finite") }
    }

    func testFormatRoundTrips() throws {
        let xyxy: [Double] = [10, 20, 50, 80, 0, 0, 1, 1]
        let xywh = try convertBoxes(xyxy, from: .xyxy, to: .xywh)
        XCTAssertEqual(xywh, [10, 20, 40, 60, 0, 0, 1, 1])
        let cxcywh = try convertBoxes(xyxy, from: .xyxy, to: .cxcywh)
        XCTAssertEqual(cxcywh, [30, 50, 40, 60, 0.5, 0.5, 1, 1])
        XCTAssertEqual(try convertBoxes(cxcywh, from: .cxcywh, to: .xyxy), xyxy)
        let normalised = try convertBoxes(xyxy, from: .xyxy, to: .xyxy, scaleX: 1.0 / 100, scaleY: 1.0 / 200)
        XCTAssertEqual(normalised[2], 0.5)
        XCTAssertEqual(normalised[3], 0.4)
    }

    func testYOLOLineRoundTrip() throws {
        let label = try YOLOLabel(classID: 3, pixelBox: Box(x1: 100, y1: 50, x2: 300, y2: 250), width: 1000, height: 500)
        XCTAssertEqual(label.line, "3 0.200000 0.300000 0.200000 0.400000")
        let parsed = try YOLOLabel(line: label.line[...])
        XCTAssertEqual(parsed.classID, 3)
        XCTAssertEqual(parsed.box.x1, 0.1, accuracy: 1e-12)
        XCTAssertEqual(parsed.box.y2, 0.5, accuracy: 1e-12)
        XCTAssertThrowsError(try YOLOLabel(line: "3 0.1 0.2"))
    }

    func testClassAwareNMSKeepsOverlapsOfOtherLabels() throws {
        let a = Box(x1: 0, y1: 0, x2: 10, y2: 10)
        let b = Box(x1: 1, y1: 0, x2: 11, y2: 10)  // IoU with a = 90/110
        let d = try Detections(boxes: [a, b, b], scores: [0.9, 0.8, 0.7], labels: [0, 0, 1])
        XCTAssertEqual(try nms(d, iouThreshold: 0.5), [0, 2])
        XCTAssertEqual(try nms(d, iouThreshold: 0.9), [0, 1, 2])
    }

    func testLinearSoftNMSDecaysByOneMinusIoU() throws {
        let a = Box(x1: 0, y1: 0, x2: 0.5, y2: 0.5)
        let b = Box(x1: 0.1, y1: 0, x2: 0.6, y2: 0.5)  // IoU = 0.2 / 0.3
        let d = try Detections(boxes: [b, a], scores: [0.6, 0.9], labels: [0, 0])
        let r = try ensembleSoftNMS([d], method: .linear, iouThreshold: 0.3, threshold: 0.1)
        XCTAssertEqual(r.sourceIndices, [1, 0])
        XCTAssertEqual(r.detections.scores, [0.9, 0.6])
        XCTAssertEqual(r.decayedScores[1], 0.6 * (1 - 2.0 / 3.0), accuracy: 1e-12)
        let strict = try ensembleSoftNMS([d], method: .linear, iouThreshold: 0.3, threshold: 0.25)
        XCTAssertEqual(strict.sourceIndices, [1])
    }

    func testEnsembleRepairIsCounted() throws {
        let d = try Detections(boxes: [Box(x1: 0.5, y1: 0.2, x2: -0.1, y2: 1.3), Box(x1: 0.3, y1: 0.3, x2: 0.3, y2: 0.9)],
                               scores: [0.9, 0.8], labels: [0, 0])
        let r = try ensembleNMS([d])
        XCTAssertEqual(r.adjustments.swappedBoxes, 1)
        XCTAssertEqual(r.adjustments.clampedCoordinates, 2)
        XCTAssertEqual(r.adjustments.droppedZeroArea, 1)
        XCTAssertEqual(r.detections.boxes, [Box(x1: 0, y1: 0.2, x2: 0.5, y2: 1)])
    }

    func testWBFFusesByScoreWeightedMean() throws {
        let m1 = try Detections(boxes: [Box(x1: 0.1, y1: 0.1, x2: 0.5, y2: 0.5)], scores: [0.9], labels: [2])
        let m2 = try Detections(boxes: [Box(x1: 0.12, y1: 0.1, x2: 0.52, y2: 0.5)], scores: [0.6], labels: [2])
        let r = try weightedBoxesFusion([m1, m2], options: FusionOptions(iouThreshold: 0.5))
        XCTAssertEqual(r.detections.count, 1)
        let x1 = (0.9 * 0.1 + 0.6 * 0.12) / 1.5
        XCTAssertEqual(r.detections.boxes[0].x1, x1, accuracy: 1e-6)  // float32 accumulation
        XCTAssertEqual(r.detections.scores[0], 0.75 * 2 / 2, accuracy: 1e-6)
        // A third model that saw nothing halves nothing under avg but counts under absent-model-aware.
        let none = Detections()
        let avg = try weightedBoxesFusion([m1, m2, none], options: FusionOptions(iouThreshold: 0.5))
        XCTAssertEqual(avg.detections.scores[0], 0.75 * 2 / 3, accuracy: 1e-6)
        let absent = try weightedBoxesFusion([m1, m2, none], options: FusionOptions(iouThreshold: 0.5, confidenceType: .absentModelAwareAvg))
        XCTAssertEqual(absent.detections.scores[0], 0.75 * 2 / (2 + 1), accuracy: 1e-6)
        let high = try weightedBoxesFusion([m1, m2], options: FusionOptions(iouThreshold: 0.99))
        XCTAssertEqual(high.detections.count, 2)
        XCTAssertEqual(high.detections.scores, [0.45, 0.3])
    }

    func testWBFInPixelsRequiresOrderedCornersAndDoesNotClamp() throws {
        let d = try Detections(boxes: [Box(x1: 100, y1: 100, x2: 900, y2: 700)], scores: [1], labels: [0])
        let r = try weightedBoxesFusion([d], options: FusionOptions(normalisedCoordinates: false))
        XCTAssertEqual(r.detections.boxes, d.boxes)
        XCTAssertTrue(r.adjustments.isEmpty)
        let reversed = try Detections(boxes: [Box(x1: 900, y1: 100, x2: 100, y2: 700)], scores: [1], labels: [0])
        XCTAssertThrowsError(try weightedBoxesFusion([reversed], options: FusionOptions(normalisedCoordinates: false)))
    }

    func testNumpyPairwiseSumDiffersFromNaiveSumWhereNumpyDoes() {
        // 0.1 * 9: the naive left fold gives 0.8999999999999999; numpy's 8-accumulator sum gives 0.9.
        let a = [Double](repeating: 0.1, count: 9)
        XCTAssertEqual(a.reduce(0, +), 0.8999999999999999)
        XCTAssertEqual(numpySum(a), 0.9)
    }
}
