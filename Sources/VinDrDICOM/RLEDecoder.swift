/// RLE Lossless (PS3.5 Annex G): a 64-byte header of segment count and offsets, then one
/// PackBits segment per byte plane, most significant plane first. Decoded here in one pass,
/// row by row: each segment is unpacked one row at a time into a row-sized scratch (runs, at
/// most 128 bytes, are moved 16 bytes at a time into its slack instead of calling memcpy or
/// memset), and the planes are interleaved into the output row while it is in cache. No
/// frame-sized intermediate is allocated; GDCM's reader would decode the frame twice (once to
/// compute the lossy flag).
enum RLEDecoder {
    static func decode(_ frame: [UInt8], width: Int, height: Int, format: SampleFormat, source: String) throws -> StoredPixels {
        try frame.withUnsafeBytes { try decode($0, width: width, height: height, format: format, source: source) }
    }

    /// The frame's samples in a new array, as the stream codes them (not normalized).
    static func decode(_ frame: UnsafeRawBufferPointer, width: Int, height: Int, format: SampleFormat, source: String) throws -> StoredPixels {
        let offsets = try segmentOffsets(frame, width: width, height: height, format: format, source: source)
        let pixels = width * height  // checked by segmentOffsets
        var out = try uninitializedBytes(try checkedSize(pixels, format.bytesPerSample, what: "RLE output size", source: source),
                                         what: "the decoded RLE frame", source: source)
        try out.withUnsafeMutableBytes { dst in
            guard let start = dst.baseAddress else { return }  // an empty frame: nothing to unpack
            try unpack(frame, offsets: offsets, width: width, height: height, format: format, bitsStored: nil,
                       into: start, rowStride: width * format.bytesPerSample, source: source)
        }
        return StoredPixels(width: width, height: height, format: format, bytes: out)
    }

    /// Writes the frame's samples into `height` rows of `width` samples, `rowStride` bytes apart
    /// (2-byte aligned for 16-bit samples), at the memory `destination` gives once the header is
    /// checked, which the caller has checked can hold them; each row normalized to `bitsStored`
    /// (`SampleFormat.normalize`; nil: as the stream codes them). No frame-sized buffer is
    /// allocated. On an error the rows may be partly written.
    static func decode(_ frame: UnsafeRawBufferPointer, width: Int, height: Int, format: SampleFormat, bitsStored: Int?,
                       rowStride: Int, source: String, into destination: () throws -> UnsafeMutableRawPointer) throws {
        let offsets = try segmentOffsets(frame, width: width, height: height, format: format, source: source)
        try unpack(frame, offsets: offsets, width: width, height: height, format: format, bitsStored: bitsStored,
                   into: destination(), rowStride: rowStride, source: source)
    }

    /// The header, checked before any output is allocated: segment count and offsets (PS3.5
    /// G.5) within the fragment, and each segment long enough for its plane. PackBits codes at
    /// most 128 bytes with 2 (a replicate run, G.3.1), so a segment of n bytes yields at most
    /// 64 n; a shorter one cannot be the image. Returns the segments' offsets and the frame's
    /// length after them.
    static func segmentOffsets(_ frame: UnsafeRawBufferPointer, width: Int, height: Int, format: SampleFormat,
                               source: String) throws -> [Int] {
        let planes = format.bytesPerSample
        let pixels = try checkedSize(width, height, what: "RLE frame size Columns (0028,0011) x Rows (0028,0010)", source: source)
        guard frame.count >= 64 else { throw VinDrError(.decode, source, "RLE frame shorter than its 64-byte header") }
        let segments = Int(frame.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
        guard segments == planes else {
            throw VinDrError(.decode, source, "RLE header has \(segments) segments, \(planes) expected for one \(8 * planes)-bit sample")
        }
        var offsets = (0..<segments).map { Int(frame.loadUnaligned(fromByteOffset: 4 + 4 * $0, as: UInt32.self).littleEndian) }
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
        return offsets
    }

    /// Unpacks the segments row by row. Segment s holds byte (planes - 1 - s) of each
    /// little-endian sample. Runs may cross rows: each segment keeps its place between rows.
    private static func unpack(_ frame: UnsafeRawBufferPointer, offsets: [Int], width: Int, height: Int, format: SampleFormat,
                               bitsStored: Int?, into out: UnsafeMutableRawPointer, rowStride: Int, source: String) throws {
        guard width > 0, height > 0 else { return }
        let base = frame.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var complete = true
        let slack = PackBits.slack
        if format.bytesPerSample == 1 {
            var segment = PackBits(base: base, at: offsets[0], end: offsets[1])
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: width + slack) { scratch in
                let bytes = scratch.baseAddress!
                for y in 0..<height {
                    guard segment.fill(bytes, width) else { complete = false; return }
                    let row = out + y * rowStride
                    row.copyMemory(from: bytes, byteCount: width)
                    if let bitsStored { format.normalize(row, count: width, bitsStored: bitsStored) }
                }
            }
        } else {
            var high = PackBits(base: base, at: offsets[0], end: offsets[1])
            var low = PackBits(base: base, at: offsets[1], end: offsets[2])
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * (width + slack)) { scratch in
                let hi = scratch.baseAddress!, lo = hi + width + slack
                for y in 0..<height {
                    guard high.fill(hi, width), low.fill(lo, width) else { complete = false; return }
                    let row = out + y * rowStride
                    let samples = row.assumingMemoryBound(to: UInt16.self)
                    for x in 0..<width { samples[x] = (UInt16(hi[x]) &<< 8 | UInt16(lo[x])).littleEndian }
                    if let bitsStored { format.normalize(row, count: width, bitsStored: bitsStored) }
                }
            }
        }
        guard complete else {
            // Name the first segment that falls short, and by how much, as a whole-plane decode would.
            let pixels = width * height
            for s in 0..<(offsets.count - 1) {
                let written = PackBits.length(base, from: offsets[s], to: offsets[s + 1], limit: pixels)
                guard written == pixels else {
                    throw VinDrError(.decode, source, "RLE segment \(s + 1) decodes to \(written) bytes, \(pixels) expected")
                }
            }
            throw VinDrError(.decode, source, "RLE segments decode to fewer than the \(pixels) bytes of a \(width)x\(height) frame")
        }
    }

    /// One PackBits segment (PS3.5 G.3.1) being unpacked: n in 0...127 copies n+1 literal bytes,
    /// -127...-1 repeats the next byte 1-n times, -128 is a no-op. A literal run cut short by the
    /// segment's end yields the bytes that are there. Every read is inside start..<end.
    private struct PackBits {
        /// Bytes `fill` may write past the count asked for.
        static let slack = 16
        let base: UnsafePointer<UInt8>
        var i: Int
        let end: Int
        var literal = 0  // bytes of the current literal run still to copy, at base + i
        var repeats = 0  // copies of `value` still to write
        var value: UInt8 = 0

        init(base: UnsafePointer<UInt8>, at start: Int, end: Int) {
            self.base = base
            self.i = start
            self.end = end
        }

        /// Writes the segment's next `count` bytes at `dst`, which has room for `count + slack`
        /// (the bytes past `count` may be overwritten); false when the segment ends first.
        /// Not inlined, and the state is kept in locals: the run loop keeps it in registers.
        @inline(never)
        mutating func fill(_ dst: UnsafeMutablePointer<UInt8>, _ count: Int) -> Bool {
            var i = self.i, literal = self.literal, repeats = self.repeats, value = self.value
            defer { (self.i, self.literal, self.repeats, self.value) = (i, literal, repeats, value) }
            let base = self.base, end = self.end
            var o = 0
            while o < count {
                if literal > 0 {
                    let k = min(literal, count - o)
                    if end - i >= k + 15 {  // runs are short (at most 128 bytes): 16-byte moves, no call
                        var c = 0
                        repeat {
                            UnsafeMutableRawPointer(dst + o + c).storeBytes(of: UnsafeRawPointer(base + i + c).loadUnaligned(as: SIMD16<UInt8>.self),
                                                                            as: SIMD16<UInt8>.self)
                            c += 16
                        } while c < k
                    } else {
                        (dst + o).update(from: base + i, count: k)
                    }
                    i += k
                    literal -= k
                    o += k
                } else if repeats > 0 {
                    let k = min(repeats, count - o)
                    let v = SIMD16<UInt8>(repeating: value)
                    var c = 0
                    repeat {
                        UnsafeMutableRawPointer(dst + o + c).storeBytes(of: v, as: SIMD16<UInt8>.self)
                        c += 16
                    } while c < k
                    repeats -= k
                    o += k
                } else {
                    guard i < end else { return false }
                    let n = Int(Int8(bitPattern: base[i]))
                    i += 1
                    if n >= 0 {
                        literal = min(n + 1, end - i)
                    } else if n != -128 {
                        guard i < end else { return false }
                        repeats = 1 - n
                        value = base[i]
                        i += 1
                    }
                }
            }
            return true
        }

        /// How many bytes the segment start..<end unpacks to, at most `limit`.
        static func length(_ base: UnsafePointer<UInt8>, from start: Int, to end: Int, limit: Int) -> Int {
            var i = start
            var o = 0
            while i < end && o < limit {
                let n = Int(Int8(bitPattern: base[i]))
                i += 1
                if n >= 0 {
                    let k = min(n + 1, limit - o, end - i)
                    i += n + 1
                    o += k
                    if k < n + 1 { break }
                } else if n != -128 {
                    guard i < end else { break }
                    o += min(1 - n, limit - o)
                    i += 1
                }
            }
            return o
        }
    }
}
