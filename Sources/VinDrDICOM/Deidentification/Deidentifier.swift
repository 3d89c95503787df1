import CGDCM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How `Deidentifier` runs: the profile, the UID secret, screening, outputs and reports.
public struct DeidentificationOptions: Sendable {
    public var profile: DeidentificationProfile = .vindr
    /// Secret mixed into derived UIDs (basic profile): without it anyone holding an original UID
    /// can recompute its replacement. Keep it private and reuse it to keep UIDs consistent.
    public var salt = ""
    public var screening = ScreeningRules()
    /// Write only files that pass screening (rejected files are still reported).
    public var onlyAccepted = false
    /// Worker threads; 0 = one per online core.
    public var workers = 0
    /// Where to write the private original-UID -> new-id table (nil: not written).
    public var mappingCSV: String?
    public var reportCSV: String?
    public var reportJSON: String?
    /// Print a progress line to standard error when it is a terminal.
    public var progress = false
    /// Edits the pixels of each written file (nil: Pixel Data is copied byte for byte). VinDrImaging's
    /// `TextScrubbing` (set through `scrubText`) removes burned-in text.
    public var pixelEditor: (any DeidentificationPixelEditor)?
    /// Screens the pixels of files that pass the header rules (nil: header screening only).
    /// VinDrImaging's `PixelScreening` (set through `setScreenPixels`) is the built-in one.
    public var pixelScreen: (any DeidentificationPixelScreen)?

    public init() {}
}

/// Screening on the image content, after the header rules (`ScreeningRules`).
public protocol DeidentificationPixelScreen: Sendable {
    /// Why the pixels of `file` contradict its header, or nil when they do not.
    func rejection(_ file: DICOMFile) throws -> String?
}

/// Replaces the frames of a file being de-identified, e.g. to remove burned-in text (the VinDr-CXR
/// paper's de-identification removes "textual information appearing on the image data").
public protocol DeidentificationPixelEditor: Sendable {
    /// The edited frames of `file` (every frame, full size, the file's sample format), or nil
    /// when nothing changed (the Pixel Data is then written verbatim). `name` is the output's new
    /// identifier, for files the editor writes beside the output (review sheets).
    func edit(_ file: DICOMFile, name: String) throws -> PixelEdit?
}

/// What a `DeidentificationPixelEditor` changed.
public struct PixelEdit: Sendable {
    public var frames: [StoredPixels]
    /// Regions changed (text lines and markers), over all frames.
    public var regions: Int
    /// A file written for the manual review of the change (nil: none).
    public var review: String?

    public init(frames: [StoredPixels], regions: Int, review: String? = nil) {
        self.frames = frames
        self.regions = regions
        self.review = review
    }
}

/// The outcome for one input file.
public struct DeidentificationRecord: Sendable, Codable, Equatable {
    /// `notDICOM`: met while walking a directory, the file is no DICOM file at all (no DICM prefix,
    /// no raw data set start: `DICOMFile.probe`), such as a README or a zip; reported apart from
    /// `failed` so that a tree's stray files do not read as corrupt DICOMs. A file given as the
    /// input itself is `failed` with the same message.
    public enum Status: String, Sendable, Codable { case written, rejected, failed, notDICOM = "not_dicom" }
    public var input: String
    public var status: Status
    public var output: String?
    /// The new identifier: the image id (vindr) or the derived SOP Instance UID (basic).
    public var newID: String?
    /// Why screening rejects the image (nil: accepted); set even when the file was written.
    public var screening: String?
    /// Why the file could not be de-identified (status `failed` or `notDICOM`).
    public var error: String?
    /// Burned In Annotation (0028,0301) is YES: pixels may show identifying text.
    public var burnedInAnnotation = false
    /// The original SOP Instance UID; kept out of the reports (only the mapping CSV has it).
    public var originalUID: String? = nil
    /// Regions the pixel editor changed (nil: no editor ran; 0: nothing found, pixels verbatim).
    public var textRegions: Int? = nil
    /// The review sheet of the change (nil: none written).
    public var review: String? = nil

    enum CodingKeys: String, CodingKey {
        case input, status, output, newID = "new_id", screening, error, burnedInAnnotation = "burned_in_annotation"
        case textRegions = "text_regions", review
    }
}

/// Everything a run did, file by file (in input order).
public struct DeidentificationSummary: Sendable, Codable {
    public var profile: String
    public var records: [DeidentificationRecord]
    public var written: Int { records.filter { $0.status == .written }.count }
    public var rejected: Int { records.filter { $0.status == .rejected }.count }
    public var failed: Int { records.filter { $0.status == .failed }.count }
    public var notDICOM: Int { records.filter { $0.status == .notDICOM }.count }
    public var burnedIn: Int { records.filter(\.burnedInAnnotation).count }
    /// Written files whose pixels the editor changed.
    public var scrubbed: Int { records.filter { $0.status == .written && ($0.textRegions ?? 0) > 0 }.count }

    enum CodingKeys: String, CodingKey { case profile, records = "files" }
}

/// De-identifies a DICOM file or a tree into an output directory (PS3.15 Annex E; the VinDr-CXR
/// release). Inputs are only read; each output is written to a temporary file in its target
/// directory and renamed into place, so outputs are complete or absent; the Pixel Data element
/// is copied byte for byte unless `pixelEditor` changes the frames (then it is written native,
/// see `replacePixels`); the same inputs, options and salt give the same output bytes.
public enum Deidentifier {
    /// Processes `input` (a file or a directory walked recursively) into the directory `output`
    /// (created if missing). Per-file failures are recorded, not thrown; throws when the input is
    /// missing or the output directory cannot be created or written.
    public static func run(input: String, output: String, options: DeidentificationOptions) throws -> DeidentificationSummary {
        guard let isDir = FileSystem.isDirectory(input) else { throw VinDrError(.io, input, "no such file or directory") }
        let inputs = isDir ? try FileSystem.regularFiles(under: input, excluding: output) : [(input, FileSystem.lastComponent(input))]
        try FileSystem.createDirectories(output)
        guard access(output, W_OK | X_OK) == 0 else { throw VinDrError(.io, output, "output directory is not writable") }

        let lock = Lock()
        var claimed: [String: String] = [:]  // output path -> the input writing it
        // Two inputs with the same SOP Instance UID would share a vindr output name: the first
        // to claim it is written, the other is reported.
        let claim = { (target: String, input: String) -> String? in
            lock.lock()
            defer { lock.unlock() }
            if let owner = claimed[target] { return owner }
            claimed[target] = input
            return nil
        }
        let records = forEachFile(inputs.count, workers: options.workers, progress: options.progress) { i in
            process(inputs[i].path, relative: inputs[i].relative, output: output, options: options, inTree: isDir, claim: claim)
        }
        let summary = DeidentificationSummary(profile: options.profile.name, records: records)
        if let path = options.reportCSV { try FileSystem.writeAtomically(csvReport(summary).utf8, to: path) }
        if let path = options.reportJSON {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileSystem.writeAtomically(try encoder.encode(summary), to: path)
        }
        if let path = options.mappingCSV { try FileSystem.writeAtomically(mappingCSV(summary).utf8, to: path) }
        return summary
    }

    /// `\r[#####.....] done/total files`, a progress bar for a terminal.
    static func progressLine(_ done: Int, of total: Int) -> String {
        let width = 30
        let filled = total > 0 ? done * width / total : width
        return "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total) files"
    }

    /// De-identifies one file; never throws (failures become the record's `error`). In a tree
    /// (`inTree`), a file that is no DICOM file at all is recorded as `notDICOM`.
    static func process(_ path: String, relative: String, output: String, options: DeidentificationOptions,
                        inTree: Bool = false, claim: (_ target: String, _ input: String) -> String?) -> DeidentificationRecord {
        var record = DeidentificationRecord(input: path, status: .failed)
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
            let edit = try EditableDataSet(path: path)
            record.burnedInAnnotation = edit.string(0x0028_0301)?.uppercased() == "YES"
            var screened = ScreenedAttributes()
            screened.bodyPartExamined = edit.string(0x0018_0015)
            screened.viewPosition = edit.string(0x0018_5101)
            screened.patientAge = edit.string(0x0010_1010)
            screened.photometricInterpretation = edit.string(0x0028_0004)
            screened.rows = edit.string(0x0028_0010).flatMap { Int($0) } ?? 0
            screened.columns = edit.string(0x0028_0011).flatMap { Int($0) } ?? 0
            record.screening = options.screening.rejection(screened)
            var file: DICOMFile?
            if record.screening == nil, let screen = options.pixelScreen {
                let opened = try DICOMFile(path: path)
                file = opened
                record.screening = try screen.rejection(opened)
            }
            if record.screening != nil && options.onlyAccepted {
                record.status = .rejected
                return record
            }
            let (target, originalUID, newID) = try apply(options.profile, to: edit, relative: relative, output: output, salt: options.salt)
            record.newID = newID
            record.originalUID = originalUID
            guard FileSystem.canonical(target) != FileSystem.canonical(path) else {
                throw VinDrError(.argument, path, "the output \(target) would overwrite the input")
            }
            if let owner = claim(target, path) {
                throw VinDrError(.argument, path, "same output \(target) as \(owner) (duplicate SOP Instance UID)")
            }
            if let editor = options.pixelEditor {
                let file = try file ?? DICOMFile(path: path)
                let change = try editor.edit(file, name: newID)
                record.textRegions = change?.regions ?? 0
                record.review = change?.review
                if let change { try replacePixels(of: edit, with: change.frames, file: file) }
            }
            try edit.writeAtomically(to: target)
            record.output = target
            record.status = .written
        } catch let e as VinDrError {
            record.error = e.description
        } catch {
            record.error = "\(path): \(error)"
        }
        return record
    }

    /// Applies `profile` to `edit`; returns the output path, the original and the new identifier.
    /// The original identifier is the data set's SOP Instance UID (0008,0018), or the file meta's
    /// Media Storage SOP Instance UID (0002,0003) when the data set has none or an empty one.
    static func apply(_ profile: DeidentificationProfile, to edit: EditableDataSet, relative: String, output: String,
                      salt: String) throws -> (String, String, String) {
        let elements = try edit.elements()
        guard elements.contains(where: { $0.tag == 0x7FE0_0010 }) else {
            throw VinDrError(.noPixelData, edit.source, "no Pixel Data (7FE0,0010)")
        }
        // The instance's identifier is the data set's SOP Instance UID (0008,0018), the attribute
        // the paper names for the image ids; the file meta's (0002,0003) is only used when the
        // data set has none. When both are present and differ, (0008,0018) wins: it is part of the
        // instance itself, while the meta describes one file encoding of it (PS3.10 7.1 requires
        // them equal, so a disagreement is the file writer's error).
        let datasetUID = try edit.text(0x0008_0018).flatMap { $0.isEmpty ? nil : $0 }
        guard let original = try datasetUID ?? edit.text(0x0002_0003), !original.isEmpty else {
            throw VinDrError(.format, edit.source, "no SOP Instance UID (0008,0018) or Media Storage SOP Instance UID (0002,0003)")
        }
        for (tag, vr) in elements {
            switch profile.actions[tag] {
            case .keep?: continue
            case .replaceUID?:
                if let uid = try edit.text(tag), !uid.isEmpty { try edit.set(tag, "UI", derivedUID(uid, salt: salt)) }
            case .empty?: try edit.set(tag, vr, "")
            case nil: try edit.remove(tag)
            }
        }
        // Type 2 attributes the profile blanks must be present (PS3.15 E.1.1 action Z).
        for (tag, action) in profile.actions where action == .empty && !elements.contains(where: { $0.tag == tag }) {
            try edit.set(tag, typeTwoVR[tag] ?? "LO", "")
        }
        for (tag, vr, value) in profile.added { try edit.set(tag, vr, value) }
        if !profile.methodCodes.isEmpty { try edit.setCodes(0x0012_0064, profile.methodCodes) }
        // File meta (PS3.10 7.1): Source/Sending/Receiving AE titles and private information go;
        // the Implementation Class UID and Version Name become the SDK's (this SDK writes the
        // file); the writer recomputes the group length. Kept: version, Media Storage SOP Class
        // UID and Transfer Syntax UID; (0002,0003) is set below.
        for tag: DICOMTag in [0x0002_0016, 0x0002_0017, 0x0002_0018, 0x0002_0100, 0x0002_0102] { try edit.removeMeta(tag) }
        try edit.set(0x0002_0012, "UI", Implementation.classUID)
        try edit.set(0x0002_0013, "SH", Implementation.versionName)
        switch profile.naming {
        case .vindrImageID:
            // The release's image id, also in (0002,0003) as the released files have it (not a
            // valid UI value: see `DeidentificationProfile.Naming.vindrImageID`).
            let id = MD5.hex(original)
            try edit.set(0x0002_0003, "UI", id)
            return (FileSystem.joined(output, id + ".dicom"), original, id)
        case .mirror:
            let uid = derivedUID(original, salt: salt)
            try edit.set(0x0002_0003, "UI", uid)
            return (FileSystem.joined(output, relative), original, uid)
        }
    }

    /// Writes `frames` as native Pixel Data (PS3.5 8.1.1, 8.2): OW for 16-bit, OB for 8-bit
    /// samples. An Implicit VR Little Endian file stays so; any other little-endian syntax
    /// (Explicit VR, deflated, or encapsulated: every compressed syntax is explicit little endian
    /// outside its fragments) becomes Explicit VR Little Endian (1.2.840.10008.1.2.1). Explicit
    /// VR Big Endian (retired) is refused. Values above Bits Stored are cleared as decoding does.
    static func replacePixels(of edit: EditableDataSet, with frames: [StoredPixels], file: DICOMFile) throws {
        let m = file.metadata
        guard m.transferSyntaxUID != TransferSyntax.explicitBig else {
            throw VinDrError(.unsupported, file.source, "pixels of an Explicit VR Big Endian file cannot be rewritten")
        }
        guard frames.count == m.frames, frames.allSatisfy({ $0.width == m.columns && $0.height == m.rows && $0.reduction == 0 }) else {
            throw VinDrError(.internal, file.source, "edited frames do not match the image's \(m.frames) frames of \(m.columns)x\(m.rows)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames.reduce(0) { $0 + $1.bytes.count } + 1)
        for f in frames { bytes += f.bytes }
        let target = m.transferSyntaxUID == TransferSyntax.implicitLittle ? TransferSyntax.implicitLittle : TransferSyntax.explicitLittle
        try edit.replacePixelData(bytes, wordSized: m.bitsAllocated > 8, transferSyntax: target)
    }

    static let typeTwoVR: [DICOMTag: String] = [
        0x0010_0010: "PN", 0x0010_0020: "LO", 0x0010_0030: "DA", 0x0008_0020: "DA", 0x0008_0030: "TM",
        0x0008_0050: "SH", 0x0008_0090: "PN", 0x0020_0010: "SH",
    ]

    static func csvField(_ s: String?) -> String {
        guard let s else { return "" }
        return s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"" : s
    }

    /// One row per input: input,status,output,new_id,screening,error,burned_in_annotation.
    public static func csvReport(_ s: DeidentificationSummary) -> String {
        var out = "input,status,output,new_id,screening,error,burned_in_annotation\n"
        for r in s.records {
            out += [r.input, r.status.rawValue, r.output, r.newID, r.screening, r.error, r.burnedInAnnotation ? "YES" : "NO"]
                .map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }

    /// The private re-identification table: input,original_uid,new_id for each written file.
    static func mappingCSV(_ s: DeidentificationSummary) -> String {
        var out = "input,original_uid,new_id\n"
        for r in s.records where r.status == .written {
            out += [r.input, r.originalUID, r.newID].map(csvField).joined(separator: ",") + "\n"
        }
        return out
    }
}
