import ArgumentParser
import Foundation
import VinDrDICOM

/// `vindr transcode IN OUT --to htj2k|explicit-le`: lossless transcoding (PS3.5 A.4.11, ISO/IEC 15444-15).
struct TranscodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcode",
        abstract: "Transcode a DICOM file or directory tree losslessly to HTJ2K or Explicit VR Little Endian.",
        discussion: """
            --to htj2k writes HTJ2K Lossless Only (1.2.840.10008.1.2.4.201): one reversible 5/3 \
            codestream per frame, encapsulated behind a Basic Offset Table (PS3.5 A.4). --to \
            explicit-le writes native Explicit VR Little Endian (1.2.840.10008.1.2.1). Any syntax \
            the SDK reads is accepted (HTJ2K, JPEG 2000, JPEG-LS, RLE, JPEG, native, deflated); \
            Explicit VR Big Endian is not. The transcode is lossless from the decoded values: a \
            lossy source keeps its earlier loss and its Lossy Image Compression (0028,2110). \
            Every other attribute is kept. A directory is mirrored into OUT; its files that are \
            no DICOM at all are skipped and listed. For a file, OUT is the output file or an \
            existing directory. Each output is written to a temporary file, re-read and compared \
            frame by frame with the input (unless --no-verify), then renamed into place: a failed \
            file leaves no output. Exit status 1 when any file failed.

            Examples:
              vindr transcode archive/ archive-htj2k/ --to htj2k
              vindr transcode image.dcm image-native.dcm --to explicit-le
            """)

    @Argument(help: "DICOM file or directory") var input: String
    @Argument(help: "Output file, or directory (created if missing)") var output: String
    @Option(help: "htj2k | explicit-le") var to: String
    @Flag(name: .customLong("no-verify"), help: "Do not re-read and compare the outputs") var noVerify = false
    @Option(help: "Worker threads (0 = one per online core)") var workers = 0

    func validate() throws {
        guard TranscodeTarget(rawValue: to) != nil else { throw ValidationError("unknown --to '\(to)' (htj2k | explicit-le)") }
        guard workers >= 0 else { throw ValidationError("--workers must be non-negative") }
    }

    func run() throws {
        var options = TranscodeOptions(target: TranscodeTarget(rawValue: to) ?? .htj2k, verify: !noVerify, workers: workers)
        options.progress = true
        let summary = try Transcoder.run(input: input, output: output, options: options)
        var inBytes: Int64 = 0, outBytes: Int64 = 0
        for r in summary.records {
            if let error = r.error {
                FileHandle.standardError.write(Data("\(r.status == .notDICOM ? "not DICOM" : "failed"): \(error)\n".utf8))
            }
            if r.status == .written {
                inBytes += r.inputBytes
                outBytes += r.outputBytes
            }
        }
        let ratio = inBytes > 0 ? String(format: ", %.3f of the input size", Double(outBytes) / Double(inBytes)) : ""
        print("written \(summary.written) (\(outBytes) bytes\(ratio)\(noVerify ? ", not verified" : ", verified")), failed \(summary.failed), not DICOM \(summary.notDICOM)")
        if summary.failed > 0 { throw ExitCode(1) }
    }
}
