import ArgumentParser
import VinDrAnnotations

/// `vindr stats`: the paper's Table 2 (images per label by majority vote and by any reader),
/// rows and boxes per reader and class, and inter-reader agreement.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Label statistics in the layout of the VinDr-CXR paper's Table 2.",
        discussion: """
            Examples:
              vindr stats --annotations annotations/annotations_train.csv --annotations annotations/image_labels_train.csv
              vindr stats --annotations train.csv --json
            """)

    @Option(name: .customLong("annotations"), help: "Annotation or image-label CSV (any VinDr-CXR or Kaggle layout); repeatable.")
    var annotations: [String]
    @Option(help: "Readers needed for a majority vote.") var minVotes = 2
    @Option(help: "IoU above which two readers' boxes agree.") var iou = 0.4
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard !annotations.isEmpty else { throw ValidationError("give at least one --annotations CSV") }
        guard minVotes >= 1 else { throw ValidationError("--min-votes must be at least 1") }
    }

    func run() throws {
        let index = try AnnotationIndex(paths: annotations)
        let stats = index.statistics(minimumVotes: minVotes, iouThreshold: iou)
        print(json ? stats.json.text : stats.table)
    }
}
