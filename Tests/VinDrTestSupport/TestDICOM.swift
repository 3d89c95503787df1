import VinDrDICOM

/// Small in-memory test files built with DICOMWriter, including shapes real writers would not
/// produce (no transfer syntax, no pixel data, short pixel data).
public enum TestDICOM {
    public typealias Element = DICOMElement

    public static func text(_ g: UInt16, _ e: UInt16, _ vr: String, _ s: String) -> Element { .text(g, e, vr, s) }

    public static func us(_ g: UInt16, _ e: UInt16, _ x: UInt16) -> Element { .us(g, e, x) }

    /// A monochrome image file; `extra` elements are added to the data set.
    public static func file(rows: Int, columns: Int, bitsAllocated: Int = 16, bitsStored: Int = 12, signed: Bool = false,
                            photometric: String = "MONOCHROME2", pixels: [UInt8]?, extra: [Element] = [],
                            transferSyntax: String? = "1.2.840.10008.1.2.1") -> [UInt8] {
        var meta: [Element] = [text(0x0002, 0x0003, "UI", "1.2.3.4")]
        if let transferSyntax { meta.append(text(0x0002, 0x0010, "UI", transferSyntax)) }
        var ds: [Element] = [
            us(0x0028, 0x0002, 1), text(0x0028, 0x0004, "CS", photometric), us(0x0028, 0x0010, UInt16(rows)),
            us(0x0028, 0x0011, UInt16(columns)), us(0x0028, 0x0100, UInt16(bitsAllocated)),
            us(0x0028, 0x0101, UInt16(bitsStored)), us(0x0028, 0x0102, UInt16(bitsStored - 1)),
            us(0x0028, 0x0103, signed ? 1 : 0),
        ] + extra
        if let pixels { ds.append(Element(group: 0x7FE0, element: 0x0010, vr: bitsAllocated == 8 ? "OB" : "OW", value: pixels)) }
        return DICOMWriter.file(meta: meta, dataset: ds)
    }

    public static func le16(_ values: [Int]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in let u = UInt16(truncatingIfNeeded: v); return [UInt8(u & 0xFF), UInt8(u >> 8)] }
    }
}
