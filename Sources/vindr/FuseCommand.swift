import ArgumentParser
import VinDrAnnotations
import VinDrBoxes

/// Options choosing readers and how their boxes combine, shared by `fuse` and `export`.
struct ConsensusOptions: ParsableArguments {
    @Option(help: "Use only this reader (rad_id).") var reader: String?
    @Option(help: "Leave out these readers; repeatable.") var exclude: [String] = []
    @Option(help: "Readers needed for a label and its boxes (2: majority of 3; 1: any reader). \"No finding\" needs a strict majority.")
    var minVotes = 2

    var filter: ReaderFilter { ReaderFilter(reader: reader, excluded: Set(exclude)) }

    func validate() throws {
        guard minVotes >= 1 else { throw ValidationError("--min-votes must be at least 1") }
    }
}

/// `vindr fuse`: one consensus per image under the consensus rules (`ConsensusRules`).
struct FuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse",
        abstract: "Write each image's consensus (votes, then WBF of the boxes) as a CSV: annotations_test.csv layout plus score.",
        discussion: """
            Examples:
              vindr fuse --annotations annotations/annotations_train.csv -o fused_train.csv
              vindr fuse --annotations train.csv --iou 0.5 --min-score 0.6 --exclude R8
            """)

    @Option(name: .customLong("annotations"), help: "Annotation CSV; repeatable.") var annotations: [String]
    @Option(help: "IoU threshold of the fusion.") var iou = 0.4
    @Option(help: "Keep fused boxes whose score (share of readers) is at least this.") var minScore = 0.0
    @Option(name: .shortAndLong, help: "Output CSV (default: standard output).") var output: String?
    @OptionGroup var consensus: ConsensusOptions

    func run() throws {
        let index = try AnnotationIndex(paths: annotations)
        let options = Export.Options(boxes: .fused(iouThreshold: iou, confidenceType: .avg), filter: consensus.filter,
                                     minimumVotes: consensus.minVotes)
        try writeOutput(try Export.consensusCSV(index, options, minimumScore: minScore), to: output)
    }
}
