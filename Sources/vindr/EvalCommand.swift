import ArgumentParser
import VinDrAnnotations
import VinDrBoxes

/// `vindr eval`: the VinBigData competition metric of a submission.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a Kaggle submission: PASCAL VOC 2010 mAP at IoU > 0.4 over the classes in the ground truth.",
        discussion: """
            Examples:
              vindr eval --gt train.csv --pred submission.csv --iou 0.4 --json
              vindr eval --gt annotations/annotations_test.csv --pred submission.csv --mode coco
              vindr eval --gt annotations/annotations_train.csv --pred submission.csv --gt-readers fused
              vindr eval --gt train.csv --pred partial_submission.csv --missing empty
              vindr eval --gt annotations/annotations_test.csv --pred submission.csv --coco
            """)

    @Option(help: "Ground truth: Kaggle train.csv layout or PhysioNet annotations_test.csv layout.") var gt: String
    @Option(help: "Submission CSV (image_id,PredictionString).") var pred: String
    @Option(help: "IoU threshold.") var iou = 0.4
    @Option(help: "voc (all-point, the competition's) or coco (101-point).") var mode = "voc"
    @Option(help: "Ground-truth readers: all (every row), fused (the consensus rules, as `vindr fuse` writes them) or a rad_id such as R8.")
    var gtReaders = "all"
    @Option(help: "IoU threshold of the reader fusion with --gt-readers fused.") var fuseIou = 0.4
    @Option(help: "Readers needed for a label and its boxes with --gt-readers fused.") var minVotes = 2
    @Option(help: "Ground-truth images without a submission row: error (exit 1, naming them), skip (left out of the score) or empty (scored as no predictions).")
    var missing = "error"
    @Flag(help: "Print the 12 COCO summary numbers (pycocotools COCOeval, bbox: AP@[.5:.95], AP50, AP75, AP and AR per area, AR@1/10/100) over the 15 Kaggle classes instead.")
    var coco = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let interpolation: APInterpolation = ["voc": .voc2010, "coco": .coco101][mode] else {
            throw ValidationError("--mode must be voc or coco")
        }
        let readers: GroundTruthReaders
        switch gtReaders {
        case "all": readers = .asGiven
        case "fused": readers = .fused(iouThreshold: fuseIou, minimumVotes: minVotes)
        default: readers = .reader(gtReaders)
        }
        guard let missingImages = MissingImages(rawValue: missing) else { throw ValidationError("--missing must be error, skip or empty") }
        guard minVotes >= 1 else { throw ValidationError("--min-votes must be at least 1") }
        let index = try AnnotationIndex(paths: [gt])
        if coco {
            let r = try index.evaluateCOCO(try Submission(path: pred), readers: readers, missing: missingImages)
            if json {
                let named = zip(COCOEvaluation.statNames, r.evaluation.stats).map { ($0, JSONValue.number($1)) }
                let perClass = r.evaluation.categoryAP.enumerated().filter { $0.element > -1 }.map {
                    (Taxonomy.label(kaggleClassID: $0.offset)?.name ?? String($0.offset), JSONValue.number($0.element))
                }
                print(JSONValue.object(named + [("class_ap", .object(perClass)), ("images", .integer(r.images))]).text)
                return
            }
            for (name, v) in zip(COCOEvaluation.statNames, r.evaluation.stats) { print("\(name)\t\(v)") }
            print("(\(r.images) images, \(r.missingImages) without a row\(missingImages == .skip ? " left out" : ""), \(r.unknownImages) unknown ignored)")
            return
        }
        let result = try index.evaluate(try Submission(path: pred), readers: readers, iouThreshold: iou,
                                        interpolation: interpolation, missing: missingImages)
        if json {
            print(result.json.text)
            return
        }
        for (k, ap) in result.evaluation.ap.sorted(by: { $0.key < $1.key }) {
            let name = Taxonomy.label(kaggleClassID: k)?.name ?? String(k)
            print("\(k)\t\(name)\t\(ap)")
        }
        print("mAP\t\(result.evaluation.meanAP.map { String($0) } ?? "n/a")\t(\(result.images) images, "
              + "\(result.missingImages) without a row\(missingImages == .skip ? " left out" : ""), \(result.unknownImages) unknown ignored)")
    }
}
