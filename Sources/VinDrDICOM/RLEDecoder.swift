/// RLE Lossless (PS3.5 Annex G): a 64-byte header of segment count and offsets, then one
/// PackBits segment per byte plane, most significant plane first. Decoded here in one pass;
/// GDCM's reader would decode the frame twice (once to compute the lossy flag).
enum RLEDecoder {
    static func decode(_ frame: [UInt8], width: Int, height: Int, format: SampleFormat, source: String) throws -> StoredPixels {
        let planes = format.bytesPerSample
        let pixels = try checkedSize(width, height, what: "RLE frame size Columns (0028,0011) x Rows (0028,0010)", source: source)
        // The header is checked before any output is allocated: segment count and offsets (PS3.5
        // G.5) within the fragment, and each segment long enough for its plane. PackBits codes at
        // most 128 bytes with 2 (a replicate run, G.3.1), so a segment of n bytes yields at most
        // 64 n; a shorter one cannot be the image.
        guard frame.count >= 64 else { throw VinDrError(.decode, source, "RLE frame shorter than its 64-byte header") }
        let segments = frame.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian) }
        guard segments == planes else {
            throw VinDrError(.decode, source, "RLE header has \(segments) segments, \(planes) expected for one \(8 * planes)-bit sample")
        }
        var offsets = frame.withUnsafeBytes { src in
            (0..<segments).map { Int(src.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self).littleEndian) }
        }
        offsets.append(frame.count)
        for s in 0..<segments {
            let start = offsets[s], end = offsets[s + 1]
            guard start >= 64, start <= end, end <= frame.count else {
                throw VinDrError(.decode, source, "RLE segment \(s + 1) offsets \(start)..<\(end) outside the frame")
            }
            guard (end - start) * 64 >= pixels else {
                throw VinDrError(.decode, source, "RLE segment \(s + 1) has \(end - start) bytes; PackBits cannot expand them to the \(pixels) bytes of a \(width)x\(height) frame (at most 64x, PS3.5 G.3.1)")
            }
        }
        var out = try uninitializedBytes(try checkedSize(pixels, planes, what: "RLE output size", source: source), what: "the decoded RLE frame", source: source)
        // Each segment is unpacked into a contiguous byte plane (runs become memset/memcpy), then
        // the planes are interleaved into little-endian samples.
        var plane = try uninitializedBytes(planes > 1 ? pixels : 0, what: "an RLE byte plane", source: source)
        try frame.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                try plane.withUnsafeMutableBytes { tmp in
                    for s in 0..<segments {
                        let start = offsets[s], end = offsets[s + 1]
                        let target = planes == 1 ? dst : tmp
                        let written = unpack(src, from: start, to: end, into: target.baseAddress!, count: pixels)
                        guard written == pixels else {
                            throw VinDrError(.decode, source, "RLE segment \(s + 1) decodes to \(written) bytes, \(pixels) expected")
                        }
                        // Segment s holds byte (planes - 1 - s) of each little-endian sample.
                        if planes > 1 {
                            let d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self) + (planes - 1 - s)
                            let t = tmp.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            for i in 0..<pixels { d[i &* planes] = t[i] }
                        }
                    }
                }
            }
        }
        return StoredPixels(width: width, height: height, format: format, bytes: out)
    }

    /// PackBits (PS3.5 G.3.1): n in 0...127 copies n+1 literal bytes, -127...-1 repeats the next
    /// byte 1-n times, -128 is a no-op. Returns the number of bytes produced (at most `count`).
    private static func unpack(_ src: UnsafeRawBufferPointer, from start: Int, to end: Int,
                               into dst: UnsafeMutableRawPointer, count: Int) -> Int {
        let base = src.baseAddress!
        var i = start
        var o = 0
        while i < end && o < count {
            let n = Int(Int8(bitPattern: base.load(fromByteOffset: i, as: UInt8.self)))
            i += 1
            if n >= 0 {
                let k = min(n + 1, count - o, end - i)
                (dst + o).copyMemory(from: base + i, byteCount: k)
                i += n + 1
                o += k
                if k < n + 1 { break }
            } else if n != -128 {
                guard i < end else { break }
                let k = min(1 - n, count - o)
                (dst + o).initializeMemory(as: UInt8.self, repeating: base.load(fromByteOffset: i, as: UInt8.self), count: k)
                i += 1
                o += k
            }
        }
        return o
    }
}
