import CGDCM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// The transfer syntax a transcode writes.
public enum TranscodeTarget: String, Sendable, Codable, CaseIterable {
    /// HTJ2K Lossless Only (1.2.840.10008.1.2.4.201, PS3.5 A.4.11; ISO/IEC 15444-15): one
    /// reversible 5/3 codestream per frame, encapsulated (PS3.5 A.4).
    case htj2k
    /// Explicit VR Little Endian (1.2.840.10008.1.2.1), native Pixel Data (PS3.5 8.1.1, A.2).
    case explicitLittle = "explicit-le"

    /// The transfer syntax UID written into (0002,0010).
    public var transferSyntaxUID: String {
        switch self {
        case .htj2k: return TransferSyntax.htj2kLossless
        case .explicitLittle: return TransferSyntax.explicitLittle
        }
    }
}

/// How `Transcoder` runs.
public struct TranscodeOptions: Sendable {
    public var target: TranscodeTarget = .htj2k
    /// Re-read each output with the SDK and compare its decoded frames with the input's; a
    /// mismatch fails the file and removes the output.
    public var verify = true
    /// Worker threads; 0 = one per online core.
    public var workers = 0
    /// Print a progress line to standard error when it is a terminal.
    public var progress = false

    public init(target: TranscodeTarget = .htj2k, verify: Bool = true, workers: Int = 0) {
        self.target = target
        self.verify = verify
        self.workers = workers
    }
}

/// The outcome for one input file.
public struct TranscodeRecord: Sendable, Codable, Equatable {
    /// `notDICOM`: a file met while walking a directory that is no DICOM file at all
    /// (`DICOMFile.probe`), skipped; a file given as the input itself is `failed` instead.
    public enum Status: String, Sendable, Codable { case written, failed, notDICOM = "not_dicom" }
    public var input: String
    public var status: Status
    public var output: String?
    /// The input's transfer syntax UID (nil when the file could not be read).
    public var sourceSyntax: String?
    /// Why the file could not be transcoded (status `failed` or `notDICOM`); names the file.
    public var error: String?
    public var frames = 0
    public var inputBytes: Int64 = 0
    public var outputBytes: Int64 = 0
    /// The output was re-read and its frames compared with the input's.
    public var verified = false

    enum CodingKeys: String, CodingKey {
        case input, status, output, sourceSyntax = "source_syntax", error, frames, inputBytes = "input_bytes"
        case outputBytes = "output_bytes", verified
    }
}

/// Everything a run did, file by file (in input order).
public struct TranscodeSummary: Sendable, Codable {
    public var target: TranscodeTarget
    public var records: [TranscodeRecord]
    public var written: Int { records.filter { $0.status == .written }.count }
    public var failed: Int { records.filter { $0.status == .failed }.count }
    public var notDICOM: Int { records.filter { $0.status == .notDICOM }.count }

    enum CodingKeys: String, CodingKey { case target, records = "files" }
}

/// Lossless transcoding of DICOM files between HTJ2K Lossless Only (1.2.840.10008.1.2.4.201,
/// PS3.5 A.4.11, ISO/IEC 15444-15) and Explicit VR Little Endian, from any transfer syntax the
/// SDK decodes.
///
/// Each frame is decoded to its stored values (`DICOMFile.decode`) and written again: for HTJ2K
/// as one reversible 5/3 codestream per frame (bit depth Bits Stored, signed when Pixel
/// Representation is 1), one fragment per frame behind a Basic Offset Table that holds every
/// frame's offset (PS3.5 A.4); for Explicit VR Little Endian as native samples (OW for 16-bit,
/// OB for 8-bit). Every other attribute is kept; an Implicit VR Little Endian data set becomes
/// explicit (VRs from the dictionary, UN for unknown private ones); (0002,0010) names the new
/// syntax; the Extended Offset Table (7FE0,0001/0002), which describes the old fragments, goes.
///
/// Lossless from the decoded values: a lossy source (JPEG baseline .50, JPEG 2000 .91, HTJ2K
/// .203 irreversible, JPEG-LS near-lossless) is written without further loss but keeps its
/// earlier loss, so Lossy Image Compression (0028,2110) and its method and ratio are left as
/// they are (PS3.3 C.7.6.1.1.5: once lossy, always "01"), even in a "lossless only" syntax.
///
/// Outputs are written to a hidden temporary sibling, verified (unless `verify` is off), then
/// renamed into place: an output is complete or absent, never partial.
public enum Transcoder {
    /// Transcodes `input` (a file, or a directory walked recursively) to `output`. For a
    /// directory, `output` is a directory (created if missing) mirroring the input tree; for a
    /// file, `output` is the output file, or a directory that exists (the file keeps its name).
    /// Per-file failures are recorded, not thrown; throws when the input is missing or the output
    /// directory cannot be created or written.
    public static func run(input: String, output: String, options: TranscodeOptions) throws -> TranscodeSummary {
        guard let isDir = FileSystem.isDirectory(input) else { throw VinDrError(.io, input, "no such file or directory") }
        let jobs: [(path: String, target: String)]
        let folder: String
        if isDir {
            jobs = try FileSystem.regularFiles(under: input, excluding: output).map { ($0.path, FileSystem.joined(output, $0.relative)) }
            folder = output
        } else if FileSystem.isDirectory(output) == true {
            jobs = [(input, FileSystem.joined(output, FileSystem.lastComponent(input)))]
            folder = output
        } else {
            jobs = [(input, output)]
            folder = FileSystem.parent(output).isEmpty ? "." : FileSystem.parent(output)
        }
        try FileSystem.createDirectories(folder)
        guard access(folder, W_OK | X_OK) == 0 else { throw VinDrError(.io, folder, "output directory is not writable") }
        let records = forEachFile(jobs.count, workers: options.workers, progress: options.progress) { i in
            transcode(jobs[i].path, to: jobs[i].target, options: options, inTree: isDir)
        }
        return TranscodeSummary(target: options.target, records: records)
    }

    /// Transcodes one file; never throws (failures become the record's `error`).
    static func transcode(_ path: String, to target: String, options: TranscodeOptions, inTree: Bool) -> TranscodeRecord {
        var record = TranscodeRecord(input: path, status: .failed)
        do {
            if inTree {
                do {
                    try DICOMFile.probe(path: path)
                } catch let e as VinDrError where e.kind == .format {
                    record.status = .notDICOM
                    record.error = e.description
                    return record
                }
            }
            guard FileSystem.canonical(target) != FileSystem.canonical(path) else {
                throw VinDrError(.argument, path, "the output \(target) would overwrite the input")
            }
            let file = try DICOMFile(path: path)
            let m = file.metadata
            record.sourceSyntax = m.transferSyntaxUID
            record.inputBytes = FileSystem.sizeAndModified(path)?.size ?? 0
            guard m.transferSyntaxUID != TransferSyntax.explicitBig else {
                throw VinDrError(.unsupported, path, "Explicit VR Big Endian (retired) input cannot be transcoded")
            }
            let frames = try (0..<m.frames).map { try file.decode(frame: $0) }
            record.frames = frames.count
            let edit = try EditableDataSet(path: path)
            try edit.makeExplicit()
            switch options.target {
            case .htj2k:
                let streams = try frames.enumerated().map { try HTJ2KEncoder.encode($0.element, bitsStored: m.bitsStored, source: "\(path) frame \($0.offset)") }
                try edit.replaceEncapsulatedPixelData(streams, transferSyntax: options.target.transferSyntaxUID)
            case .explicitLittle:
                var bytes: [UInt8] = []
                bytes.reserveCapacity(frames.reduce(0) { $0 + $1.bytes.count })
                for f in frames { bytes += f.bytes }
                try edit.replacePixelData(bytes, wordSized: m.bitsAllocated > 8, transferSyntax: TransferSyntax.explicitLittle)
            }
            try FileSystem.createDirectories(FileSystem.parent(target))
            let tmp = FileSystem.temporaryPath(for: target)
            try edit.write(to: tmp)
            do {
                if options.verify {
                    try verify(tmp, source: path, against: frames, metadata: m, syntax: options.target.transferSyntaxUID)
                    record.verified = true
                }
                guard rename(tmp, target) == 0 else {
                    throw VinDrError(.io, path, "cannot rename into \(target): \(String(cString: strerror(errno)))")
                }
            } catch {
                unlink(tmp)
                throw error
            }
            record.output = target
            record.outputBytes = FileSystem.sizeAndModified(target)?.size ?? 0
            record.status = .written
        } catch let e as VinDrError {
            record.error = e.description
        } catch {
            record.error = "\(path): \(error)"
        }
        return record
    }

    /// Re-reads the written file `written` and checks it has `syntax`, the input's image
    /// attributes and, frame by frame, the same decoded stored values as `frames`.
    static func verify(_ written: String, source: String, against frames: [StoredPixels], metadata m: DICOMMetadata, syntax: String) throws {
        let out: DICOMFile
        do {
            out = try DICOMFile(path: written)
        } catch let e as VinDrError {
            throw VinDrError(.internal, source, "verification failed: the output cannot be read again: \(e.message)")
        }
        let o = out.metadata
        guard o.transferSyntaxUID == syntax else {
            throw VinDrError(.internal, source, "verification failed: the output reads as transfer syntax \(o.transferSyntaxUID), not \(syntax)")
        }
        guard o.rows == m.rows, o.columns == m.columns, o.frames == m.frames, o.bitsAllocated == m.bitsAllocated,
              o.bitsStored == m.bitsStored, o.sampleFormat == m.sampleFormat else {
            throw VinDrError(.internal, source, "verification failed: the output's image attributes differ from the input's")
        }
        for (i, expected) in frames.enumerated() {
            let got: StoredPixels
            do {
                got = try out.decode(frame: i)
            } catch let e as VinDrError {
                throw VinDrError(.internal, source, "verification failed: frame \(i) of the output does not decode: \(e.message)")
            }
            guard got.bytes == expected.bytes, got.width == expected.width, got.height == expected.height else {
                let at = zip(got.bytes, expected.bytes).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.bytes.count, expected.bytes.count)
                throw VinDrError(.internal, source, "verification failed: frame \(i) of the output differs from the input (first at byte \(at))")
            }
        }
    }
}

/// Lossless HTJ2K encoding of decoded frames (the shim's OpenJPH encoder).
enum HTJ2KEncoder {
    /// The ISO/IEC 15444-15 codestream of `pixels` (full size), reversible, `bitsStored` bits,
    /// signed when the format is.
    static func encode(_ pixels: StoredPixels, bitsStored: Int, source: String) throws -> [UInt8] {
        guard pixels.reduction == 0, bitsStored >= 1, bitsStored <= 8 * pixels.format.bytesPerSample else {
            throw VinDrError(.argument, source, "HTJ2K encode: \(bitsStored) bits stored in \(pixels.format.bytesPerSample)-byte samples")
        }
        var out: UnsafeMutableRawPointer?
        var size = 0
        let rc = pixels.bytes.withUnsafeBytes {
            cgdcm_htj2k_encode($0.baseAddress, $0.count, pixels.width, pixels.height, Int32(pixels.format.bytesPerSample),
                               UInt32(bitsStored), pixels.format.isSigned ? 1 : 0, &out, &size)
        }
        guard rc == CGDCM_OK, let out else {
            throw VinDrError(rc == CGDCM_ERR_ARGUMENT ? .argument : .decode, source, shimMessage())
        }
        defer { free(out) }
        return [UInt8](UnsafeRawBufferPointer(start: out, count: size))
    }
}

/// Runs `body` for 0..<count on `workers` threads (0 = one per online core), each index once;
/// returns the results in index order. With `progress`, a bar is printed to standard error when
/// it is a terminal.
func forEachFile<R>(_ count: Int, workers: Int, progress: Bool, _ body: (Int) -> R) -> [R] {
    var results = [R?](repeating: nil, count: count)
    let lock = Lock()
    var next = 0, done = 0
    let showProgress = progress && isatty(STDERR_FILENO) == 1
    let threads = max(1, min(workers > 0 ? workers : onlineCores(), count))
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        while true {
            lock.lock()
            let i = next
            next += 1
            lock.unlock()
            guard i < count else { return }
            let result = body(i)
            lock.lock()
            results[i] = result
            done += 1
            if showProgress { fputs(Deidentifier.progressLine(done, of: count), stderr) }
            lock.unlock()
        }
    }
    if showProgress { fputs("\n", stderr) }
    return results.compactMap { $0 }
}
