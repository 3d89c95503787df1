/// A minimal Explicit VR Little Endian DICOM writer (PS3.10 file format, PS3.5 7.1.2 element
/// encoding) for building test files in memory without any external tool.
public enum TestDICOM {
    public struct Element {
        public let group: UInt16, element: UInt16, vr: String, value: [UInt8]
        public init(group: UInt16, element: UInt16, vr: String, value: [UInt8]) {
            self.group = group; self.element = element; self.vr = vr; self.value = value
        }
    }

    public static func text(_ g: UInt16, _ e: UInt16, _ vr: String, _ s: String) -> Element {
        var v = Array(s.utf8)
        if v.count % 2 == 1 { v.append(vr == "UI" ? 0 : 0x20) }
        return Element(group: g, element: e, vr: vr, value: v)
    }

    public static func us(_ g: UInt16, _ e: UInt16, _ x: UInt16) -> Element {
        Element(group: g, element: e, vr: "US", value: [UInt8(x & 0xFF), UInt8(x >> 8)])
    }

    public static func encode(_ el: Element) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ x: UInt16) { out += [UInt8(x & 0xFF), UInt8(x >> 8)] }
        func u32(_ x: UInt32) { out += (0..<4).map { UInt8((x >> (8 * $0)) & 0xFF) } }
        u16(el.group); u16(el.element)
        out += Array(el.vr.utf8)
        if ["OB", "OW", "SQ", "UN", "UT"].contains(el.vr) {
            u16(0); u32(UInt32(el.value.count))
        } else {
            u16(UInt16(el.value.count))
        }
        return out + el.value
    }

    /// A monochrome image file; `extra` elements are added to the data set (sorted by tag).
    public static func file(rows: Int, columns: Int, bitsAllocated: Int = 16, bitsStored: Int = 12, signed: Bool = false,
                     photometric: String = "MONOCHROME2", pixels: [UInt8]?, extra: [Element] = [],
                     transferSyntax: String? = "1.2.840.10008.1.2.1") -> [UInt8] {
        var meta: [Element] = [text(0x0002, 0x0003, "UI", "1.2.3.4")]
        if let transferSyntax { meta.append(text(0x0002, 0x0010, "UI", transferSyntax)) }
        let metaBytes = meta.flatMap(encode)
        var ds: [Element] = [
            us(0x0028, 0x0002, 1), text(0x0028, 0x0004, "CS", photometric), us(0x0028, 0x0010, UInt16(rows)),
            us(0x0028, 0x0011, UInt16(columns)), us(0x0028, 0x0100, UInt16(bitsAllocated)),
            us(0x0028, 0x0101, UInt16(bitsStored)), us(0x0028, 0x0102, UInt16(bitsStored - 1)),
            us(0x0028, 0x0103, signed ? 1 : 0),
        ] + extra
        if let pixels { ds.append(Element(group: 0x7FE0, element: 0x0010, vr: bitsAllocated == 8 ? "OB" : "OW", value: pixels)) }
        ds.sort { ($0.group, $0.element) < ($1.group, $1.element) }
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        out += encode(Element(group: 0x0002, element: 0x0000, vr: "UL",
                              value: (0..<4).map { UInt8((UInt32(metaBytes.count) >> (8 * $0)) & 0xFF) }))
        return out + metaBytes + ds.flatMap(encode)
    }

    public static func le16(_ values: [Int]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in let u = UInt16(truncatingIfNeeded: v); return [UInt8(u & 0xFF), UInt8(u >> 8)] }
    }
}
