import ArgumentParser
import VinDrAnnotations

/// `vindr split`: seeded k-fold or train/validation folds, stratified on the consensus labels
/// (`AnnotationIndex.split`, iterative stratification).
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Assign every image to a fold (k folds, or train 0 / validation 1), stratified on its consensus labels.",
        discussion: """
            Iterative multi-label stratification (Sechidis et al. 2011) of each image's consensus labels. \
            The same --seed gives the same folds here, in Python (Annotations.split) and in C \
            (vdr_annotations_split). Output: CSV image_id,fold in image_id order.

            Examples:
              vindr split --annotations image_labels_train.csv --folds 5 --seed 42
              vindr split --annotations train.csv --validation 0.2 -o folds.csv
            """)

    @Option(name: .customLong("annotations"), help: "Annotation or image-label CSV (any VinDr-CXR or Kaggle layout); repeatable.")
    var annotations: [String]
    @Option(help: "Number of folds (k >= 2).") var folds: Int?
    @Option(help: "Validation fraction in (0, 1): fold 1 is validation, fold 0 train.") var validation: Double?
    @Option(help: "Seed of the shuffle and tie-breaking (0 ... 2^64-1).") var seed: UInt64 = 0
    @Option(name: .shortAndLong, help: "Output CSV file (default: standard output).") var output: String?
    @OptionGroup var consensus: ConsensusOptions

    func validate() throws {
        guard !annotations.isEmpty else { throw ValidationError("give at least one --annotations CSV") }
        guard (folds == nil) != (validation == nil) else { throw ValidationError("give exactly one of --folds and --validation") }
        do { _ = try shape } catch { throw ValidationError("\(error)") }
    }

    /// The split's shape, validated by the library (`SplitShape`).
    var shape: SplitShape {
        get throws {
            let shape: SplitShape = folds.map { .folds($0) } ?? .validation(validation ?? 0)
            try shape.check(imageCount: nil)
            return shape
        }
    }

    func run() throws {
        let index = try AnnotationIndex(paths: annotations)
        try writeOutput(try index.splitCSV(try shape, seed: seed, minimumVotes: consensus.minVotes, filter: consensus.filter),
                        to: output)
    }
}
