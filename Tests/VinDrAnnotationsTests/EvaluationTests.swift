import XCTest
import VinDrBoxes
@testable import VinDrAnnotations

final class EvaluationTests: XCTestCase {
    func testVOCAllPointAPByHand() throws {
        // One image, two ground-truth boxes of class 0; three detections: TP (0.9), FP (0.8), TP (0.7).
        let gt = [GroundTruthBox(image: 0, label: 0, box: Box(x1: 0, y1: 0, x2: 10, y2: 10)),
                  GroundTruthBox(image: 0, label: 0, box: Box(x1: 20, y1: 20, x2: 30, y2: 30))]
        let dets = [ScoredBox(image: 0, label: 0, score: 0.9, box: Box(x1: 0, y1: 0, x2: 10, y2: 10)),
                    ScoredBox(image: 0, label: 0, score: 0.8, box: Box(x1: 50, y1: 50, x2: 60, y2: 60)),
                    ScoredBox(image: 0, label: 0, score: 0.7, box: Box(x1: 21, y1: 21, x2: 30, y2: 30))]
        let e = try evaluateDetections(groundTruth: gt, detections: dets, imageCount: 1)
        // Recall 0.5 at precision 1, recall 1 at precision 2/3: AP = 0.5 * 1 + 0.5 * 2/3.
        XCTAssertEqual(e.ap[0] ?? -1, 0.5 + 0.5 * 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(e.meanAP ?? -1, e.ap[0] ?? -2, accuracy: 0)
        // COCO 101-point: recall thresholds 0..0.5 (51 points) at precision 1, 0.51..1 (50) at 2/3.
        let c = try evaluateDetections(groundTruth: gt, detections: dets, imageCount: 1, interpolation: .coco101)
        XCTAssertEqual(c.ap[0] ?? -1, (51 + 50 * 2.0 / 3.0) / 101, accuracy: 1e-12)
    }

    func testIoUMustExceedThresholdAndDuplicatesAreFalsePositives() throws {
        let gt = [GroundTruthBox(image: 0, label: 1, box: Box(x1: 0, y1: 0, x2: 10, y2: 10))]
        // IoU exactly 0.4 (40 / 100) is not a match under VOC's ">".
        let edge = [ScoredBox(image: 0, label: 1, score: 1, box: Box(x1: 0, y1: 0, x2: 4, y2: 10))]
        XCTAssertEqual(try evaluateDetections(groundTruth: gt, detections: edge, imageCount: 1).ap[1], 0)
        let twice = [ScoredBox(image: 0, label: 1, score: 1, box: gt[0].box), ScoredBox(image: 0, label: 1, score: 0.5, box: gt[0].box)]
        XCTAssertEqual(try evaluateDetections(groundTruth: gt, detections: twice, imageCount: 1).ap[1], 1)
        XCTAssertThrowsError(try evaluateDetections(groundTruth: gt, detections: edge, imageCount: 0))
    }

    func testSubmissionAgainstKaggleGroundTruth() throws {
        let gtPath = temporaryFile("""
            image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
            a,Cardiomegaly,3,R1,100,100,200,200
            b,No finding,14,R1,,,,
            """)
        let subPath = temporaryFile("""
            image_id,PredictionString
            a,3 0.9 100 100 200 200 14 0.2 0 0 1 1
            b,14 1 0 0 1 1
            c,3 0.5 1 1 2 2
            """, name: "sub.csv")
        let index = try AnnotationIndex(paths: [gtPath])
        let r = try index.evaluate(try Submission(path: subPath))
        XCTAssertEqual(r.evaluation.ap[3], 1)
        XCTAssertEqual(r.evaluation.ap[14], 1)  // the false "No finding" on a ranks below the true one
        XCTAssertEqual(r.unknownImages, 1)
        XCTAssertEqual(r.evaluation.meanAP, 1)
        let bad = temporaryFile("image_id,PredictionString\na,3 0.9 100 100 200\n", name: "bad.csv")
        XCTAssertThrowsError(try Submission(path: bad)) { e in
            XCTAssertEqual((e as? CSVError)?.line, 2)
            XCTAssertEqual((e as? CSVError)?.column, "PredictionString")
        }
    }
}
