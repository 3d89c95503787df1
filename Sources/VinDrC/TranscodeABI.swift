#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VinDrDICOM

// Lossless transcoding between HTJ2K Lossless Only (1.2.840.10008.1.2.4.201, PS3.5 A.4.11,
// ISO/IEC 15444-15) and Explicit VR Little Endian (VinDrDICOM's Transcoder). Thread safety:
// concurrent calls are safe when their outputs differ.

/// Targets of vdr_transcode (`to`).
/// HTJ2K Lossless Only (1.2.840.10008.1.2.4.201): one reversible 5/3 codestream per frame,
/// encapsulated (PS3.5 A.4) behind a Basic Offset Table holding every frame's offset.
public let VDR_TRANSCODE_HTJ2K: Int32 = 0
/// Explicit VR Little Endian (1.2.840.10008.1.2.1), native Pixel Data.
public let VDR_TRANSCODE_EXPLICIT_LE: Int32 = 1

/// Transcodes the DICOM file or tree `input` to `output` losslessly from the decoded stored values
/// (`to`: VDR_TRANSCODE_*). A tree is mirrored into the directory `output` (created if missing);
/// for a file, `output` is the output file, or an existing directory. Every other attribute is
/// kept; a lossy source stays flagged by its Lossy Image Compression (0028,2110). Each output is
/// written to a temporary sibling, re-read and compared frame by frame with the input unless
/// `verify` is 0, then renamed into place; a failed file leaves no output. `workers`: threads (0 =
/// one per core). Per-file failures are in the report, not the status; the status is an error
/// when the input is missing, the output directory cannot be created, or an argument is invalid.
/// `counts` (may be NULL) receives 4 values: [0] files seen, [1] written, [2] failed, [3] not DICOM
/// (files of the input folder that are no DICOM at all, skipped). `*report` (may be NULL) receives
/// the per-file report as JSON ({"target", "files": [{"input", "status": "written" | "failed" |
/// "not_dicom", "output", "source_syntax", "error", "frames", "input_bytes", "output_bytes",
/// "verified"}]}); release with vdr_string_destroy.
@c public func vdr_transcode(_ input: UnsafePointer<CChar>?, _ output: UnsafePointer<CChar>?, _ to: Int32, _ verify: Int32,
                             _ workers: Int32, _ counts: UnsafeMutablePointer<UInt>?,
                             _ report: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let input = try requireString(input, "input")
        let output = try requireString(output, "output")
        var options = TranscodeOptions()
        switch to {
        case VDR_TRANSCODE_HTJ2K: options.target = .htj2k
        case VDR_TRANSCODE_EXPLICIT_LE: options.target = .explicitLittle
        default: throw VinDrError(.argument, "unknown transcode target \(to)")
        }
        guard workers >= 0 else { throw VinDrError(.argument, "workers must be 0 or more, got \(workers)") }
        options.verify = verify != 0
        options.workers = Int(workers)
        let summary = try Transcoder.run(input: input, output: output, options: options)
        if let counts {
            for (i, n) in [summary.records.count, summary.written, summary.failed, summary.notDICOM].enumerated() { counts[i] = UInt(n) }
        }
        if let report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try store(String(decoding: try encoder.encode(summary), as: UTF8.self), to: report)
        }
    }
}
