import CGDCM

/// A lookup table from a Modality LUT Sequence (PS3.3 C.11.1) or VOI LUT Sequence (C.11.2) item.
public struct LookupTable: Sendable, Equatable {
    /// Input value mapped to `data[0]` (LUT Descriptor value 2, read as signed when the image's
    /// pixel representation is signed).
    public var firstMapped: Int
    /// Bits per entry (LUT Descriptor value 3).
    public var bitsPerEntry: Int
    public var data: [UInt16]
    public var explanation: String?

    public init(firstMapped: Int, bitsPerEntry: Int, data: [UInt16], explanation: String? = nil) {
        self.firstMapped = firstMapped
        self.bitsPerEntry = bitsPerEntry
        self.data = data
        self.explanation = explanation
    }

    /// PS3.3 C.11.1.1.1: inputs below the first mapped value take the first entry, above the
    /// last take the last.
    @inlinable public func lookup(_ x: Double) -> Double {
        let i = (x - Double(firstMapped)).rounded(.down)
        if i <= 0 { return Double(data[0]) }
        if i >= Double(data.count - 1) { return Double(data[data.count - 1]) }
        return Double(data[Int(i)])
    }
}

/// A window from (0028,1050)/(0028,1051).
public struct Window: Sendable, Equatable {
    public var center: Double
    public var width: Double
    public var explanation: String?

    public init(center: Double, width: Double, explanation: String? = nil) {
        self.center = center
        self.width = width
        self.explanation = explanation
    }
}

/// VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3.
public enum VOIFunction: String, Sendable, Equatable, CaseIterable {
    case linear = "LINEAR"
    case linearExact = "LINEAR_EXACT"
    case sigmoid = "SIGMOID"
}

/// The attributes of a DICOM file that reading and displaying its image needs.
public struct DICOMMetadata: Sendable, Equatable {
    public var transferSyntaxUID: String
    /// True when the file meta lacked (0002,0010) and the syntax was inferred from the data set.
    public var transferSyntaxInferred: Bool
    public var rows: Int
    public var columns: Int
    public var frames: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    /// 0 unsigned, 1 two's complement (0028,0103).
    public var pixelRepresentation: Int
    public var photometricInterpretation: String
    public var planarConfiguration: Int
    public var rescaleSlope: Double?
    public var rescaleIntercept: Double?
    public var rescaleType: String?
    public var modalityLUT: LookupTable?
    public var windows: [Window]
    public var voiFunction: VOIFunction
    public var voiLUTs: [LookupTable]
    /// Pixel Spacing (0028,0030) or, failing that, Imager Pixel Spacing (0018,1164): [row, column]
    /// in mm; empty when neither is present.
    public var pixelSpacing: [Double]
    public var patientSex: String?
    public var patientAge: String?
    public var sopInstanceUID: String?
    public var mediaStorageSOPInstanceUID: String?
    public var modality: String?
    public var bodyPartExamined: String?
    public var viewPosition: String?
    public var hasPixelData: Bool

    public var isSigned: Bool { pixelRepresentation == 1 }
    public var isMonochrome: Bool {
        samplesPerPixel == 1 && (photometricInterpretation == "MONOCHROME1" || photometricInterpretation == "MONOCHROME2")
    }
    /// The format stored values are returned in.
    public var sampleFormat: SampleFormat? { SampleFormat(bitsAllocated: bitsAllocated, signed: isSigned) }
}

extension DICOMMetadata {
    init(reading h: OpaquePointer, source: String) throws {
        let reader = AttributeReader(handle: h, source: source)
        var tsBuf = [CChar](repeating: 0, count: 72)
        var inferred: Int32 = 0
        guard cgdcm_transfer_syntax(h, &tsBuf, tsBuf.count, &inferred) == CGDCM_OK else {
            throw VinDrError(.format, source, shimMessage())
        }
        transferSyntaxUID = String(decoding: tsBuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        transferSyntaxInferred = inferred != 0

        var kind: Int32 = 0
        var fragments = 0
        var offsets = 0
        guard cgdcm_pixel_layout(h, &kind, &fragments, &offsets) == CGDCM_OK else {
            throw VinDrError(.format, source, shimMessage())
        }
        hasPixelData = kind != CGDCM_PIXELS_ABSENT

        rows = try reader.int(0x0028, 0x0010) ?? 0
        columns = try reader.int(0x0028, 0x0011) ?? 0
        frames = try reader.int(0x0028, 0x0008) ?? 1
        samplesPerPixel = try reader.int(0x0028, 0x0002) ?? 1
        bitsAllocated = try reader.int(0x0028, 0x0100) ?? 0
        bitsStored = try reader.int(0x0028, 0x0101) ?? bitsAllocated
        highBit = try reader.int(0x0028, 0x0102) ?? max(bitsStored - 1, 0)
        pixelRepresentation = try reader.int(0x0028, 0x0103) ?? 0
        photometricInterpretation = try reader.string(0x0028, 0x0004) ?? ""
        planarConfiguration = try reader.int(0x0028, 0x0006) ?? 0
        rescaleSlope = try reader.decimals(0x0028, 0x1053).first
        rescaleIntercept = try reader.decimals(0x0028, 0x1052).first
        rescaleType = try reader.string(0x0028, 0x1054)

        let centers = try reader.decimals(0x0028, 0x1050)
        let widths = try reader.decimals(0x0028, 0x1051)
        let explanations = try reader.string(0x0028, 0x1055)?.split(separator: "\\", omittingEmptySubsequences: false).map(String.init) ?? []
        windows = zip(centers, widths).enumerated().map { i, cw in
            Window(center: cw.0, width: cw.1, explanation: i < explanations.count ? explanations[i] : nil)
        }
        if let f = try reader.string(0x0028, 0x1056), !f.isEmpty {
            guard let fn = VOIFunction(rawValue: f.uppercased()) else {
                throw VinDrError(.unsupported, source, "VOI LUT Function (0028,1056) '\(f)' is not LINEAR, LINEAR_EXACT or SIGMOID")
            }
            voiFunction = fn
        } else {
            voiFunction = .linear
        }
        let signed = pixelRepresentation == 1
        modalityLUT = try reader.lookupTables(sequence: (0x0028, 0x3000), signedFirst: signed).first
        voiLUTs = try reader.lookupTables(sequence: (0x0028, 0x3010), signedFirst: signed && modalityLUT == nil && rescaleSlope == nil)

        pixelSpacing = try reader.decimals(0x0028, 0x0030)
        if pixelSpacing.count != 2 { pixelSpacing = try reader.decimals(0x0018, 0x1164) }
        if pixelSpacing.count != 2 { pixelSpacing = [] }
        patientSex = try reader.string(0x0010, 0x0040)
        patientAge = try reader.string(0x0010, 0x1010)
        sopInstanceUID = try reader.string(0x0008, 0x0018)
        mediaStorageSOPInstanceUID = try reader.string(0x0002, 0x0003)
        modality = try reader.string(0x0008, 0x0060)
        bodyPartExamined = try reader.string(0x0018, 0x0015)
        viewPosition = try reader.string(0x0018, 0x5101)
    }
}

/// Reads attribute values as text through the shim and parses them per their VR (PS3.5 6.2:
/// IS/DS are decimal strings, multiple values separated by '\').
struct AttributeReader {
    let handle: OpaquePointer
    let source: String

    /// The attribute's text, nil when absent; an element whose VR the shim does not allow for
    /// the tag (PS3.5 6.2, e.g. Rows stored as SV) is a format error naming the tag and VR.
    func string(_ g: UInt16, _ e: UInt16) throws -> String? {
        try text { buf, cap, len in cgdcm_string(handle, g, e, buf, cap, len) }
    }

    func sequenceString(_ sq: (UInt16, UInt16), _ item: Int, _ g: UInt16, _ e: UInt16) throws -> String? {
        try text { buf, cap, len in cgdcm_sequence_string(handle, sq.0, sq.1, item, g, e, buf, cap, len) }
    }

    private func text(_ read: (UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<Int>) -> Int32) throws -> String? {
        var len = 0
        var buf = [CChar](repeating: 0, count: 256)
        var rc = read(&buf, buf.count, &len)
        if rc == CGDCM_OK && len >= buf.count {
            buf = [CChar](repeating: 0, count: len + 1)
            rc = read(&buf, buf.count, &len)
        }
        if rc == CGDCM_ABSENT { return nil }
        guard rc == CGDCM_OK else { throw VinDrError(.format, source, shimMessage()) }
        let bytes = buf.prefix(min(len, buf.count - 1)).map { UInt8(bitPattern: $0) }
        // DICOM pads values to even length with a space or NUL (PS3.5 6.2).
        return String(decoding: bytes, as: UTF8.self).trimmingTrailing(" \0").trimmingLeading(" ")
    }

    func int(_ g: UInt16, _ e: UInt16) throws -> Int? {
        guard let s = try string(g, e), !s.isEmpty else { return nil }
        let first = s.split(separator: "\\").first.map(String.init) ?? s
        guard let v = Int(first.trimmingLeading(" ").trimmingTrailing(" ")) else {
            throw VinDrError(.format, source, "attribute \(tagText(g, e)) has non-integer value '\(s)'")
        }
        return v
    }

    func decimals(_ g: UInt16, _ e: UInt16) throws -> [Double] {
        guard let s = try string(g, e), !s.isEmpty else { return [] }
        return try parseDecimals(s, tag: tagText(g, e))
    }

    func parseDecimals(_ s: String, tag: String) throws -> [Double] {
        try s.split(separator: "\\").map { part in
            let t = String(part).trimmingLeading(" ").trimmingTrailing(" \0")
            guard let v = Double(t), v.isFinite else {
                throw VinDrError(.format, source, "attribute \(tag) has non-numeric value '\(s)'")
            }
            return v
        }
    }

    /// Items of a Modality or VOI LUT Sequence (PS3.3 C.11.1, C.11.2): LUT Descriptor (0028,3002),
    /// LUT Explanation (0028,3003), LUT Data (0028,3006).
    func lookupTables(sequence sq: (UInt16, UInt16), signedFirst: Bool) throws -> [LookupTable] {
        var count = 0
        guard cgdcm_sequence_count(handle, sq.0, sq.1, &count) == CGDCM_OK else { return [] }
        let tag = tagText(sq.0, sq.1)
        return try (0..<count).map { item in
            guard let descText = try sequenceString(sq, item, 0x0028, 0x3002) else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1) has no LUT Descriptor (0028,3002)")
            }
            let desc = try parseDecimals(descText, tag: "LUT Descriptor (0028,3002)")
            guard desc.count == 3, desc.allSatisfy({ $0 >= -32768 && $0 <= 65535 && $0 == $0.rounded() }) else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1): LUT Descriptor (0028,3002) '\(descText)' is not 3 integers")
            }
            // PS3.3 C.11.1.1 / C.11.2.1.1: the first value is the number of entries, 0 meaning 2^16;
            // only the second (first input value mapped) may be negative.
            guard desc[0] >= 0 else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1): LUT Descriptor (0028,3002) '\(descText)' has a negative number of entries")
            }
            let entries = desc[0] == 0 ? 65536 : Int(desc[0])
            var first = Int(desc[1])
            if signedFirst && first > 32767 { first -= 65536 }
            let bits = Int(desc[2])
            guard (8...16).contains(bits) else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1): LUT Descriptor (0028,3002) bits per entry \(bits) not in 8...16")
            }
            var n = 0
            guard cgdcm_sequence_words(handle, sq.0, sq.1, item, 0x0028, 0x3006, nil, 0, &n) == CGDCM_OK, n > 0 else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1) has no LUT Data (0028,3006)")
            }
            guard n >= entries else {
                throw VinDrError(.format, source, "\(tag) item \(item + 1): LUT Data (0028,3006) has \(n) entries, LUT Descriptor (0028,3002) says \(entries)")
            }
            var data = [UInt16](repeating: 0, count: n)
            _ = cgdcm_sequence_words(handle, sq.0, sq.1, item, 0x0028, 0x3006, &data, n, &n)
            data.removeLast(data.count - entries)
            return LookupTable(firstMapped: first, bitsPerEntry: bits, data: data,
                               explanation: try sequenceString(sq, item, 0x0028, 0x3003))
        }
    }
}

/// "(GGGG,EEEE)".
func tagText(_ g: UInt16, _ e: UInt16) -> String {
    func hex(_ v: UInt16) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - s.count) + s
    }
    return "(\(hex(g)),\(hex(e)))"
}

extension String {
    func trimmingTrailing(_ chars: String) -> String {
        var s = Substring(self)
        while let c = s.last, chars.contains(c) { s = s.dropLast() }
        return String(s)
    }

    func trimmingLeading(_ chars: String) -> String {
        String(drop { chars.contains($0) })
    }
}
