import VinDrBoxes
import XCTest
@testable import VinDrAnnotations

final class SplitTests: XCTestCase {
    func testSplitMix64ReferenceOutputs() {
        // The first outputs of Vigna's splitmix64.c for seed 1234567.
        var r = SplitMix64(seed: 1_234_567)
        XCTAssertEqual((0..<5).map { _ in r.next() },
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                        4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
        var s = SplitMix64(seed: 9)
        for n in [1, 2, 3, 7, 1000] { XCTAssert((0..<50).allSatisfy { _ in (0..<n).contains(s.below(n)) }) }
    }

    func testEachLabelSpreadsByShare() {
        // 20 images of label 3, 10 of label 5 (4 of them also label 3), 6 without labels; 2 folds.
        var labels = [LabelSet](repeating: LabelSet(), count: 36)
        for i in 0..<20 { labels[i].insert(3) }
        for i in 16..<26 { labels[i].insert(5) }
        for seed: UInt64 in [0, 1, 77] {
            let fold = IterativeStratification.assign(labels, proportions: [0.5, 0.5], seed: seed)
            XCTAssertEqual(fold.count, 36)
            XCTAssert(fold.allSatisfy { $0 == 0 || $0 == 1 })
            for label in [3, 5] {
                let inFold0 = labels.indices.filter { labels[$0].contains(label) && fold[$0] == 0 }.count
                let total = labels.filter { $0.contains(label) }.count
                XCTAssertEqual(inFold0, total / 2, "label \(label), seed \(seed)")
            }
            XCTAssertEqual(fold.filter { $0 == 0 }.count, 18)
            XCTAssertEqual(IterativeStratification.assign(labels, proportions: [0.5, 0.5], seed: seed), fold)
        }
        XCTAssertNotEqual(IterativeStratification.assign(labels, proportions: [0.5, 0.5], seed: 0),
                          IterativeStratification.assign(labels, proportions: [0.5, 0.5], seed: 1))
    }

    func testShapesAndTheirErrors() throws {
        XCTAssertEqual(try SplitShape(folds: 4, validation: 0), .folds(4))
        XCTAssertEqual(try SplitShape(folds: 0, validation: 0.25).proportions, [0.75, 0.25])
        XCTAssertThrowsError(try SplitShape(folds: 1, validation: 0)) {
            XCTAssertEqual(($0 as? VinDrError)?.message, "folds must be at least 2, got 1")
        }
        XCTAssertThrowsError(try SplitShape(folds: 3, validation: 0.5))
        XCTAssertThrowsError(try SplitShape(folds: 0, validation: 1))
        XCTAssertThrowsError(try SplitShape.folds(5).check(imageCount: 4)) {
            XCTAssertEqual(($0 as? VinDrError)?.message, "folds 5 exceeds the number of images (4)")
        }
    }
}
