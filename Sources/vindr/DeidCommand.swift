import ArgumentParser
import Foundation
import VinDrDICOM
import VinDrImaging

/// `vindr deid IN OUT`: de-identify and screen a DICOM file or tree (PS3.15 Annex E; VinDr-CXR).
struct DeidCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deid",
        abstract: "De-identify and screen a DICOM file or directory tree into OUT.",
        discussion: """
            Profiles: 'vindr' keeps only the 25 attributes of the paper's Table 4 and names each \
            file <md5 of SOP Instance UID>.dicom (the data set's (0008,0018); the file meta's \
            (0002,0003) when the data set has none); 'basic' applies the PS3.15 Annex E Basic Profile \
            with the Retain Patient Characteristics Option (UIDs replaced under 2.25). Exit status 1 \
            when any file failed. Files of a directory that are no DICOM at all (no DICM prefix at \
            byte 128, such as a README or a zip) are listed as not DICOM, not as failed.

            --scrub-text removes burned-in text from the pixels (the paper's automatic removal of \
            textual information, followed by manual verification): files where text is found get \
            native Explicit VR Little Endian Pixel Data (Implicit VR Little Endian files stay so); \
            the others keep their Pixel Data byte for byte. --review DIR writes a before/after \
            contact sheet <new id>.png of every changed image there for the manual check.

            --screen-pixels adds screening on the pixels of files that pass the header rules \
            (frame 0 rendered with the file's window to 256 pixels on its longest side): aspect \
            ratio, inverted polarity, lateral view (left-right asymmetry) and the dark-lungs / \
            bright-mediastinum layout; flagged files are reported as 'pixels: ...' and not written \
            with --only-accepted.

            Examples:
              vindr deid hospital_export/ release/ --report-csv screening.csv --only-accepted
              vindr deid study/ deidentified/ --profile basic --salt "$SECRET" --mapping private/uids.csv
              vindr deid hospital_export/ release/ --scrub-text --review review/
            """)

    @Argument(help: "DICOM file or directory") var input: String
    @Argument(help: "Output directory (created if missing)") var output: String
    @Option(help: "vindr | basic") var profile = "vindr"
    @Option(help: "Secret mixed into derived UIDs (basic profile)") var salt = ""
    @Option(help: "Write the private original UID -> new id table here") var mapping: String?
    @Option(name: .customLong("report-csv"), help: "Per-file report (CSV)") var reportCSV: String?
    @Option(name: .customLong("report-json"), help: "Per-file report (JSON)") var reportJSON: String?
    @Option(name: .customLong("min-size"), help: "Minimum rows and columns accepted by screening") var minSize = 1024
    @Flag(name: .customLong("only-accepted"), help: "Write only files that pass screening") var onlyAccepted = false
    @Option(help: "Worker threads (0 = one per online core)") var workers = 0
    @Flag(name: .customLong("scrub-text"), help: "Remove burned-in text from the pixels") var scrubText = false
    @Flag(name: .customLong("screen-pixels"), help: "Screen the pixels as well as the header (aspect, polarity, lateral, layout)") var screenPixels = false
    @Option(help: "Write a before/after review sheet of every scrubbed image here (needs --scrub-text)") var review: String?

    func validate() throws {
        guard DeidentificationProfile.named(profile) != nil else { throw ValidationError("unknown profile '\(profile)' (vindr | basic)") }
        guard minSize >= 0, workers >= 0 else { throw ValidationError("--min-size and --workers must be non-negative") }
        guard review == nil || scrubText else { throw ValidationError("--review needs --scrub-text") }
    }

    func run() throws {
        var options = DeidentificationOptions()
        options.profile = DeidentificationProfile.named(profile) ?? .vindr
        options.salt = salt
        options.mappingCSV = mapping
        options.reportCSV = reportCSV
        options.reportJSON = reportJSON
        options.screening.minimumRows = minSize
        options.screening.minimumColumns = minSize
        options.onlyAccepted = onlyAccepted
        options.workers = workers
        options.progress = true
        options.setScrubText(scrubText)
        options.setScreenPixels(screenPixels)
        try options.setReviewDirectory(review)
        if options.profile.naming == .mirror && salt.isEmpty {
            FileHandle.standardError.write(Data("warning: no --salt: anyone who knows an original UID can derive its replacement\n".utf8))
        }
        let summary = try Deidentifier.run(input: input, output: output, options: options)
        for r in summary.records {
            if let error = r.error {
                FileHandle.standardError.write(Data("\(r.status == .notDICOM ? "not DICOM" : "failed"): \(error)\n".utf8))
            }
            if let reason = r.screening { print("\(r.status == .rejected ? "rejected" : "flagged"): \(r.input): \(reason)") }
            if r.burnedInAnnotation { print("burned-in annotation: \(r.input)") }
            if let n = r.textRegions, n > 0, r.status == .written {
                print("scrubbed \(n) text region(s): \(r.input)" + (r.review.map { " (review: \($0))" } ?? ""))
            }
        }
        let scrubbed = scrubText ? ", scrubbed \(summary.scrubbed)" : ""
        print("written \(summary.written), rejected \(summary.rejected), failed \(summary.failed), not DICOM \(summary.notDICOM), burned-in annotation \(summary.burnedIn)" + scrubbed)
        if summary.failed > 0 { throw ExitCode(1) }
    }
}
