#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVinDrHandles
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VinDrDICOM
import VinDrImaging

// De-identification and screening (PS3.15 Annex E; the VinDr-CXR release). Thread safety: an
// options handle may be shared by concurrent vdr_deidentify calls once it is no longer modified;
// a result handle is read-only.

/// Integer options (vdr_deid_options_set_int).
/// Profile: VDR_DEID_PROFILE_VINDR (default) or VDR_DEID_PROFILE_BASIC.
public let VDR_DEID_PROFILE: Int32 = 1
/// Minimum Rows accepted by screening (default 1024).
public let VDR_DEID_MIN_ROWS: Int32 = 2
/// Minimum Columns accepted by screening (default 1024).
public let VDR_DEID_MIN_COLUMNS: Int32 = 3
/// Worker threads for a tree (0 = one per core, the default).
public let VDR_DEID_WORKERS: Int32 = 4
/// 1: write only files that pass screening (default 0: write all, report the screening).
public let VDR_DEID_ONLY_ACCEPTED: Int32 = 5
/// 1: print a progress line to standard error when it is a terminal.
public let VDR_DEID_PROGRESS: Int32 = 6
/// Minimum Patient's Age in years accepted by screening (default 18).
public let VDR_DEID_MIN_AGE: Int32 = 7
/// 1: remove burned-in text from the pixels (TextScrubber; default 0: Pixel Data copied verbatim).
public let VDR_DEID_SCRUB_TEXT: Int32 = 8
/// 1: screen the pixels as well as the header (PixelScreening: aspect, inverted polarity, lateral
/// view, intensity layout; default 0).
public let VDR_DEID_SCREEN_PIXELS: Int32 = 9

/// String options (vdr_deid_options_set_string; NULL clears a path).
/// Secret mixed into derived UIDs (basic profile).
public let VDR_DEID_SALT: Int32 = 20
/// Path of the private original UID -> new id CSV (written only when set).
public let VDR_DEID_MAPPING_CSV: Int32 = 21
/// Path of the per-file CSV report.
public let VDR_DEID_REPORT_CSV: Int32 = 22
/// Path of the per-file JSON report.
public let VDR_DEID_REPORT_JSON: Int32 = 23
/// Directory for the review contact sheets of scrubbed images (requires VDR_DEID_SCRUB_TEXT = 1).
public let VDR_DEID_REVIEW_DIR: Int32 = 24

/// VDR_DEID_PROFILE values.
/// The VinDr-CXR release whitelist (25 attributes), files named by the MD5 of their SOP Instance UID.
public let VDR_DEID_PROFILE_VINDR: Int32 = 0
/// PS3.15 Annex E Basic Profile with the Retain Patient Characteristics Option.
public let VDR_DEID_PROFILE_BASIC: Int32 = 1

final class DeidOptionsBox {
    var options = DeidentificationOptions()
}

final class DeidResultBox {
    let summary: DeidentificationSummary
    let json: String
    init(_ summary: DeidentificationSummary) throws {
        self.summary = summary
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        json = String(decoding: try encoder.encode(summary), as: UTF8.self)
    }
}

/// Creates de-identification options with the defaults; destroy with vdr_deid_options_destroy.
@c public func vdr_deid_options_create(_ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_deid_options>?>?) -> Int32 {
    abiCall {
        try store(DeidOptionsBox(), to: out)
    }
}

/// Releases options from vdr_deid_options_create; NULL is accepted.
@c public func vdr_deid_options_destroy(_ options: UnsafeMutablePointer<vdr_deid_options>?) {
    DeidOptionsBox.destroy(options)
}

/// Sets an integer option (VDR_DEID_* of the integer group).
@c public func vdr_deid_options_set_int(_ options: UnsafeMutablePointer<vdr_deid_options>?, _ key: Int32, _ value: Int64) -> Int32 {
    abiCall {
        let box = try DeidOptionsBox.from(options)
        func count(_ name: String) throws -> Int {
            guard value >= 0, value <= Int64(Int32.max) else {
                throw VinDrError(.argument, "\(name) must be between 0 and \(Int32.max), got \(value)")
            }
            return Int(value)
        }
        switch key {
        case VDR_DEID_PROFILE:
            switch value {
            case Int64(VDR_DEID_PROFILE_VINDR): box.options.profile = .vindr
            case Int64(VDR_DEID_PROFILE_BASIC): box.options.profile = .basic
            default: throw VinDrError(.argument, "unknown de-identification profile \(value)")
            }
        case VDR_DEID_MIN_ROWS: box.options.screening.minimumRows = try count("minimum rows")
        case VDR_DEID_MIN_COLUMNS: box.options.screening.minimumColumns = try count("minimum columns")
        case VDR_DEID_WORKERS: box.options.workers = try count("workers")
        case VDR_DEID_ONLY_ACCEPTED: box.options.onlyAccepted = value != 0
        case VDR_DEID_PROGRESS: box.options.progress = value != 0
        case VDR_DEID_MIN_AGE: box.options.screening.minimumAgeYears = try count("minimum age")
        case VDR_DEID_SCRUB_TEXT: box.options.setScrubText(value != 0)
        case VDR_DEID_SCREEN_PIXELS: box.options.setScreenPixels(value != 0)
        default: throw VinDrError(.argument, "unknown integer de-identification option \(key)")
        }
    }
}

/// Sets a string option (VDR_DEID_* of the string group); `value` is UTF-8, NULL clears a path.
@c public func vdr_deid_options_set_string(_ options: UnsafeMutablePointer<vdr_deid_options>?, _ key: Int32, _ value: UnsafePointer<CChar>?) -> Int32 {
    abiCall {
        let box = try DeidOptionsBox.from(options)
        let text = value.map { String(cString: $0) }
        switch key {
        case VDR_DEID_SALT: box.options.salt = text ?? ""
        case VDR_DEID_MAPPING_CSV: box.options.mappingCSV = text
        case VDR_DEID_REPORT_CSV: box.options.reportCSV = text
        case VDR_DEID_REPORT_JSON: box.options.reportJSON = text
        case VDR_DEID_REVIEW_DIR: try box.options.setReviewDirectory(text)
        default: throw VinDrError(.argument, "unknown string de-identification option \(key)")
        }
    }
}

/// De-identifies the DICOM file or tree `input` into the directory `output` (created if missing).
/// Per-file failures and screening results are in the result, not the status; the status is an
/// error when the input is missing or the output directory cannot be created or written.
/// On success `*result` receives a handle to destroy with vdr_deid_result_destroy.
@c public func vdr_deidentify(_ input: UnsafePointer<CChar>?, _ output: UnsafePointer<CChar>?,
                              _ options: UnsafeMutablePointer<vdr_deid_options>?,
                              _ result: UnsafeMutablePointer<UnsafeMutablePointer<vdr_deid_result>?>?) -> Int32 {
    abiCall {
        let input = try requireString(input, "input")
        let output = try requireString(output, "output")
        let opts = try DeidOptionsBox.from(options).options
        let result = try require(result, "result")
        let summary = try Deidentifier.run(input: input, output: output, options: opts)
        try store(try DeidResultBox(summary), to: result)
    }
}

/// Counts of a run: counts[0] files seen, [1] written, [2] rejected by screening, [3] failed,
/// [4] flagged Burned In Annotation = YES. `counts` must hold 5 values. Files of the input folder
/// that are no DICOM at all are seen but not failed (status "not_dicom" in the JSON report); files
/// whose text was scrubbed have "text_regions" in it.
@c public func vdr_deid_result_counts(_ result: UnsafeMutablePointer<vdr_deid_result>?, _ counts: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let s = try DeidResultBox.from(result).summary
        let counts = try require(counts, "counts")
        for (i, n) in [s.records.count, s.written, s.rejected, s.failed, s.burnedIn].enumerated() { counts[i] = UInt(n) }
    }
}

/// The per-file report as JSON (the same document as VDR_DEID_REPORT_JSON); *out: release with
/// vdr_string_destroy.
@c public func vdr_deid_result_json(_ result: UnsafeMutablePointer<vdr_deid_result>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { try store(try DeidResultBox.from(result).json, to: out) }
}

/// Releases a result from vdr_deidentify; NULL is accepted.
@c public func vdr_deid_result_destroy(_ result: UnsafeMutablePointer<vdr_deid_result>?) {
    DeidResultBox.destroy(result)
}

/// Screens the pixels of an open file with the default PixelScreening rules (frame 0, rendered
/// with the file's window to 256 pixels on its longest side) and writes them as JSON to *out:
/// {"aspect"|"inverted"|"lateral"|"layout": {"flagged": bool, "value": number, "threshold":
/// [number...]}}; release with vdr_string_destroy. The same rules as VDR_DEID_SCREEN_PIXELS.
@c public func vdr_dicom_screen_pixels(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let file = try DICOMFile.from(handle)
        try store(try PixelScreening().evaluate(file).json(), to: out)
    }
}

/// Removes burned-in text from one monochrome image of unsigned 16-bit stored values, in place
/// (TextScrubber: top-hat strokes, glyph components clustered in lines, filled from the
/// surrounding background; the VinDr-CXR paper's de-identification step). `pixels`: `height`
/// rows `row_stride` bytes apart, each of `width` samples, `size` bytes in all. `mask` (may be
/// NULL): `height` rows of `width` bytes, `mask_stride` apart, `mask_size` bytes in all,
/// receiving 1 on text pixels and 0 elsewhere. `*changed` (may be NULL) receives the number of
/// pixels whose value changed.
@c public func vdr_scrub_text(_ pixels: UnsafeMutableRawPointer?, _ size: UInt, _ width: UInt, _ height: UInt, _ row_stride: UInt,
                              _ mask: UnsafeMutableRawPointer?, _ mask_size: UInt, _ mask_stride: UInt,
                              _ changed: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let pixels = try require(pixels, "pixels")
        let size = try count(size, "size"), width = try count(width, "width"), height = try count(height, "height")
        let row_stride = try count(row_stride, "row_stride")
        let mask_size = try count(mask_size, "mask_size"), mask_stride = try count(mask_stride, "mask_stride")
        let result = try TextScrubber.scrub(uint16: UnsafeMutableRawBufferPointer(start: pixels, count: size), width: width, height: height,
                                            rowStride: row_stride, mask: mask.map { UnsafeMutableRawBufferPointer(start: $0, count: mask_size) },
                                            maskStride: mask_stride)
        changed?.pointee = UInt(result.changed)
    }
}
