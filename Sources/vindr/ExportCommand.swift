import ArgumentParser
import Foundation
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM
import VinDrImaging
import VinDrLoader

/// `vindr export coco|yolo`: training targets in the two common detection formats.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export boxes as COCO JSON, YOLO label files or a Kaggle submission, per reader or fused.",
        discussion: """
            With --dicom, yolo and coco write a folder to train from: the images rendered to PNG (--size,
            letterboxed unless --stretch) and the boxes moved with the pixels. yolo: the ultralytics layout
            (images/{train,val}, labels/{train,val}, data.yaml); coco: images/ and annotations.json
            (annotations_train.json and annotations_val.json with a validation split). Images of
            --val-annotations or --val-ids form the validation split; without one everything is train and
            data.yaml's val names the train images. The folder appears complete or not at all.
            With --dicom and --labels-only, image sizes come from the DICOM headers and only the labels are
            written (no --sizes CSV needed). COCO category ids start at 1 (YOLO class k is category k + 1).
            Examples:
              vindr export yolo --annotations annotations/annotations_train.csv --dicom train --out yolo640 --size 640
              vindr export coco --annotations annotations/annotations_train.csv --val-annotations annotations/annotations_test.csv \\
                  --dicom . --out coco1024 --size 1024
              vindr export yolo --annotations train.csv --dicom train --labels-only -o labels/
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
    @Option(name: [.short, .customLong("output"), .customLong("out")],
            help: "COCO: output JSON file (default: standard output). YOLO: output directory. With --dicom: the dataset folder (absent or empty).")
    var output: String?
    @Option(help: "Folder of the DICOMs (<image_id>.dicom/.dcm, any depth): render a training folder, or with --labels-only take sizes from the headers.")
    var dicom: String?
    @Option(help: "With --dicom: output size N (square) or HxW, e.g. 640 or 1024x832 (default: each image's own size).") var size: String?
    @Flag(help: "With --dicom and --size: stretch to the size instead of letterboxing.") var stretch = false
    @Option(help: "Letterbox padding, a display value in [0, 1].") var pad = 0.0
    @Option(help: "Window: dicom, auto or kaggle.") var window = "dicom"
    @Option(help: "Render threads (0 = one per online core).") var workers = 0
    @Option(help: "Annotation CSV whose images form the validation split (e.g. annotations_test.csv); repeatable.")
    var valAnnotations: [String] = []
    @Option(help: "File of image ids (one per line) that form the validation split.") var valIds: String?
    @Option(help: "Annotated images without a DICOM: error (exit 1, naming them) or skip.") var missing = "error"
    @Flag(help: "With --dicom: write only the labels, with image sizes read from the DICOM headers.") var labelsOnly = false
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
        let index = try AnnotationIndex(paths: annotations + valAnnotations)
        if let sizes { try Export.loadImageSizes(sizes, into: index) }
        if let dicom, !labelsOnly {
            guard let trainFormat = TrainingExport.Format(rawValue: format) else { throw ValidationError("--dicom renders yolo or coco, not \(format)") }
            guard let output else { throw ValidationError("--dicom needs --out FOLDER") }
            try renderExport(index, trainFormat, options, dicom: dicom, to: output)
            return
        }
        if let dicom {
            let r = try Dataset.joinImageSizes(root: dicom, index: index)
            for (id, reason) in r.failures { FileHandle.standardError.write("vindr export: \(id): \(reason)\n".data(using: .utf8)!) }
        }
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

extension ExportCommand {
    /// The training folder of `TrainingExport`, with a progress line on standard error.
    func renderExport(_ index: AnnotationIndex, _ format: TrainingExport.Format, _ targets: Export.Options, dicom: String,
                      to output: String) throws {
        guard let w = WindowChoice(name: window) else { throw ValidationError("--window must be dicom, auto or kaggle") }
        var render = RenderOptions(aspect: stretch ? .stretch : .letterbox(pad: pad), window: w)
        if let size {
            let parts = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let h = Int(parts[0]), let w = Int(parts[parts.count - 1]) else {
                throw ValidationError("--size must be N or HxW, got \(size)")
            }
            render.size = .exact(height: h, width: w)
        }
        var options = TrainingExport.Options(format: format, targets: targets, render: render, workers: workers)
        guard let m = MissingImages(rawValue: missing), m != .empty else { throw ValidationError("--missing must be error or skip") }
        options.missing = m
        var validation = Set<String>()
        if !valAnnotations.isEmpty { validation.formUnion(try AnnotationIndex(paths: valAnnotations).images.map(\.id)) }
        if let valIds {
            guard let text = try? String(contentsOfFile: valIds, encoding: .utf8) else { throw VinDrError(.io, valIds, "cannot read the image id list") }
            validation.formUnion(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        options.validation = validation
        let progress = Progress("export", total: index.images.count)
        let report = try TrainingExport.write(index, dicomRoot: dicom, to: output, options: options) { done, _ in progress.update(done) }
        for id in report.skipped { FileHandle.standardError.write("vindr export: \(id): no DICOM, skipped\n".data(using: .utf8)!) }
        print("\(format.rawValue) \(output): \(report.train) train, \(report.val) val images\(report.skipped.isEmpty ? "" : ", \(report.skipped.count) skipped")")
    }
}

/// Writes `text` to `path`, or to standard output when nil; failures name the file.
func writeOutput(_ text: String, to path: String?) throws {
    guard let path else {
        print(text, terminator: "")
        return
    }
    try FileSystem.writeAtomically(Array(text.utf8), to: path)
}
