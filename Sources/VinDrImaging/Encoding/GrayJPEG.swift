import CTurboJPEG
import VinDrDICOM

/// Greyscale JPEG through libjpeg-turbo's TurboJPEG API (one handle per thread).
public final class GrayJPEG {
    private let compressor: tjhandle
    private let decompressor: tjhandle

    public init() throws {
        guard let c = tjInitCompress(), let d = tjInitDecompress() else { throw VinDrError(.internal, "cannot initialise TurboJPEG") }
        compressor = c
        decompressor = d
    }

    deinit {
        tjDestroy(compressor)
        tjDestroy(decompressor)
    }

    /// Encodes a width x height 8-bit image (rows `width` bytes apart) at `quality` (1...100).
    public func encode(_ pixels: UnsafeRawPointer, width: Int, height: Int, quality: Int) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let rc = tjCompress2(compressor, pixels.assumingMemoryBound(to: UInt8.self), Int32(width), Int32(width), Int32(height),
                             Int32(TJPF_GRAY.rawValue), &out, &size, Int32(TJSAMP_GRAY.rawValue), Int32(quality), 0)
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out else { throw VinDrError(.internal, "JPEG encoding failed: \(String(cString: tjGetErrorStr2(compressor)))") }
        return Array(UnsafeBufferPointer(start: out, count: Int(size)))
    }

    /// Decodes a greyscale JPEG of exactly width x height into `dst` (rows `width` bytes apart),
    /// with libjpeg's accurate integer IDCT, the default of PIL, OpenCV and simplejpeg, so a shard
    /// read by them gives the same pixels.
    public func decode(_ jpeg: UnsafeRawBufferPointer, width: Int, height: Int, into dst: UnsafeMutableRawPointer) throws {
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, space: Int32 = 0
        let base = jpeg.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard tjDecompressHeader3(decompressor, base, UInt(jpeg.count), &w, &h, &sub, &space) == 0 else {
            throw VinDrError(.format, "cached JPEG is corrupt: \(String(cString: tjGetErrorStr2(decompressor)))")
        }
        guard Int(w) == width, Int(h) == height else { throw VinDrError(.format, "cached JPEG is \(w)x\(h), expected \(width)x\(height)") }
        guard tjDecompress2(decompressor, base, UInt(jpeg.count), dst.assumingMemoryBound(to: UInt8.self), w, w, h,
                            Int32(TJPF_GRAY.rawValue), 0) == 0 else {
            throw VinDrError(.format, "cached JPEG is corrupt: \(String(cString: tjGetErrorStr2(decompressor)))")
        }
    }
}
