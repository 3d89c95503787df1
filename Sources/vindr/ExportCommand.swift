import ArgumentParser
import Foundation
import VinDrAnnotations
import VinDrBoxes

/// `vindr export coco|yolo`: training targets in the two common detection formats.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export boxes as COCO JSON, YOLO label files or a Kaggle submission, per reader or fused.",
        discussion: """
            Examples:
              vindr export coco --annotations annotations/annotations_train.csv --sizes sizes.csv -o train_coco.json
              vindr export yolo --annotations train.csv --sizes train_meta.csv --boxes fused -o labels/
              vindr export submission --annotations annotations/annotations_train.csv --sizes sizes.csv --reader R8
            """)

    @Argument(help: "coco, yolo or submission") var format: String
    @Option(name: .customLong("annotations"), help: "Annotation CSV; repeatable.") var annotations: [String]
    @Option(help: "CSV of image sizes (image_id,width,height or image_id,dim0,dim1); required for yolo.") var sizes: String?
    @Option(help: "Box targets: all (every reader's boxes) or fused (the consensus rules: votes, then WBF across readers).") var boxes = "fused"
    @Option(help: "IoU threshold of the fusion.") var iou = 0.4
    @Option(help: "Classes: kaggle (ids 0-13, the competition's) or local (the 22 local labels, ids 0-21).") var classes = "kaggle"
    @Option(name: .shortAndLong, help: "COCO: output JSON file (default: standard output). YOLO: output directory.")
    var output: String?
    @OptionGroup var consensus: ConsensusOptions

    func run() throws {
        guard ["coco", "yolo", "submission"].contains(format) else {
            throw ValidationError("format must be coco, yolo or submission")
        }
        var options = Export.Options(filter: consensus.filter, minimumVotes: consensus.minVotes)
        switch boxes {
        case "all": options.boxes = .all
        case "fused": options.boxes = .fused(iouThreshold: iou, confidenceType: .avg)
        default: throw ValidationError("--boxes must be all or fused")
        }
        guard let classList = Export.Classes(rawValue: classes) else { throw ValidationError("--classes must be kaggle or local") }
        options.classes = classList
        let index = try AnnotationIndex(paths: annotations)
        if let sizes { try Export.loadImageSizes(sizes, into: index) }
        switch format {
        case "submission":
            try writeOutput(try Export.submission(index, options), to: output)
        case "yolo":
            guard let output else { throw ValidationError("yolo needs --output DIRECTORY") }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            for file in try Export.yolo(index, options) { try writeOutput(file.text, to: "\(output)/\(file.name)") }
        default:
            try writeOutput(try Export.coco(index, options), to: output)
        }
    }
}

/// Writes `text` to `path`, or to standard output when nil; failures name the file.
func writeOutput(_ text: String, to path: String?) throws {
    guard let path else {
        print(text, terminator: "")
        return
    }
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        throw CommandError("\(path): cannot write file")
    }
}

/// A command failure whose message is printed as is.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
