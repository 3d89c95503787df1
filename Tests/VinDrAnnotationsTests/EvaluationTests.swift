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
            XCTAssertEqual((e as? VinDrError)?.line, 2)
            XCTAssertEqual((e as? VinDrError)?.column, "PredictionString")
        }
    }

    /// Readers disagree on "No finding" (2 of 3 on `nf`) and on a lone box (`two`).
    let disagreeing = """
        image_id,rad_id,class_name,x_min,y_min,x_max,y_max
        nf,R1,No finding,,,,
        nf,R2,No finding,,,,
        nf,R3,Nodule/Mass,10,10,50,50
        two,R1,Nodule/Mass,726.7,100.1,800.3,200.9
        two,R2,Nodule/Mass,730.2,98.4,805.5,210.25
        two,R3,Aortic enlargement,1000.5,300.25,1200.75,500.125
        """

    func testNoFindingByMajorityExcludesBoxesAndAFusedSubmissionScoresOne() throws {
        let index = try AnnotationIndex(paths: [temporaryFile(disagreeing)])
        let mode = BoxConsensus.fused(iouThreshold: 0.4, confidenceType: .avg)
        XCTAssertEqual(try index.image("nf")!.kaggleConsensus(mode).labels, [14])
        let two = try index.image("two")!.kaggleConsensus(mode)
        XCTAssertEqual(two.labels, [8])
        XCTAssertEqual(two.boxes, [Box(x1: (726.7 + 730.2) / 2, y1: (100.1 + 98.4) / 2, x2: (800.3 + 805.5) / 2,
                                       y2: (200.9 + 210.25) / 2)])
        let submission = try Export.submission(index)
        XCTAssertTrue(submission.contains("\nnf,14 1.0 0.0 0.0 1.0 1.0\n"), submission)
        let path = temporaryFile(submission, name: "perfect.csv")
        let r = try index.evaluate(try Submission(path: path), readers: .fused(iouThreshold: 0.4))
        XCTAssertEqual(r.evaluation.meanAP, 1)
        XCTAssertEqual(r.evaluation.ap, [8: 1, 14: 1])
    }

    func testAConsensusReadingIsNotFusedAgain() throws {
        let index = try AnnotationIndex(paths: [temporaryFile("""
            image_id,class_name,x_min,y_min,x_max,y_max,score
            c,Nodule/Mass,10.1,10.2,50.3,50.4,0.6666666666666666
            c,Nodule/Mass,12.7,11.9,52.1,49.3,
            """)])
        let d = try index.image("c")!.consensusBoxes(.fused(iouThreshold: 0.4, confidenceType: .avg))
        XCTAssertEqual(d.boxes, [Box(x1: 10.1, y1: 10.2, x2: 50.3, y2: 50.4), Box(x1: 12.7, y1: 11.9, x2: 52.1, y2: 49.3)])
        XCTAssertEqual(d.scores, [2.0 / 3.0, 1])  // a blank score is 1
        let bad = temporaryFile("image_id,class_name,x_min,y_min,x_max,y_max,score\nc,Nodule/Mass,1,2,3,4,high\n")
        XCTAssertThrowsError(try AnnotationIndex(paths: [bad])) { e in
            XCTAssertEqual((e as? VinDrError)?.column, "score")
            XCTAssertEqual((e as? VinDrError)?.line, 2)
        }
    }

    func testMissingImagesAreAnErrorUnlessScoredEmptyOrSkipped() throws {
        let index = try AnnotationIndex(paths: [temporaryFile(disagreeing)])
        let path = temporaryFile("image_id,PredictionString\ntwo,8 0.9 728 99 803 205\n", name: "partial.csv")
        let submission = try Submission(path: path)
        XCTAssertThrowsError(try index.evaluate(submission, readers: .fused(iouThreshold: 0.4))) { e in
            XCTAssertTrue(String(describing: e).contains("no row for 1 of 2 ground-truth images: nf"), "\(e)")
        }
        let r = try index.evaluate(submission, readers: .fused(iouThreshold: 0.4), missing: .empty)
        XCTAssertEqual(r.missingImages, 1)
        XCTAssertEqual(r.evaluation.ap, [8: 1, 14: 0])
        // Skipped: the "No finding" image leaves the scoring, and its class with it.
        let s = try index.evaluate(submission, readers: .fused(iouThreshold: 0.4), missing: .skip)
        XCTAssertEqual(s.images, 1)
        XCTAssertEqual(s.missingImages, 1)
        XCTAssertEqual(s.evaluation.ap, [8: 1])
    }
}
