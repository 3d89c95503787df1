/// JPEG-LS (ITU-T T.87 | ISO/IEC 14495-1, PS3.5 A.4.3) for one grey component, 2 to 16 bits,
/// lossless and near-lossless, default or LSE id 1 preset parameters, restart intervals, in
/// one pass, line by line: the previous and current line are kept in two small buffers with
/// the edge samples of T.87 A.2.1, each line written to the output as soon as it is complete.
///
/// `header` decides per stream: it returns nil for what this decoder leaves to CharLS (several
/// components or scans, interleaved scans, mapping tables (LSE id 2/3, a scan's Tm), oversize
/// dimensions (LSE id 4), a preset MAXVAL other than 2^P - 1, a point transform, a frame
/// height given by DNL, other SOF markers).
/// A header that is malformed for any reader throws instead.
enum JPEGLSDecoder {
    /// What the frame and scan headers (T.87 C.2) and the preset parameters (C.2.4.1.1) fix.
    struct Parameters {
        var width = 0, height = 0, precision = 0, near = 0
        var maxval = 0, t1 = 0, t2 = 0, t3 = 0, reset = 64
        var restartInterval = 0
        /// Offset of the first byte of entropy-coded data after the SOS segment.
        var scanStart = 0
    }

    /// Parses the marker segments up to the first SOS. nil: outside this decoder's scope.
    static func header(_ s: UnsafeRawBufferPointer, source: String) throws -> Parameters? {
        func fail(_ message: String) -> VinDrError { VinDrError(.decode, source, "JPEG-LS: \(message)") }
        let n = s.count
        func u16(_ i: Int) -> Int { Int(s[i]) << 8 | Int(s[i + 1]) }
        guard n >= 2, s[0] == 0xFF, s[1] == 0xD8 else { throw fail("stream does not start with SOI (FFD8)") }
        var p = 2
        var frame: (precision: Int, height: Int, width: Int)?
        var preset: (maxval: Int, t1: Int, t2: Int, t3: Int, reset: Int)?
        var restartInterval = 0
        while true {
            guard p + 1 < n, s[p] == 0xFF else { throw fail("marker expected at byte \(p)") }
            while p + 1 < n, s[p + 1] == 0xFF { p += 1 }  // fill bytes (T.81 B.1.1.2)
            guard p + 1 < n else { throw fail("stream ends inside a marker") }
            let marker = s[p + 1]
            p += 2
            if marker == 0xD8 || marker == 0xD9 || (0xD0...0xD7).contains(marker) {
                throw fail("unexpected marker FF\(hex(marker)) before the scan")
            }
            guard p + 2 <= n else { throw fail("stream ends inside a marker segment") }
            let length = u16(p)
            guard length >= 2, p + length <= n else { throw fail("marker segment FF\(hex(marker)) of length \(length) overruns the stream") }
            let body = p + 2, bodyLength = length - 2
            defer { p += length }
            switch marker {
            case 0xF7:  // SOF55 (C.2.2)
                guard frame == nil else { throw fail("two frame headers") }
                guard bodyLength >= 6 else { throw fail("frame header too short") }
                let components = Int(s[body + 5])
                guard components == 1, bodyLength == 9 else { return nil }
                frame = (Int(s[body]), u16(body + 1), u16(body + 3))
            case 0xF8:  // LSE (C.2.4.1)
                guard bodyLength >= 1 else { throw fail("empty LSE segment") }
                guard s[body] == 1 else { return nil }  // mapping tables, oversize dimensions
                guard bodyLength == 11 else { throw fail("LSE preset parameters segment of length \(length), 13 expected") }
                preset = (u16(body + 1), u16(body + 3), u16(body + 5), u16(body + 7), u16(body + 9))
            case 0xDD:  // DRI (C.2.5): Ri in Lr - 2 bytes
                guard (1...4).contains(bodyLength) else { throw fail("DRI segment of length \(length)") }
                restartInterval = (0..<bodyLength).reduce(0) { $0 << 8 | Int(s[body + $1]) }
            case 0xDA:  // SOS (C.2.3)
                guard let frame else { throw fail("scan header before the frame header") }
                guard bodyLength >= 1 else { throw fail("scan header too short") }
                guard s[body] == 1, bodyLength == 6 else { return nil }
                let mapping = s[body + 2], near = Int(s[body + 3]), interleave = s[body + 4], transform = s[body + 5]
                guard mapping == 0, interleave == 0, transform == 0 else { return nil }
                guard frame.height > 0 else { return nil }  // height defined by DNL
                return try parameters(frame: frame, near: near, preset: preset, restartInterval: restartInterval,
                                      scanStart: p + length, fail: fail)
            case 0xE0...0xEF, 0xFE:  // APPn, COM
                break
            default:
                return nil
            }
        }
    }

    /// The coding parameters, with T.87 C.2.4.1.1 defaults for those the preset leaves 0,
    /// checked as CharLS checks them. nil for a preset MAXVAL below 2^P - 1: CharLS codes such
    /// streams with RANGE and LIMIT from P (it reads MAXVAL only for the default thresholds),
    /// where A.2.1 takes them from MAXVAL, and files that decode today keep their values.
    private static func parameters(frame: (precision: Int, height: Int, width: Int), near: Int,
                                   preset: (maxval: Int, t1: Int, t2: Int, t3: Int, reset: Int)?, restartInterval: Int,
                                   scanStart: Int, fail: (String) -> VinDrError) throws -> Parameters? {
        var q = Parameters()
        (q.precision, q.height, q.width, q.near) = (frame.precision, frame.height, frame.width, near)
        guard (2...16).contains(q.precision) else { throw fail("sample precision \(q.precision) not in 2...16") }
        guard q.width > 0 else { throw fail("frame width 0") }
        let top = (1 << q.precision) - 1
        let given = preset ?? (0, 0, 0, 0, 0)
        guard given.maxval <= top else { throw fail("MAXVAL \(given.maxval) above 2^\(q.precision) - 1") }
        guard given.maxval == 0 || given.maxval == top else { return nil }
        q.maxval = top
        guard near <= min(255, q.maxval / 2) else { throw fail("NEAR \(near) above min(255, MAXVAL / 2)") }
        let (d1, d2, d3) = defaultThresholds(maxval: q.maxval, near: near)
        q.t1 = given.t1 == 0 ? d1 : given.t1
        q.t2 = given.t2 == 0 ? d2 : given.t2
        q.t3 = given.t3 == 0 ? d3 : given.t3
        q.reset = given.reset == 0 ? 64 : given.reset
        guard q.t1 >= near + 1, q.t1 <= q.maxval, q.t2 >= q.t1, q.t2 <= q.maxval, q.t3 >= q.t2, q.t3 <= q.maxval,
              q.reset >= 3, q.reset <= max(255, q.maxval) else {
            throw fail("preset parameters T1 \(q.t1), T2 \(q.t2), T3 \(q.t3), RESET \(q.reset) invalid for MAXVAL \(q.maxval), NEAR \(near)")
        }
        q.restartInterval = restartInterval
        q.scanStart = scanStart
        return q
    }

    /// T.87 C.2.4.1.1.1: T1, T2, T3 scaled from BASIC_T1..3 = 3, 7, 21 to MAXVAL and NEAR.
    private static func defaultThresholds(maxval: Int, near: Int) -> (Int, Int, Int) {
        func clamp(_ i: Int, _ j: Int) -> Int { i > maxval || i < j ? j : i }
        if maxval >= 128 {
            let factor = (min(maxval, 4095) + 128) / 256
            let t1 = clamp(factor * (3 - 2) + 2 + 3 * near, near + 1)
            let t2 = clamp(factor * (7 - 3) + 3 + 5 * near, t1)
            return (t1, t2, clamp(factor * (21 - 4) + 4 + 7 * near, t2))
        }
        let factor = 256 / (maxval + 1)
        let t1 = clamp(max(2, 3 / factor + 3 * near), near + 1)
        let t2 = clamp(max(3, 7 / factor + 5 * near), t1)
        return (t1, t2, clamp(max(4, 21 / factor + 7 * near), t2))
    }

    /// Decodes the scan into `height` rows of `width` samples of `format`, `rowStride` bytes
    /// apart, at `out`, which the caller has checked can hold them. With `bitsStored` each row
    /// is normalized (`SampleFormat.normalize`), saturated first when `saturate` is set
    /// (`StoredPixels.saturate`). On an error the rows may be partly written.
    static func decode(_ stream: UnsafeRawBufferPointer, _ q: Parameters, format: SampleFormat, bitsStored: Int?, saturate: Bool,
                       into out: UnsafeMutableRawPointer, rowStride: Int, source: String) throws {
        guard q.precision <= 8 * format.bytesPerSample else {
            throw VinDrError(.decode, source, "JPEG-LS stream has \(q.precision)-bit samples; the data set says \(8 * format.bytesPerSample)-bit")
        }
        let rowDone: (UnsafeMutableRawPointer) -> Void = { row in
            guard let bitsStored else { return }
            if saturate, bitsStored < 8 * format.bytesPerSample, !format.isSigned {
                let top = (1 << bitsStored) - 1
                if format.bytesPerSample == 1 {
                    let p = row.assumingMemoryBound(to: UInt8.self)
                    for x in 0..<q.width where Int(p[x]) > top { p[x] = UInt8(top) }
                } else {
                    let p = row.assumingMemoryBound(to: UInt16.self)
                    for x in 0..<q.width where Int(p[x]) > top { p[x] = UInt16(top) }
                }
            }
            format.normalize(row, count: q.width, bitsStored: bitsStored)
        }
        var scan = Scan(stream, q)
        defer { scan.deallocate() }
        let message = q.near == 0
            ? scan.decode(Lossless.self, out: out, rowStride: rowStride, wide: format.bytesPerSample == 2, rowDone: rowDone)
            : scan.decode(NearLossless.self, out: out, rowStride: rowStride, wide: format.bytesPerSample == 2, rowDone: rowDone)
        if let message { throw VinDrError(.decode, source, "JPEG-LS: \(message)") }
    }
}

/// NEAR = 0 or not, fixed at compile time so that the lossless loop carries no NEAR arithmetic.
private protocol JPEGLSMode { static var lossless: Bool { get } }
private enum Lossless: JPEGLSMode { static var lossless: Bool { true } }
private enum NearLossless: JPEGLSMode { static var lossless: Bool { false } }

/// One context's statistics (T.87 A.2): A, B, C, N; for the run interruption contexts 365 and
/// 366 (A.7.2), A, N and Nn (kept in `c`).
private struct Context {
    var a: Int
    var b: Int
    var c: Int32
    var n: Int32
}

/// The bit stream (T.87 9.1 / A.1): `cache` holds `count` bits, most significant first. After
/// an FF byte only the 7 low bits of the next byte are data; FF followed by a byte >= 80 is a
/// marker, where the data end. Past the end, zero bits are supplied and counted in `padded`:
/// more padded bits consumed than are left in the cache means the stream was cut short. Every
/// byte read is below `end`. A value type held in locals by the line loop; the slow paths take
/// and return it by value so that it stays in registers.
private struct BitReader {
    let data: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    var cache: UInt64 = 0
    var count = 0
    var padded = 0
    var afterFF = false
    var atMarker = false

    init(data: UnsafePointer<UInt8>, end: Int, pos: Int) {
        self.data = data
        self.end = end
        self.pos = pos
    }

    /// Whether padding past the end of the data has been consumed.
    var overrun: Bool { padded > count }

    /// Tops the cache up to at least 32 bits when it holds fewer; 8 bytes at a time when none
    /// of them is FF.
    @inline(__always) mutating func refill() {
        guard count < 32 else { return }
        if !afterFF, pos &+ 8 <= end {
            let word = UInt64(bigEndian: UnsafeRawPointer(data + pos).loadUnaligned(as: UInt64.self))
            let inverted = ~word  // a zero byte here is an FF byte in the stream
            if (inverted &- 0x0101_0101_0101_0101) & ~inverted & 0x8080_8080_8080_8080 == 0 {
                cache |= word &>> UInt64(count)  // bits past `count` are the same stream bits again
                let bytes = (64 &- count) &>> 3
                pos &+= bytes
                count &+= bytes &<< 3
                return
            }
        }
        self = BitReader.refilled(self)
    }

    @inline(never) static func refilled(_ r: BitReader) -> BitReader {
        var r = r
        r.cache = r.count == 0 ? 0 : r.cache & ~(UInt64.max &>> UInt64(r.count))
        while r.count <= 56 {
            if r.atMarker || r.pos >= r.end {
                r.padded += 64 - r.count
                r.count = 64
                break
            }
            let byte = r.data[r.pos]
            if r.afterFF {
                r.cache |= UInt64(byte) &<< UInt64(57 - r.count)
                r.count += 7
                r.afterFF = false
            } else if byte == 0xFF {
                guard r.pos + 1 < r.end, r.data[r.pos + 1] < 0x80 else { r.atMarker = true; continue }
                r.cache |= 0xFF &<< UInt64(56 - r.count)
                r.count += 8
                r.afterFF = true
            } else {
                r.cache |= UInt64(byte) &<< UInt64(56 - r.count)
                r.count += 8
            }
            r.pos += 1
        }
        return r
    }

    @inline(__always) mutating func readBit() -> Bool {
        refill()
        let bit = cache >> 63 != 0
        cache &<<= 1
        count &-= 1
        return bit
    }

    /// `n` (0...32) bits.
    @inline(__always) mutating func read(_ n: Int) -> Int {
        refill()
        let v = Int(truncatingIfNeeded: (cache &>> UInt64(63 &- n)) &>> 1)
        cache = (cache &<< UInt64(n &>> 1)) &<< UInt64(n &- n &>> 1)
        count &-= n
        return v
    }

    /// A limited-length Golomb code (A.5.3): unary high part, then k bits, or after
    /// LIMIT - qbpp - 1 zeros a 1 and qbpp bits of the value - 1. nil when the code is longer.
    @inline(__always) mutating func golomb(k: Int, limit: Int, qbpp: Int) -> Int? {
        refill()
        let zeros = cache.leadingZeroBitCount
        let length = zeros &+ 1 &+ k
        if zeros < limit &- qbpp &- 1, length <= count {
            let shifted = (cache &<< 1) &<< UInt64(zeros)
            let low = Int(truncatingIfNeeded: (shifted &>> UInt64(63 &- k)) &>> 1)
            cache = shifted &<< UInt64(k)
            count &-= length
            return zeros &<< k | low
        }
        let (value, r) = BitReader.golombLong(self, k: k, limit: limit, qbpp: qbpp)
        self = r
        return value
    }

    @inline(never) static func golombLong(_ r: BitReader, k: Int, limit: Int, qbpp: Int) -> (Int?, BitReader) {
        var r = r
        let escape = limit - qbpp - 1
        var zeros = 0
        while true {
            r.refill()
            let z = r.cache.leadingZeroBitCount
            if z < r.count {
                zeros += z
                r.cache = (r.cache &<< 1) &<< UInt64(z)
                r.count -= z + 1
                break
            }
            zeros += r.count
            r.cache = 0
            r.count = 0
            if zeros > escape { return (nil, r) }
        }
        if zeros > escape { return (nil, r) }
        return (zeros == escape ? r.read(qbpp) + 1 : zeros << k | r.read(k), r)
    }
}

/// The coding parameters of A.2.1 the line loop reads, as constants.
private struct Coding {
    let width: Int, maxval: Int, near: Int, range: Int, step: Int, qbpp: Int, limit: Int, reset: Int
}

/// The state of one scan's decoding: bit reader, contexts, line buffers.
private struct Scan {
    let q: JPEGLSDecoder.Parameters
    let coding: Coding
    var bits: BitReader
    let contexts: UnsafeMutablePointer<Context>  // 0...364 regular (|Q|), 365, 366 run interruption
    let quantize: UnsafeMutablePointer<Int8>  // Q(D) for D in -maxval...maxval, at quantize[maxval + D]
    let lines: UnsafeMutablePointer<UInt16>  // two lines of width + 2: [-1], 0..<width, [width]; one sample of slack
    let j: UnsafeMutablePointer<Int>  // J[RUNindex] (A.7.1.1)
    var runIndex = 0

    init(_ stream: UnsafeRawBufferPointer, _ q: JPEGLSDecoder.Parameters) {
        self.q = q
        let step = 2 * q.near + 1
        let range = (q.maxval + 2 * q.near) / step + 1  // A.2.1
        var qbpp = 0
        while 1 << qbpp < range { qbpp += 1 }
        var bpp = 0
        while 1 << bpp < q.maxval + 1 { bpp += 1 }
        bpp = max(2, bpp)
        coding = Coding(width: q.width, maxval: q.maxval, near: q.near, range: range, step: step, qbpp: qbpp,
                        limit: 2 * (bpp + max(8, bpp)), reset: q.reset)
        bits = BitReader(data: stream.baseAddress!.assumingMemoryBound(to: UInt8.self), end: stream.count, pos: q.scanStart)
        contexts = .allocate(capacity: 367)
        quantize = .allocate(capacity: 2 * q.maxval + 1)
        for d in -q.maxval...q.maxval {  // A.3.3
            let v: Int8
            if d <= -q.t3 { v = -4 } else if d <= -q.t2 { v = -3 } else if d <= -q.t1 { v = -2 } else if d < -q.near { v = -1 }
            else if d <= q.near { v = 0 } else if d < q.t1 { v = 1 } else if d < q.t2 { v = 2 } else if d < q.t3 { v = 3 } else { v = 4 }
            quantize[q.maxval + d] = v
        }
        lines = .allocate(capacity: 2 * (q.width + 2) + 1)  // Rd of the sample after the last is loaded, not used
        j = .allocate(capacity: 32)
        for (i, v) in [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15].enumerated() {
            j[i] = v
        }
        reset()
    }

    func deallocate() {
        contexts.deallocate()
        quantize.deallocate()
        lines.deallocate()
        j.deallocate()
    }

    /// A.2.1 initialisation, at the start of the scan and after each restart marker: contexts,
    /// RUNindex, and a zero line above the first.
    mutating func reset() {
        let a = max(2, (coding.range + 32) / 64)
        for i in 0..<367 { contexts[i] = Context(a: a, b: 0, c: 0, n: 1) }
        runIndex = 0
        lines.initialize(repeating: 0, count: 2 * (q.width + 2) + 1)
    }

    /// Decodes every line; nil, or what is wrong with the stream.
    mutating func decode<M: JPEGLSMode>(_: M.Type, out: UnsafeMutableRawPointer, rowStride: Int, wide: Bool,
                                        rowDone: (UnsafeMutableRawPointer) -> Void) -> String? {
        let width = q.width, stride = width + 2
        var marker = 0
        for y in 0..<q.height {
            if q.restartInterval > 0, y > 0, y % q.restartInterval == 0 {
                if let problem = restart(marker) { return problem }
                marker = (marker + 1) & 7
            }
            let previous = lines + 1 + (y & 1) * stride, current = lines + 1 + (~y & 1) * stride
            previous[width] = previous[width - 1]  // Rd past the end of the line (A.2.1)
            current[-1] = previous[0]  // Ra of the first sample; Rc is previous[-1], Ra of the line above
            let decoded = decodeLine(M.self, previous: previous, current: current)
            if bits.overrun { return "data end in line \(y + 1) of \(q.height): truncated" }
            if !decoded { return "invalid code in line \(y + 1)" }
            let row = out + y * rowStride
            if wide {
                row.copyMemory(from: current, byteCount: 2 * width)
            } else {
                let bytes = row.assumingMemoryBound(to: UInt8.self)
                for x in 0..<width { bytes[x] = UInt8(truncatingIfNeeded: current[x]) }
            }
            rowDone(row)
        }
        return nil
    }

    /// At the end of a restart interval: the rest of the byte, the marker RSTm (T.87 D.3), and
    /// a fresh start (A.2.1).
    mutating func restart(_ m: Int) -> String? {
        if bits.overrun { return "data end before restart marker RST\(m)" }
        var p = bits.pos
        let data = bits.data, end = bits.end
        if !bits.atMarker, bits.afterFF, p < end, data[p] == 0 { p += 1 }
        while p + 1 < end, data[p] == 0xFF, data[p + 1] == 0xFF { p += 1 }
        guard p + 1 < end, data[p] == 0xFF, data[p + 1] == 0xD0 + UInt8(m) else { return "restart marker RST\(m) missing" }
        bits = BitReader(data: data, end: end, pos: p + 2)
        reset()
        return nil
    }

    /// One line (A.3): regular mode sample by sample, run mode where the local gradients are
    /// all 0. false: a code longer than LIMIT, or a run past the end of the line. The bit
    /// reader, RUNindex and the coding constants are held in locals here.
    @inline(__always) mutating func decodeLine<M: JPEGLSMode>(_: M.Type, previous: UnsafeMutablePointer<UInt16>,
                                                               current: UnsafeMutablePointer<UInt16>) -> Bool {
        let p = coding, contexts = contexts, j = j
        let lut = quantize + p.maxval
        var bits = self.bits, runIndex = self.runIndex
        defer { (self.bits, self.runIndex) = (bits, runIndex) }
        var x = 0
        var ra = Int(current[-1]), rb = Int(previous[0]), rc = Int(previous[-1]), rd = Int(previous[1])
        while x < p.width {
            // A.3.1 gradients, A.3.3 quantisation, A.3.4 context and sign
            let context = 81 &* Int(lut[rd &- rb]) &+ 9 &* Int(lut[rb &- rc]) &+ Int(lut[rc &- ra])
            if context != 0 {
                guard let rx = Scan.regular(M.self, p, contexts, &bits, context: context, ra: ra, rb: rb, rc: rc) else { return false }
                current[x] = UInt16(truncatingIfNeeded: rx)
                x &+= 1
                (ra, rc, rb) = (rx, rb, rd)
                rd = Int(previous[x &+ 1])
            } else {
                guard let next = Scan.run(M.self, p, contexts, j, &bits, &runIndex, at: x, ra: ra, previous: previous, current: current)
                else { return false }
                x = next
                if x < p.width {
                    (ra, rb, rc, rd) = (Int(current[x &- 1]), Int(previous[x]), Int(previous[x &- 1]), Int(previous[x &+ 1]))
                }
            }
        }
        return true
    }

    /// A.7.2.1 reconstruction: Px plus Errval (times 2 NEAR + 1), brought back into range
    /// modulo RANGE (A.4.4), then clamped to 0...MAXVAL.
    @inline(__always) static func reconstruct<M: JPEGLSMode>(_: M.Type, _ p: Coding, _ px: Int, _ error: Int) -> Int {
        var v: Int
        if M.lossless {
            v = px &+ error
            if v < 0 { v &+= p.range } else if v > p.maxval { v &-= p.range }
        } else {
            v = px &+ error &* p.step
            if v < -p.near { v &+= p.range &* p.step } else if v > p.maxval &+ p.near { v &-= p.range &* p.step }
        }
        return v < 0 ? 0 : (v > p.maxval ? p.maxval : v)
    }

    /// One sample in regular mode: A.4 edge-detecting prediction and C[Q] correction, A.5 k
    /// and the Golomb-coded error, mapped back (A.5.2), A.6 context update and bias correction.
    @inline(__always) static func regular<M: JPEGLSMode>(_: M.Type, _ p: Coding, _ contexts: UnsafeMutablePointer<Context>,
                                                         _ bits: inout BitReader, context signed: Int, ra: Int, rb: Int, rc: Int) -> Int? {
        let sign = signed &>> 63  // 0 or -1
        let ctx = contexts + ((signed ^ sign) &- sign)
        let n = Int(ctx.pointee.n), a = ctx.pointee.a
        var k = max(0, n.leadingZeroBitCount &- a.leadingZeroBitCount)  // smallest k with N << k >= A, at most 16
        if n &<< k < a { k &+= 1 }
        k = min(k, 16)
        let lo = min(ra, rb), hi = max(ra, rb)
        var px = rc >= hi ? lo : (rc <= lo ? hi : ra &+ rb &- rc)  // A.4.1
        let c = Int(ctx.pointee.c)
        px &+= (c ^ sign) &- sign  // A.4.2
        px = px < 0 ? 0 : (px > p.maxval ? p.maxval : px)
        guard let mapped = bits.golomb(k: k, limit: p.limit, qbpp: p.qbpp), mapped <= 131071 else { return nil }
        var error = (mapped &>> 1) ^ (0 &- (mapped & 1))
        if M.lossless, k == 0 { error ^= (2 &* ctx.pointee.b &+ n &- 1) &>> 63 }  // the inverted mapping of A.5.2
        update(M.self, p, ctx, error: error, n: n, a: a)
        return reconstruct(M.self, p, px, (error ^ sign) &- sign)
    }

    /// A.6.1 update of A, B, N with RESET halving, A.6.2 bias correction of B and C.
    @inline(__always) static func update<M: JPEGLSMode>(_: M.Type, _ p: Coding, _ ctx: UnsafeMutablePointer<Context>,
                                                        error: Int, n: Int, a: Int) {
        var a = a &+ abs(error), b = ctx.pointee.b &+ (M.lossless ? error : error &* p.step), n = n, c = ctx.pointee.c
        if n == p.reset { a &>>= 1; b &>>= 1; n &>>= 1 }
        n &+= 1
        if b &+ n <= 0 {
            b &+= n
            if b <= -n { b = 1 &- n }
            if c > -128 { c &-= 1 }
        } else if b > 0 {
            b &-= n
            if b > 0 { b = 0 }
            if c < 127 { c &+= 1 }
        }
        ctx.pointee = Context(a: a, b: b, c: c, n: Int32(truncatingIfNeeded: n))
    }

    /// Run mode (A.7.1): 1 bits each fill 2^J[RUNindex] samples with Ra (or the rest of the
    /// line), a 0 bit is followed by J[RUNindex] bits of the remaining count and the run
    /// interruption sample (A.7.2). Returns the position after them; nil for a run past the line.
    @inline(__always) static func run<M: JPEGLSMode>(_: M.Type, _ p: Coding, _ contexts: UnsafeMutablePointer<Context>,
                                                     _ jTable: UnsafeMutablePointer<Int>, _ bits: inout BitReader, _ runIndex: inout Int,
                                                     at start: Int, ra: Int, previous: UnsafeMutablePointer<UInt16>,
                                                     current: UnsafeMutablePointer<UInt16>) -> Int? {
        let width = p.width
        let value = UInt16(truncatingIfNeeded: ra)
        var x = start
        while bits.readBit() {
            let length = 1 &<< jTable[runIndex]
            let n = min(length, width &- x)
            (current + x).update(repeating: value, count: n)
            x &+= n
            if n == length, runIndex < 31 { runIndex &+= 1 }
            if x == width { return x }
        }
        let j = jTable[runIndex]
        if j > 0 {
            let n = bits.read(j)
            guard n <= width &- x else { return nil }
            (current + x).update(repeating: value, count: n)
            x &+= n
            if x == width { return x }
        }
        guard let rx = interruption(M.self, p, contexts, &bits, ra: ra, rb: Int(previous[x]), j: j) else { return nil }
        current[x] = UInt16(truncatingIfNeeded: rx)
        if runIndex > 0 { runIndex &-= 1 }
        return x &+ 1
    }

    /// The run interruption sample (A.7.2): context 366 when |Ra - Rb| <= NEAR (predicted by
    /// Ra), else 365 (predicted by Rb, the error's sign that of Rb - Ra); the Golomb limit is
    /// LIMIT - J[RUNindex] - 1.
    @inline(__always) static func interruption<M: JPEGLSMode>(_: M.Type, _ p: Coding, _ contexts: UnsafeMutablePointer<Context>,
                                                              _ bits: inout BitReader, ra: Int, rb: Int, j: Int) -> Int? {
        let type = abs(ra &- rb) <= p.near ? 1 : 0
        let ctx = contexts + 365 + type
        let a = ctx.pointee.a, n = Int(ctx.pointee.n), nn = Int(ctx.pointee.c)
        let temp = type == 1 ? a &+ n &>> 1 : a
        var k = 0
        while n &<< k < temp, k < 16 { k &+= 1 }
        guard let mapped = bits.golomb(k: k, limit: p.limit &- j &- 1, qbpp: p.qbpp), mapped <= 131071 else { return nil }
        let t = mapped &+ type
        let map = t & 1
        var error = (t &+ map) &>> 1
        if (k != 0 || 2 &* nn >= n) == (map == 1) { error = 0 &- error }
        var newA = a &+ (mapped &+ 1 &- type) &>> 1, newN = n, newNn = nn &+ (error < 0 ? 1 : 0)
        if newN == p.reset { newA &>>= 1; newN &>>= 1; newNn &>>= 1 }
        newN &+= 1
        ctx.pointee = Context(a: newA, b: 0, c: Int32(truncatingIfNeeded: newNn), n: Int32(truncatingIfNeeded: newN))
        if type == 1 { return reconstruct(M.self, p, ra, error) }
        return reconstruct(M.self, p, rb, rb < ra ? 0 &- error : error)
    }
}
