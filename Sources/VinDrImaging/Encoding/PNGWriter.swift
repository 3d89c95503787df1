import CZlib
import VinDrDICOM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif


/// PNG (ISO/IEC 15948) encoder for 8-bit greyscale and RGB images: IHDR, one zlib IDAT with
/// filter type 0 per row, IEND.
public enum PNGWriter {
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        guard channels == 1 || channels == 3, width > 0, height > 0, pixels.count == width * height * channels else {
            throw VinDrError(.argument, "PNG: \(pixels.count) bytes do not make a \(width)x\(height) image of \(channels) channel(s)")
        }
        var raw = [UInt8]()
        raw.reserveCapacity((width * channels + 1) * height)
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(y * width * channels)..<((y + 1) * width * channels)])
        }
        var bound = compressBound(uLong(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(bound))
        let rc = compress2(&packed, &bound, raw, uLong(raw.count), 6)
        guard rc == Z_OK else { throw VinDrError(.internal, "PNG: zlib failed (\(rc))") }
        packed.removeLast(packed.count - Int(bound))
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = be32(UInt32(width)) + be32(UInt32(height))
        header += [8, channels == 1 ? 0 : 2, 0, 0, 0]
        chunk("IHDR", header, into: &out)
        chunk("IDAT", packed, into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    /// Writes atomically (temporary file, then rename).
    public static func write(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to path: String) throws {
        try FileSystem.writeAtomically(try encode(pixels, width: width, height: height, channels: channels), to: path)
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        out += be32(UInt32(data.count)) + typeBytes + data
        var c = crc32(0, typeBytes, uInt(typeBytes.count))
        if !data.isEmpty { c = crc32(c, data, uInt(data.count)) }
        out += be32(UInt32(c))
    }
}
