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
    @Option(help: "Box targets: all (every reader's boxes) or fused (WBF across readers).") var boxes = "fused"
    @Option(help: "IoU threshold of the fusion.") var iou = 0.4
    @Option(help: "Classes: kaggle (ids 0-13, the competition's) or local (the 22 local labels, ids 0-21).") var classes = "kaggle"
    @Option(name: .shortAndLong, help: "COCO: output JSON file (default: standard output). YOLO: output directory.")
    var output: String?
    @OptionGroup var consensus: ConsensusOptions

    func run() throws {
        guard ["coco", "yolo", "submission"].contains(format) else {
            throw ValidationError("format must be coco, yolo or submission")
        }
        let mode: BoxConsensus
        switch boxes {
        case "all": mode = .all
        case "fused": mode = .fused(iouThreshold: iou, confidenceType: .avg)
        default: throw ValidationError("--boxes must be all or fused")
        }
        let local = Taxonomy.labels.filter { $0.kind == .local }
        let classList: [Label]
        switch classes {
        case "kaggle": classList = Taxonomy.kaggleClasses.filter { $0.kind == .local }
        case "local": classList = local
        default: throw ValidationError("--classes must be kaggle or local")
        }
        var classID = [Int: Int]()
        for (k, l) in classList.enumerated() { classID[l.index] = k }

        let index = try AnnotationIndex(paths: annotations)
        if let sizes { try loadImageSizes(sizes, into: index) }
        if format == "submission" {
            // Kaggle classes with their scores; "No finding" by majority vote as `14 1 0 0 1 1`.
            var submission = Submission()
            for image in index.images {
                let d = try image.consensusBoxes(mode, filter: consensus.filter)
                var p = Detections()
                for i in 0..<d.count {
                    if let c = Taxonomy.labels[d.labels[i]].kaggleClassID { p.append(d.boxes[i], score: d.scores[i], label: c) }
                }
                if image.consensusLabels(minimumVotes: consensus.minVotes, filter: consensus.filter).contains(Taxonomy.noFinding.index) {
                    p.append(noFindingBox, score: 1, label: 14)
                }
                submission.imageIDs.append(image.id)
                submission.predictions[image.id] = p
            }
            try writeOutput(submission.csvText, to: output)
            return
        }
        if format == "yolo" {
            guard let output else { throw ValidationError("yolo needs --output DIRECTORY") }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            for image in index.images {
                guard let w = image.width, let h = image.height else {
                    throw CommandError("no size for image \(image.id): give --sizes with every image's width and height")
                }
                let d = try image.consensusBoxes(mode, filter: consensus.filter)
                var text = ""
                for i in 0..<d.count {
                    guard let c = classID[d.labels[i]] else { continue }
                    text += try YOLOLabel(classID: c, pixelBox: d.boxes[i], width: w, height: h).line + "\n"
                }
                try writeOutput(text, to: "\(output)/\(image.id).txt")
            }
            try writeOutput(classList.map(\.name).joined(separator: "\n") + "\n", to: "\(output)/classes.txt")
            return
        }
        var cocoImages = [JSONValue](), cocoAnnotations = [JSONValue]()
        for (k, image) in index.images.enumerated() {
            var fields: [(String, JSONValue)] = [("id", .integer(k + 1)), ("file_name", .string("\(image.id).dicom"))]
            if let w = image.width, let h = image.height { fields += [("width", .integer(w)), ("height", .integer(h))] }
            cocoImages.append(.object(fields))
            let d = try image.consensusBoxes(mode, filter: consensus.filter)
            for i in 0..<d.count {
                guard let c = classID[d.labels[i]] else { continue }
                let b = d.boxes[i]
                cocoAnnotations.append(.object([
                    ("id", .integer(cocoAnnotations.count + 1)), ("image_id", .integer(k + 1)), ("category_id", .integer(c)),
                    ("bbox", .array([.number(b.x1), .number(b.y1), .number(b.width), .number(b.height)])),
                    ("area", .number(b.area)), ("iscrowd", .integer(0)), ("score", .number(d.scores[i])),
                ]))
            }
        }
        let categories: [JSONValue] = classList.enumerated().map { .object([("id", .integer($0.offset)), ("name", .string($0.element.name))]) }
        let doc = JSONValue.object([("images", .array(cocoImages)), ("annotations", .array(cocoAnnotations)),
                                    ("categories", .array(categories))])
        try writeOutput(doc.text + "\n", to: output)
    }
}

/// Reads image sizes from `image_id,width,height` or Kaggle's `image_id,dim0,dim1` (rows, columns).
func loadImageSizes(_ path: String, into index: AnnotationIndex) throws {
    var columns: (id: Int, width: Int, height: Int)?
    try CSVReader.forEachRow(path: path) { row in
        guard let c = columns else {
            let names = (0..<row.count).map { row.string($0).lowercased() }
            guard let id = names.firstIndex(of: "image_id") else {
                throw CSVError(file: path, line: row.line, reason: "no image_id column")
            }
            if let w = names.firstIndex(of: "width"), let h = names.firstIndex(of: "height") {
                columns = (id, w, h)
            } else if let h = names.firstIndex(of: "dim0"), let w = names.firstIndex(of: "dim1") {
                columns = (id, w, h)
            } else {
                throw CSVError(file: path, line: row.line, reason: "need width,height or dim0,dim1 columns")
            }
            return
        }
        guard let w = row.double(c.width).flatMap({ Int(exactly: $0) }), let h = row.double(c.height).flatMap({ Int(exactly: $0) }),
              w > 0, h > 0 else {
            throw CSVError(file: path, line: row.line, reason: "image size must be two positive integers")
        }
        let id = row.string(c.id)
        if index.position(of: id) != nil { try index.setImageSize(id, width: w, height: h) }
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

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// A command failure whose message is printed as is.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
