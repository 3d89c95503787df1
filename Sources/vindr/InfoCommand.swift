import ArgumentParser
import Foundation
import VinDrDICOM

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print DICOM files' image attributes.",
        discussion: """
            Examples:
              vindr info train/000434271f63a053c4128a0ba6352c7f.dicom
              vindr info --json sample/train/*.dicom
            """)

    @Argument(help: "DICOM files") var paths: [String]
    @Flag(help: "One JSON object per file") var json = false

    func run() throws {
        var failed = false
        for path in paths {
            do {
                let m = try DICOMFile(path: path).metadata
                if json {
                    let data = try JSONSerialization.data(withJSONObject: describe(m, path: path), options: [.sortedKeys, .withoutEscapingSlashes])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print(human(m, path: path))
                }
            } catch {
                FileHandle.standardError.write("vindr info: \(error)\n".data(using: .utf8)!)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    func describe(_ m: DICOMMetadata, path: String) -> [String: Any] {
        var d: [String: Any] = [
            "path": path, "rows": m.rows, "columns": m.columns, "frames": m.frames, "samples_per_pixel": m.samplesPerPixel,
            "bits_allocated": m.bitsAllocated, "bits_stored": m.bitsStored, "high_bit": m.highBit,
            "pixel_representation": m.pixelRepresentation, "photometric_interpretation": m.photometricInterpretation,
            "transfer_syntax_uid": m.transferSyntaxUID, "transfer_syntax_inferred": m.transferSyntaxInferred,
            "windows": m.windows.map { [$0.center, $0.width] }, "voi_lut_function": m.voiFunction.rawValue,
            "voi_lut_count": m.voiLUTs.count, "has_modality_lut": m.modalityLUT != nil, "has_pixel_data": m.hasPixelData,
            "pixel_spacing": m.pixelSpacing,
        ]
        if let v = m.rescaleSlope { d["rescale_slope"] = v }
        if let v = m.rescaleIntercept { d["rescale_intercept"] = v }
        for (k, v) in [("patient_sex", m.patientSex), ("patient_age", m.patientAge), ("sop_instance_uid", m.sopInstanceUID),
                       ("modality", m.modality), ("body_part_examined", m.bodyPartExamined), ("view_position", m.viewPosition)] {
            if let v { d[k] = v }
        }
        return d
    }

    func human(_ m: DICOMMetadata, path: String) -> String {
        let ts = TransferSyntax.names[m.transferSyntaxUID] ?? m.transferSyntaxUID
        var lines = [
            path,
            "  image        \(m.rows) x \(m.columns), \(m.frames) frame(s), \(m.photometricInterpretation), \(m.samplesPerPixel) sample(s)/pixel",
            "  bits         \(m.bitsStored) stored / \(m.bitsAllocated) allocated, high bit \(m.highBit), \(m.isSigned ? "signed" : "unsigned")",
            "  syntax       \(ts) (\(m.transferSyntaxUID))\(m.transferSyntaxInferred ? ", inferred: the file meta lacks (0002,0010)" : "")",
        ]
        if m.rescaleSlope != nil || m.rescaleIntercept != nil {
            lines.append("  rescale      slope \(m.rescaleSlope ?? 1), intercept \(m.rescaleIntercept ?? 0)")
        }
        if m.modalityLUT != nil { lines.append("  modality LUT present") }
        lines.append("  windows      " + (m.windows.isEmpty ? "none" : m.windows.map { "\($0.center)/\($0.width)" }.joined(separator: ", "))
                     + " (\(m.voiFunction.rawValue))" + (m.voiLUTs.isEmpty ? "" : ", \(m.voiLUTs.count) VOI LUT(s)"))
        if m.pixelSpacing.count == 2 { lines.append("  spacing      \(m.pixelSpacing[0]) x \(m.pixelSpacing[1]) mm") }
        if m.patientSex != nil || m.patientAge != nil { lines.append("  patient      sex \(m.patientSex ?? "-"), age \(m.patientAge ?? "-")") }
        if !m.hasPixelData { lines.append("  NO PIXEL DATA") }
        return lines.joined(separator: "\n")
    }
}
