/// One data element to write: tag, VR and its already-encoded value bytes.
public struct DICOMElement: Sendable {
    public let group: UInt16
    public let element: UInt16
    public let vr: String
    public let value: [UInt8]

    public init(group: UInt16, element: UInt16, vr: String, value: [UInt8]) {
        self.group = group
        self.element = element
        self.vr = vr
        self.value = value
    }

    /// A text value padded to even length (PS3.5 6.2: NUL for UI, space otherwise).
    public static func text(_ g: UInt16, _ e: UInt16, _ vr: String, _ s: String) -> DICOMElement {
        var v = Array(s.utf8)
        if v.count % 2 == 1 { v.append(vr == "UI" ? 0 : 0x20) }
        return DICOMElement(group: g, element: e, vr: vr, value: v)
    }

    /// An unsigned short (US).
    public static func us(_ g: UInt16, _ e: UInt16, _ x: UInt16) -> DICOMElement {
        DICOMElement(group: g, element: e, vr: "US", value: [UInt8(x & 0xFF), UInt8(x >> 8)])
    }
}

/// The SDK's identity in the File Meta Information of the files it writes (PS3.10 7.1): the
/// Implementation Class UID (0002,0012), a UUID-derived UID (PS3.5 B.2) fixed for the SDK, and
/// the Implementation Version Name (0002,0013), `VINDR_<version>`.
public enum Implementation {
    public static let classUID = "2.25.193020325496726818961693851682718260677"
    public static var versionName: String { "VINDR_" + SDKVersion.string }
}

/// Writes PS3.10 files in Explicit VR Little Endian (PS3.5 7.1.2): 128-byte preamble, "DICM",
/// the File Meta group with its group length, then the data set, elements in tag order.
public enum DICOMWriter {
    static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]

    public static func encode(_ el: DICOMElement) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ x: UInt16) { out += [UInt8(x & 0xFF), UInt8(x >> 8)] }
        func u32(_ x: UInt32) { out += (0..<4).map { UInt8((x >> (8 * $0)) & 0xFF) } }
        u16(el.group)
        u16(el.element)
        out += Array(el.vr.utf8)
        if longVRs.contains(el.vr) {
            u16(0)
            u32(UInt32(el.value.count))
        } else {
            u16(UInt16(el.value.count))
        }
        return out + el.value
    }

    /// The file's bytes. `meta` holds group 0002 elements (the group length is added here).
    public static func file(meta: [DICOMElement], dataset: [DICOMElement]) -> [UInt8] {
        let metaBytes = meta.sorted { $0.element < $1.element }.flatMap(encode)
        let length = DICOMElement(group: 0x0002, element: 0x0000, vr: "UL",
                                  value: (0..<4).map { UInt8((UInt32(metaBytes.count) >> (8 * $0)) & 0xFF) })
        let body = dataset.sorted { ($0.group, $0.element) < ($1.group, $1.element) }.flatMap(encode)
        return [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + encode(length) + metaBytes + body
    }

    /// A single-frame monochrome image: the Image Pixel module (PS3.3 C.7.6.3) from the
    /// arguments, `extra` attributes, and 16-bit little-endian pixel data.
    public static func monochromeImage(rows: Int, columns: Int, bitsStored: Int, photometric: String, pixels: [UInt16],
                                       sopInstanceUID: String, extra: [DICOMElement]) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: pixels.count * 2)
        for (i, v) in pixels.enumerated() {
            data[2 * i] = UInt8(v & 0xFF)
            data[2 * i + 1] = UInt8(v >> 8)
        }
        let sopClass = "1.2.840.10008.5.1.4.1.1.1.1"  // Digital X-Ray Image Storage - For Presentation
        let meta = [
            DICOMElement(group: 0x0002, element: 0x0001, vr: "OB", value: [0, 1]),
            .text(0x0002, 0x0002, "UI", sopClass), .text(0x0002, 0x0003, "UI", sopInstanceUID),
            .text(0x0002, 0x0010, "UI", TransferSyntax.explicitLittle),
            .text(0x0002, 0x0012, "UI", Implementation.classUID), .text(0x0002, 0x0013, "SH", Implementation.versionName),
        ]
        let dataset: [DICOMElement] = [
            .text(0x0008, 0x0016, "UI", sopClass), .text(0x0008, 0x0018, "UI", sopInstanceUID),
            .us(0x0028, 0x0002, 1), .text(0x0028, 0x0004, "CS", photometric), .us(0x0028, 0x0010, UInt16(rows)),
            .us(0x0028, 0x0011, UInt16(columns)), .us(0x0028, 0x0100, 16), .us(0x0028, 0x0101, UInt16(bitsStored)),
            .us(0x0028, 0x0102, UInt16(bitsStored - 1)), .us(0x0028, 0x0103, 0),
            DICOMElement(group: 0x7FE0, element: 0x0010, vr: "OW", value: data),
        ] + extra
        return file(meta: meta, dataset: dataset)
    }
}
