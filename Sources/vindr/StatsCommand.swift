import ArgumentParser
import VinDrAnnotations
import VinDrLoader

/// `vindr stats`: the paper's Table 2 (collection rows from the DICOM headers, label rows in the
/// paper's order; training and test side by side), per-label reader agreement, and Figure 4.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "The VinDr-CXR paper's Table 2 (and Figure 4 with --plot) for a dataset.",
        discussion: """
            Collection rows (scans, median image size, median age, % male/female, data size) come \
            from the DICOM headers under --images / --test-images; label rows count the images \
            per label by majority vote (--min-votes readers) or the consensus reading, with \
            two-decimal percentages. After the table: images marked by any reader, boxes, box F1 \
            and Fleiss' kappa per label, rows and boxes per reader.

            Examples:
              vindr stats --annotations annotations/annotations_train.csv --annotations annotations/image_labels_train.csv
              vindr stats --annotations annotations/image_labels_train.csv --images train \\
                --test-annotations annotations/image_labels_test.csv --test-images test --plot figure4.svg
              vindr stats --annotations train.csv --json
            """)

    @Option(name: .customLong("annotations"), help: "Annotation or image-label CSV of the training split (any VinDr-CXR or Kaggle layout); repeatable.")
    var annotations: [String] = []
    @Option(help: "Folder of the training split's DICOMs (collection rows from their headers).") var images: String?
    @Option(name: .customLong("test-annotations"), help: "Annotation or image-label CSV of the test split; repeatable.")
    var testAnnotations: [String] = []
    @Option(name: .customLong("test-images"), help: "Folder of the test split's DICOMs.") var testImages: String?
    @Option(help: "Readers needed for a majority vote.") var minVotes = 2
    @Option(help: "IoU above which two readers' boxes agree.") var iou = 0.4
    @Option(help: "Draw Figure 4 (label distribution) to this .png or .svg file.") var plot: String?
    @Flag(help: "Print JSON instead of a table.") var json = false

    func validate() throws {
        guard !annotations.isEmpty || images != nil || !testAnnotations.isEmpty || testImages != nil else {
            throw ValidationError("give --annotations CSVs or an --images folder (and the --test-* ones for the test column)")
        }
        guard minVotes >= 1 else { throw ValidationError("--min-votes must be at least 1") }
        if let plot, !(plot.lowercased().hasSuffix(".png") || plot.lowercased().hasSuffix(".svg")) {
            throw ValidationError("--plot takes a file name ending in .png or .svg, got '\(plot)'")
        }
    }

    func run() throws {
        let train = annotations.isEmpty ? nil : try AnnotationIndex(paths: annotations)
        let test = testAnnotations.isEmpty ? nil : try AnnotationIndex(paths: testAnnotations)
        let table = try DatasetCharacteristics.table(train: train, trainImages: images, test: test, testImages: testImages,
                                                     minimumVotes: minVotes, iouThreshold: iou)
        if let plot { try LabelDistributionFigure(table: table).write(to: plot) }
        if json {
            print(table.json.text)
            return
        }
        print(table.report)
    }
}
