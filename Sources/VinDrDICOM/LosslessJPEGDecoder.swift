/// Lossless JPEG (ITU-T T.81 Annex H, process 14: PS3.5 A.4.1, transfer syntaxes .57 and .70,
/// the latter selection value 1 only): one Huffman-coded scan of prediction differences, decoded
/// here row by row straight into the output rows. Only what DICOM monochrome images use is taken
/// on: a SOF3 frame of one component. Other frames of these syntaxes (another SOFn: DCT,
/// arithmetic coded or hierarchical; several components) are left to GDCM: `Scan(parsing:)` is
/// nil for them. Every read of the stream is bounds checked; a stream that ends (or reaches a
/// marker) before the last sample is an error, not zero filled.
enum LosslessJPEGDecoder {
    /// The frame and scan headers (T.81 B.2.2, B.2.3) of a single-component SOF3 stream, with the
    /// Huffman table the scan uses and where its entropy-coded data starts.
    struct Scan {
        var width = 0, height = 0
        /// Sample precision P, 2...16 (T.81 B.2.2, Table B.2).
        var precision = 0
        /// Selection value Ss, 1...7 (T.81 Table H.1).
        var predictor = 0
        /// Point transform Pt (Al), 0..<P: samples are coded shifted right by Pt (T.81 H.1.1).
        var pointTransform = 0
        /// Restart interval Ri in samples (DRI, T.81 B.2.4.4); 0 = none.
        var restartInterval = 0
        var table: HuffmanTable
        var dataStart = 0

        /// Reads the marker segments up to the first SOS (T.81 B.2). nil when the stream does not
        /// begin with SOI or its frame is not SOF3 with one component (GDCM decodes those).
        /// Tables and application data (APPn, COM, DQT, DNL) in any order are skipped; fill bytes
        /// 0xFF before a marker are allowed (T.81 B.1.1.2).
        init?(parsing s: UnsafeRawBufferPointer, source: String) throws {
            func fail(_ message: String) -> VinDrError { VinDrError(.decode, source, "JPEG lossless stream: \(message)") }
            guard s.count >= 2, s[0] == 0xFF, s[1] == 0xD8 else { return nil }
            var tables = [[UInt8]?](repeating: nil, count: 4)  // DHT class 0 (T.81 B.2.4.2) by Th: BITS then HUFFVAL
            var component: Int?
            var i = 2
            while true {
                guard i < s.count, s[i] == 0xFF else {
                    throw fail(i < s.count ? "byte \(i) is 0x\(hex(s[i])) where a marker should start (T.81 B.1.1.2)" : "ends at byte \(i) before a start of scan (SOS) marker")
                }
                while i < s.count && s[i] == 0xFF { i += 1 }
                guard i < s.count else { throw fail("ends in fill bytes before a start of scan (SOS) marker") }
                let marker = Int(s[i])
                i += 1
                if marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }  // TEM, RSTn: no segment
                if marker == 0xD9 { throw fail("end of image (EOI) before a start of scan (SOS) marker") }
                guard marker != 0x00, marker != 0xD8 else { throw fail("unexpected marker 0xFF\(hex(UInt8(marker))) at byte \(i - 2)") }
                guard i + 2 <= s.count else { throw fail("marker 0xFF\(hex(UInt8(marker))) at byte \(i - 2) has no length") }
                let length = Int(s[i]) << 8 | Int(s[i + 1])
                guard length >= 2, i + length <= s.count else {
                    throw fail("marker 0xFF\(hex(UInt8(marker))) segment at byte \(i - 2) has length \(length), \(s.count - i) bytes remain")
                }
                let body = i + 2, end = i + length
                i = end
                switch marker {
                case 0xC3:
                    guard component == nil else { throw fail("a second frame header (SOF3)") }
                    guard length >= 8 else { throw fail("frame header (SOF3) of length \(length), at least 8 expected (T.81 B.2.2)") }
                    let nf = Int(s[body + 5])
                    guard nf == 1 else { return nil }
                    guard length == 8 + 3 * nf else { throw fail("frame header (SOF3) length \(length) for \(nf) component, \(8 + 3 * nf) expected (T.81 B.2.2)") }
                    precision = Int(s[body])
                    height = Int(s[body + 1]) << 8 | Int(s[body + 2])
                    width = Int(s[body + 3]) << 8 | Int(s[body + 4])
                    guard (2...16).contains(precision) else { throw fail("sample precision \(precision) outside 2...16 (T.81 Table B.2)") }
                    component = Int(s[body + 6])
                case 0xC0...0xCF where marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
                    guard component == nil else { throw fail("frame header 0xFF\(hex(UInt8(marker))) after SOF3") }
                    return nil  // DCT, arithmetic or hierarchical: GDCM's codec
                case 0xC4:
                    var k = body
                    while k < end {
                        guard k + 17 <= end else { throw fail("Huffman table segment (DHT) at byte \(body - 4) is cut short (T.81 B.2.4.2)") }
                        let tc = Int(s[k] >> 4), th = Int(s[k] & 15)
                        guard tc <= 1, th <= 3 else { throw fail("Huffman table class \(tc) destination \(th) (T.81 B.2.4.2: class 0-1, destination 0-3)") }
                        let counts = (1...16).reduce(0) { $0 + Int(s[k + $1]) }
                        guard counts <= 256, k + 17 + counts <= end else {
                            throw fail("Huffman table \(th) has \(counts) codes, more than its segment (DHT) holds")
                        }
                        if tc == 0 { tables[th] = [UInt8](UnsafeRawBufferPointer(rebasing: s[(k + 1)..<(k + 17 + counts)])) }
                        k += 17 + counts
                    }
                case 0xDD:
                    guard length == 4 else { throw fail("restart interval segment (DRI) of length \(length), 4 expected (T.81 B.2.4.4)") }
                    restartInterval = Int(s[body]) << 8 | Int(s[body + 1])
                case 0xDA:
                    guard let component else { throw fail("start of scan (SOS) before the frame header (SOF3)") }
                    guard length >= 6 else { throw fail("scan header (SOS) of length \(length) (T.81 B.2.3)") }
                    let ns = Int(s[body])
                    guard ns == 1, length == 6 + 2 * ns else { throw fail("scan header (SOS) with \(ns) components, length \(length); one expected (T.81 B.2.3)") }
                    guard Int(s[body + 1]) == component else { throw fail("scan component \(s[body + 1]) is not the frame's component \(component)") }
                    let td = Int(s[body + 2] >> 4)
                    guard td <= 3, let bitsAndValues = tables[td] else { throw fail("scan uses Huffman table \(td), which no DHT segment defines") }
                    predictor = Int(s[body + 3])
                    pointTransform = Int(s[body + 5] & 15)
                    guard (1...7).contains(predictor) else { throw fail("predictor selection value \(predictor) outside 1...7 (T.81 Table H.1)") }
                    guard pointTransform < precision else { throw fail("point transform \(pointTransform) not below the precision \(precision) (T.81 H.1.2.1)") }
                    guard restartInterval % max(width, 1) == 0 else {
                        throw fail("restart interval \(restartInterval) is not a whole number of \(width)-sample lines (T.81 H.2)")
                    }
                    table = try HuffmanTable(bitsAndValues) { fail("Huffman table \(td): \($0)") }
                    dataStart = end
                    return
                default:
                    continue  // APPn, COM, DQT, DNL, DHP/EXP outside a hierarchical frame: skipped
                }
            }
        }
    }

    /// A Huffman table for lossless differences (T.81 C, F.2.2.3). `fast` maps the next
    /// `fastBits` bits of the stream to what they start with: a code and its extra bits when both
    /// fit (the difference << 16 | 0x100 | bits used), else a code alone (SSSS << 16 | its
    /// length), else 0 for a longer code, which `long` decodes: per length, the largest code
    /// (MAXCODE, -1 for none) and the index in `values` less the first code (VALPTR - MINCODE),
    /// T.81 F.2.2.3, Figure F.16.
    struct HuffmanTable {
        static let fastBits = 12
        var fast = [Int32](repeating: 0, count: 1 << fastBits)
        var long = [Int](repeating: -1, count: 2 * 17)  // [2 l] MAXCODE, [2 l + 1] VALPTR - MINCODE of length l
        var values: [UInt8]

        /// `bitsAndValues`: BITS (16 code counts by length) then HUFFVAL (T.81 B.2.4.2). Codes
        /// are assigned as in T.81 C.2 (Figures C.1-C.2); a table whose codes do not fit their
        /// lengths (over-subscribed) or with a category SSSS above 16 is an error.
        init(_ bitsAndValues: [UInt8], error: (String) -> VinDrError) throws {
            values = Array(bitsAndValues[16...])
            for v in values where v > 16 { throw error("difference category \(v) above 16 (T.81 Table H.2)") }
            let f = Self.fastBits
            var code = 0, index = 0
            for length in 1...16 {
                let n = Int(bitsAndValues[length - 1])
                if n > 0 {
                    guard code + n <= 1 << length else { throw error("\(index + n) codes do not fit in \(length) bits (over-subscribed, T.81 C.2)") }
                    long[2 * length] = code + n - 1
                    long[2 * length + 1] = index - code
                    for k in 0..<n where length <= f {
                        let c = code + k, s = Int(values[index + k])
                        if s == 0 || s == 16 || length + s <= f {
                            // Category 16 is 32768 with no extra bits (T.81 H.1.2.2), the same as -32768 modulo 2^16.
                            let extra = s == 16 ? 0 : s
                            for v in 0..<(1 << extra) {
                                let diff = s == 16 ? -32768 : s == 0 ? 0 : Self.extend(v, s)
                                let entry = Int32(diff << 16 | 0x100 | (length + extra))
                                let prefix = (c << extra | v) << (f - length - extra)
                                for low in 0..<(1 << (f - length - extra)) { fast[prefix | low] = entry }
                            }
                        } else {
                            let entry = Int32(s << 16 | length)
                            for low in 0..<(1 << (f - length)) { fast[c << (f - length) | low] = entry }
                        }
                    }
                    code += n
                    index += n
                }
                code <<= 1
            }
        }

        /// The difference whose category is `s` and extra bits `v` (T.81 F.2.2.1, EXTEND).
        @inline(__always)
        static func extend(_ v: Int, _ s: Int) -> Int { v < 1 &<< (s &- 1) ? v &- (1 &<< s) &+ 1 : v }
    }

    /// Decodes `scan` from `stream` into `height` rows of `width` samples of `format`, `rowStride`
    /// bytes apart at `out`, each normalized to `bitsStored` when given. The caller has checked
    /// the frame size against Rows/Columns, the precision against the sample size and that `out`
    /// can hold the rows.
    static func decode(_ scan: Scan, _ stream: UnsafeRawBufferPointer, format: SampleFormat, bitsStored: Int?,
                       into out: UnsafeMutableRawPointer, rowStride: Int, source: String) throws {
        guard scan.width > 0, scan.height > 0, let base = stream.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var reader = BitReader(base: base, start: scan.dataStart, end: stream.count)
        try scan.table.fast.withUnsafeBufferPointer { fast in
            try scan.table.long.withUnsafeBufferPointer { long in
                try scan.table.values.withUnsafeBufferPointer { values in
                    let table = Table(fast: fast.baseAddress!, long: long.baseAddress!, values: values)
                    if format.bytesPerSample == 1 {
                        try rows(UInt8.self, scan, &reader, table, format: format, bitsStored: bitsStored, out: out, rowStride: rowStride, source: source)
                    } else {
                        try rows(UInt16.self, scan, &reader, table, format: format, bitsStored: bitsStored, out: out, rowStride: rowStride, source: source)
                    }
                }
            }
        }
    }

    /// The rows of the scan, T.81 H.1.2.1: the first line of the image and of each restart
    /// interval is predicted from the left (Ra), its first sample from 2^(P-Pt-1); every other
    /// line's first sample from the one above (Rb), the rest by the selection value.
    private static func rows<T: FixedWidthInteger & UnsignedInteger>(
        _: T.Type, _ scan: Scan, _ reader: inout BitReader, _ table: Table, format: SampleFormat, bitsStored: Int?,
        out: UnsafeMutableRawPointer, rowStride: Int, source: String
    ) throws {
        let width = scan.width, height = scan.height, pt = scan.pointTransform
        let linesPerInterval = scan.restartInterval / width  // a whole number of lines: checked by Scan
        let initial = 1 << (scan.precision - pt - 1)
        try withUnsafeTemporaryAllocation(of: UInt16.self, capacity: scan.predictor == 1 ? 0 : 2 * width) { scratch in
            var above = scratch.baseAddress, current = above.map { $0 + width }
            var firstOfRow = initial  // predictor 1 keeps only the first sample of the line above
            for y in 0..<height {
                let restart = linesPerInterval > 0 && y > 0 && y % linesPerInterval == 0
                if restart {
                    let m = (y / linesPerInterval - 1) & 7
                    guard reader.restart(marker: 0xD0 + m) else {
                        throw VinDrError(.decode, source, "JPEG lossless stream: no restart marker RST\(m) at byte \(reader.pos) after line \(y) (restart interval \(scan.restartInterval), T.81 B.2.1): truncated or corrupt")
                    }
                }
                let row = (out + y * rowStride).assumingMemoryBound(to: T.self)
                let firstLine = y == 0 || restart
                var ok: Bool
                if scan.predictor == 1 {
                    ok = decodeLeft(&reader, table, into: row, width: width, start: firstLine ? initial : firstOfRow, shift: pt, first: &firstOfRow)
                } else {
                    let cur = current!, prev = above!
                    var unused = 0
                    if firstLine {
                        ok = decodeLeft(&reader, table, into: cur, width: width, start: initial, shift: 0, first: &unused)
                    } else {
                        switch scan.predictor {
                        case 2: ok = decodeAbove(Above.self, &reader, table, into: cur, above: prev, width: width)
                        case 3: ok = decodeAbove(UpperLeft.self, &reader, table, into: cur, above: prev, width: width)
                        case 4: ok = decodeAbove(Plane.self, &reader, table, into: cur, above: prev, width: width)
                        case 5: ok = decodeAbove(LeftPlusHalf.self, &reader, table, into: cur, above: prev, width: width)
                        case 6: ok = decodeAbove(AbovePlusHalf.self, &reader, table, into: cur, above: prev, width: width)
                        default: ok = decodeAbove(Average.self, &reader, table, into: cur, above: prev, width: width)
                        }
                    }
                    for x in 0..<width { row[x] = T(truncatingIfNeeded: Int(cur[x]) &<< pt).littleEndian }
                    swap(&above, &current)
                }
                guard ok else {
                    throw VinDrError(.decode, source, "JPEG lossless stream: no Huffman code matches the bits near byte \(reader.pos) in line \(y + 1) of \(height) (T.81 F.2.2.3): corrupt")
                }
                guard reader.count >= reader.pad else {
                    let what = reader.end < reader.streamEnd ? "a marker" : "the end of the stream"
                    throw VinDrError(.decode, source, "JPEG lossless stream: the scan's data ends at byte \(reader.end) (\(what)) in line \(y + 1) of \(height): truncated or corrupt")
                }
                if let bitsStored { format.normalize(UnsafeMutableRawPointer(row), count: width, bitsStored: bitsStored) }
            }
        }
    }

    /// One line predicted from the left (selection value 1, and the first line of any), its first
    /// sample from `start`; written shifted left by `shift` (the point transform). `first` gets
    /// the line's first sample. Differences add modulo 2^16 (T.81 H.1.2.2).
    @inline(__always)
    private static func decodeLeft<T: FixedWidthInteger & UnsignedInteger>(
        _ reader: inout BitReader, _ table: Table, into row: UnsafeMutablePointer<T>, width: Int, start: Int, shift: Int, first: inout Int
    ) -> Bool {
        var r = reader  // a local copy stays in registers
        defer { reader = r }
        guard let d0 = r.difference(table) else { return false }
        var a = (start &+ d0) & 0xFFFF
        row[0] = T(truncatingIfNeeded: a &<< shift).littleEndian
        first = a
        for x in 1..<width {
            guard let d = r.difference(table) else { return false }
            a = (a &+ d) & 0xFFFF
            row[x] = T(truncatingIfNeeded: a &<< shift).littleEndian
        }
        return true
    }

    /// One line after the first of its restart interval: the first sample predicted from above
    /// (Rb), the others by `P` from Ra, Rb, Rc (T.81 Table H.1).
    @inline(__always)
    private static func decodeAbove<P: Predictor>(
        _: P.Type, _ reader: inout BitReader, _ table: Table, into row: UnsafeMutablePointer<UInt16>, above: UnsafePointer<UInt16>, width: Int
    ) -> Bool {
        var r = reader
        defer { reader = r }
        guard let d0 = r.difference(table) else { return false }
        var a = (Int(above[0]) &+ d0) & 0xFFFF
        var c = Int(above[0])
        row[0] = UInt16(a)
        for x in 1..<width {
            guard let d = r.difference(table) else { return false }
            let b = Int(above[x])
            a = (P.predict(a, b, c) &+ d) & 0xFFFF
            row[x] = UInt16(a)
            c = b
        }
        return true
    }

    /// The predictors of T.81 Table H.1 for selection values 2-7, in the integer arithmetic of
    /// the reference decoders (samples 0..<2^16, arithmetic shift right).
    private protocol Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int }
    private enum Above: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { b } }
    private enum UpperLeft: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { c } }
    private enum Plane: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { a + b - c } }
    private enum LeftPlusHalf: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { a + ((b - c) >> 1) } }
    private enum AbovePlusHalf: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { b + ((a - c) >> 1) } }
    private enum Average: Predictor { static func predict(_ a: Int, _ b: Int, _ c: Int) -> Int { (a + b) >> 1 } }

    /// `HuffmanTable`'s arrays, borrowed for the scan.
    private struct Table {
        let fast: UnsafePointer<Int32>
        let long: UnsafePointer<Int>
        let values: UnsafeBufferPointer<UInt8>  // may be empty: a table of no codes
    }

    /// The entropy-coded data (T.81 F.2.2.5): bits most significant first in a 64-bit buffer,
    /// refilled 8 bytes at once where none is 0xFF, else byte by byte, removing the 0x00 stuffed
    /// after each 0xFF data byte (T.81 F.1.2.3). At a marker or the stream's end zero bits are
    /// supplied (`pad` counts them); a line that consumed them is truncated.
    private struct BitReader {
        let base: UnsafePointer<UInt8>
        var pos: Int
        /// Where the data ends: a marker found by the refill, else the stream's end.
        var end: Int
        let streamEnd: Int
        var acc: UInt64 = 0
        /// Bits in `acc`, of which the last `pad` are zeros past `end`.
        var count = 0
        var pad = 0

        init(base: UnsafePointer<UInt8>, start: Int, end: Int) {
            self.base = base
            self.pos = start
            self.end = end
            self.streamEnd = end
        }

        /// The next difference (T.81 F.2.2.1 DECODE and EXTEND, H.1.2.2: category 16 is 32768
        /// with no extra bits), modulo 2^16; nil when no code of the table matches.
        @inline(__always)
        mutating func difference(_ t: Table) -> Int? {
            if count < 32 { refill() }
            let entry = Int(t.fast[Int(truncatingIfNeeded: acc &>> UInt64(64 - HuffmanTable.fastBits))])
            if entry & 0x100 != 0 {  // code and extra bits in one
                acc &<<= UInt64(truncatingIfNeeded: entry)  // the shift takes the low 6 bits: bits used
                count &-= entry & 0xFF
                return entry &>> 16
            }
            let s: Int
            if entry != 0 {
                let length = entry & 0xFF
                s = entry &>> 16
                acc &<<= UInt64(length)
                count &-= length
            } else {
                let (length, value) = Self.longCode(acc, t)
                guard length > 0 else { return nil }
                acc &<<= UInt64(length)
                count &-= length
                s = value
            }
            if s == 0 { return 0 }
            if s == 16 { return 32768 }
            let v = Int(truncatingIfNeeded: acc &>> UInt64(64 &- s))
            acc &<<= UInt64(s)
            count &-= s
            return HuffmanTable.extend(v, s)
        }

        /// The length and value of the code longer than `fastBits` that `acc` starts with
        /// (T.81 F.2.2.3); length 0 when there is none. A static function of values, as
        /// `refillBytes`: the reader's state stays in registers in the line loops.
        @inline(never)
        static func longCode(_ acc: UInt64, _ t: Table) -> (length: Int, value: Int) {
            for length in (HuffmanTable.fastBits + 1)...16 {
                let code = Int(truncatingIfNeeded: acc &>> UInt64(64 - length))
                if code <= t.long[2 * length] {
                    let i = code + t.long[2 * length + 1]  // inside values for any table HuffmanTable accepts
                    return i < t.values.count ? (length, Int(t.values[i])) : (0, 0)
                }
            }
            return (0, 0)
        }

        /// Makes `count` at least 56 bits (zeros past the data's end count in `pad`).
        @inline(__always)
        mutating func refill() {
            if end &- pos >= 8 {
                let w = UInt64(bigEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
                let x = ~w  // a 0xFF byte of w is a zero byte of x
                if (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 == 0 {
                    let k = (63 &- count) &>> 3  // whole bytes that fit: 4...7, since count < 32
                    acc |= (w &>> UInt64(64 &- 8 &* k)) &<< UInt64(64 &- 8 &* k &- count)
                    pos &+= k
                    count &+= 8 &* k
                    return
                }
            }
            (pos, end, acc, count, pad) = Self.refillBytes(base, pos, end, acc, count, pad)
        }

        /// `refill` byte by byte, for data near 0xFF bytes or the end: the new pos, end, acc,
        /// count and pad.
        @inline(never)
        static func refillBytes(_ base: UnsafePointer<UInt8>, _ pos: Int, _ end: Int, _ acc: UInt64, _ count: Int,
                                _ pad: Int) -> (Int, Int, UInt64, Int, Int) {
            var (pos, end, acc, count, pad) = (pos, end, acc, count, pad)
            while count <= 56 {
                if pos < end {
                    let b = base[pos]
                    if b != 0xFF {
                        pos += 1
                    } else if pos + 1 < end && base[pos + 1] == 0x00 {
                        pos += 2
                    } else {
                        end = pos  // a marker (or a lone 0xFF at the stream's end): the data ends here
                        continue
                    }
                    acc |= UInt64(b) << UInt64(56 - count)
                } else {
                    pad += 8
                }
                count += 8
            }
            return (pos, end, acc, count, pad)
        }

        /// Ends a restart interval (T.81 F.2.2.5 / B.2.1): the bits left of its last byte are
        /// padding; then, after optional fill bytes, RSTm must follow. False when it does not.
        mutating func restart(marker: Int) -> Bool {
            guard count - pad >= 0, count - pad < 8 else { return false }
            var i = pos
            while i < streamEnd && base[i] == 0xFF { i += 1 }
            guard i > pos, i < streamEnd, Int(base[i]) == marker else { return false }
            pos = i + 1
            end = streamEnd
            acc = 0
            count = 0
            pad = 0
            return true
        }
    }
}

/// A byte as two upper-case hex digits, for the codecs' messages about markers and bytes.
func hex(_ b: UInt8) -> String {
    let digits = String(b, radix: 16, uppercase: true)
    return b < 16 ? "0" + digits : digits
}
