import ArgumentParser
import VinDrAnnotations
import VinDrBoxes

/// Options choosing readers and how their boxes combine, shared by `fuse` and `export`.
struct ConsensusOptions: ParsableArguments {
    @Option(help: "Use only this reader (rad_id).") var reader: String?
    @Option(help: "Leave out these readers; repeatable.") var exclude: [String] = []
    @Option(help: "Readers needed for a global label by majority vote.") var minVotes = 2

    var filter: ReaderFilter { ReaderFilter(reader: reader, excluded: Set(exclude)) }
}

/// `vindr fuse`: one consensus per image, readers' boxes fused by weighted boxes fusion.
struct FuseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse",
        abstract: "Fuse radiologists' boxes per image (WBF) and write a consensus CSV (annotations_test.csv layout plus score).",
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
        var out = "image_id,class_name,x_min,y_min,x_max,y_max,score\n"
        for image in index.images {
            let fused = try image.consensusBoxes(.fused(iouThreshold: iou, confidenceType: .avg), filter: consensus.filter)
            for i in 0..<fused.count where fused.scores[i] >= minScore {
                let b = fused.boxes[i]
                out += "\(image.id),\(csvField(Taxonomy.labels[fused.labels[i]].name)),\(b.x1),\(b.y1),\(b.x2),\(b.y2),\(fused.scores[i])\n"
            }
            // Global labels (and "No finding") carry no boxes: they are kept by majority vote.
            for l in image.consensusLabels(minimumVotes: consensus.minVotes, filter: consensus.filter)
            where Taxonomy.labels[l].kind == .global {
                out += "\(image.id),\(csvField(Taxonomy.labels[l].name)),,,,,\n"
            }
        }
        try writeOutput(out, to: output)
    }
}
