import XCTest
@testable import VinDrBoxes

final class COCOEvaluationTests: XCTestCase {
    /// A small truth box found, a large one missed, a small false positive: each area range's
    /// numbers worked out by hand from COCOeval's rules (precision tp / (tp + fp + eps)).
    func testAreaRangesAndIgnoredMatchesByHand() throws {
        let small = Box(x1: 0, y1: 0, x2: 10, y2: 10), large = Box(x1: 100, y1: 100, x2: 200, y2: 200)
        let gt = [GroundTruthBox(image: 0, label: 0, box: small), GroundTruthBox(image: 0, label: 0, box: large)]
        let dets = [ScoredBox(image: 0, label: 0, score: 0.9, box: small),
                    ScoredBox(image: 0, label: 0, score: 0.8, box: Box(x1: 300, y1: 300, x2: 310, y2: 310))]
        let e = try COCOEvaluation.evaluate(groundTruth: gt, detections: dets, imageCount: 1, categoryCount: 2)
        let p1 = 1 / (1 + Double.ulpOfOne)
        // all: recall 0.5 reached at precision p1, so 51 of the 101 recall points score p1.
        // small: the large truth is ignored, the small one found: p1 everywhere.
        // medium: no truth inside, -1. large: the only detection near truth matched an ignored
        // box and the false one lies outside the range, so both are ignored: AP 0, AR 0.
        let a = 51 * p1 / 101
        let want = [a, a, a, p1, -1, 0, 0.5, 0.5, 0.5, 1, -1, 0]
        for (got, w) in zip(e.stats, want) { XCTAssertEqual(got, w, accuracy: 1e-15) }
        XCTAssertEqual(e.categoryAP[1], -1)
        XCTAssertEqual(e.categoryAP[0], a, accuracy: 1e-15)
    }

    func testThresholdsAreNumpysLinspace() {
        XCTAssertEqual(COCOEvaluation.iouThresholds.count, 10)
        XCTAssertEqual(COCOEvaluation.iouThresholds[5], 0.75)
        XCTAssertEqual(COCOEvaluation.iouThresholds[8], 0.8999999999999999)  // 8 * (0.45 / 9) + 0.5 in doubles
        XCTAssertEqual(COCOEvaluation.recallThresholds.count, 101)
        XCTAssertEqual(COCOEvaluation.recallThresholds.last, 1)
    }

    func testRejectsLabelsAndImagesOutOfRange() {
        let b = Box(x1: 0, y1: 0, x2: 1, y2: 1)
        XCTAssertThrowsError(try COCOEvaluation.evaluate(groundTruth: [GroundTruthBox(image: 0, label: 2, box: b)], detections: [],
                                                         imageCount: 1, categoryCount: 2))
        XCTAssertThrowsError(try COCOEvaluation.evaluate(groundTruth: [], detections: [ScoredBox(image: 1, label: 0, score: 1, box: b)],
                                                         imageCount: 1, categoryCount: 2))
        XCTAssertEqual(try COCOEvaluation.evaluate(groundTruth: [], detections: [], imageCount: 0, categoryCount: 3).stats,
                       [Double](repeating: -1, count: 12))
    }
}
