import ArgumentParser
import Foundation
import VinDrAnnotations
import VinDrLoader

/// `vindr qc`: the labeling platform's rules checked on annotation files, with line numbers.
struct QCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qc", abstract: "Check annotation files against the labeling rules; one line per issue.",
        discussion: """
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
                print("\(rows): \(i.rule.rawValue): image \(i.imageID) reader \(i.reader ?? "consensus"): \(i.message)")
            }
            for rule in QCRule.allCases {
                let n = issues.filter { $0.rule == rule }.count
                if n > 0 { print("\(rule.rawValue): \(n)") }
            }
        }
        if strict && !issues.isEmpty { throw ExitCode.failure }
    }
}
