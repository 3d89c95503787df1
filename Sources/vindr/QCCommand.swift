import ArgumentParser
import Foundation
import VinDrAnnotations
import VinDrLoader

/// `vindr qc`: the labeling platform's rules checked on annotation files, with line numbers.
struct QCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qc", abstract: "Check annotation files against the labeling rules; one line per issue.",
        discussion: """
            Each line is FILE:LINE[, ...]: RULE: image ID reader R: message; then the count of each
            rule found and the number of distinct reader ids (17 in the released training set).
            Rules: lesion_with_no_finding, no_global_label (a local finding without any global
            label; needs the image_labels file), no_image_label, train_reader_count (not 3
            readers), test_reading_count (consensus image also read by radiologists),
            reversed_corners, degenerate_box, out_of_image, duplicate_row, missing_box,
            box_on_global_label.

            Examples:
              vindr qc --annotations annotations/annotations_train.csv --annotations annotations/image_labels_train.csv
              vindr qc --annotations annotations/annotations_train.csv --images /data/vindr-cxr --json
              vindr qc --annotations train.csv --sizes train_meta.csv --strict
            """)

    @Option(name: .customLong("annotations"), help: "Annotation or image-label CSV; repeatable.") var annotations: [String]
    @Option(help: "CSV of image sizes (image_id,width,height or Kaggle's image_id,dim0,dim1) for out-of-image checks.")
    var sizes: String?
    @Option(help: "Dataset root: image sizes are read from the DICOM headers found under it (train/, test/ or any tree).")
    var images: String?
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Exit with status 1 when any issue is found.") var strict = false

    func run() throws {
        let index = try AnnotationIndex(paths: annotations)
        if let sizes { try Export.loadImageSizes(sizes, into: index) }
        if let images {
            let joined = try Dataset.joinImageSizes(root: images, index: index)
            for (id, reason) in joined.failures { FileHandle.standardError.write("vindr qc: image \(id): \(reason)\n".data(using: .utf8)!) }
        }
        let issues = index.qualityIssues()
        if json {
            print(index.qualityReportJSON(issues))
        } else {
            for i in issues {
                let rows = i.locations.map { index.describe($0) }.joined(separator: ", ")
                let reader = i.rule.isImageLevel ? "" : " reader \(i.reader ?? "consensus")"
                print("\(rows): \(i.rule.rawValue): image \(i.imageID)\(reader): \(i.message)")
            }
            for rule in QCRule.allCases {
                let n = issues.filter { $0.rule == rule }.count
                if n > 0 { print("\(rule.rawValue): \(n)") }
            }
            let readers = index.sortedReaderIDs
            print("reader_count: \(readers.count)\(readers.isEmpty ? "" : " (" + readers.joined(separator: ", ") + ")")")
        }
        if strict && !issues.isEmpty { throw ExitCode.failure }
    }
}
