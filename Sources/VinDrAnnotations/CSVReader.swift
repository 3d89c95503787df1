#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parsed CSV record. Field bytes are unquoted and unescaped; the row's storage is reused for
/// the next record, so keep what you need, not the row.
public struct CSVRow {
    /// 1-based line number where the record starts.
    public internal(set) var line = 0
    var bytes: [UInt8] = []
    var ends: [Int] = []

    public var count: Int { ends.count }

    func range(_ i: Int) -> Range<Int> {
        guard i >= 0, i < ends.count else { return 0..<0 }
        return (i == 0 ? 0 : ends[i - 1])..<ends[i]
    }

    /// Field `i` as a string, "" when absent.
    public func string(_ i: Int) -> String {
        String(decoding: bytes[range(i)], as: UTF8.self)
    }

    /// True when field `i` is absent or holds only spaces.
    public func isBlank(_ i: Int) -> Bool {
        bytes[range(i)].allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    /// Field `i` as a finite number, or nil when it is not one.
    public func double(_ i: Int) -> Double? {
        bytes.withUnsafeBufferPointer { parseDouble(UnsafeBufferPointer(rebasing: $0[range(i)])) }
    }

    /// Field `i` split on ASCII whitespace, each token parsed as a finite number.
    func numbers(_ i: Int) -> [Double]? {
        var out = [Double]()
        var ok = true
        bytes.withUnsafeBufferPointer { all in
            let field = UnsafeBufferPointer(rebasing: all[range(i)])
            var start = 0
            var k = 0
            while k <= field.count {
                if k == field.count || field[k] == 0x20 || field[k] == 0x09 {
                    if k > start {
                        guard let v = parseDouble(UnsafeBufferPointer(rebasing: field[start..<k])) else { ok = false; return }
                        out.append(v)
                    }
                    start = k + 1
                }
                k += 1
            }
        }
        return ok ? out : nil
    }
}

/// A borrowed view of a row's storage for hot loops: field access without reference counting.
/// Valid only inside `CSVRow.withView`.
struct RowView {
    let bytes: UnsafeBufferPointer<UInt8>
    let ends: UnsafeBufferPointer<Int>
    /// Where each field starts; nil when fields are packed back to back (field i starts where
    /// field i - 1 ends).
    var starts: UnsafeBufferPointer<Int>? = nil
    let line: Int

    var count: Int { ends.count }

    /// Field `i` without leading and trailing spaces or tabs (empty when absent).
    func field(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        guard i >= 0, i < ends.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        var lo = starts?[i] ?? (i == 0 ? 0 : ends[i - 1]), hi = ends[i]
        while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
        while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[lo..<hi])
    }

    func isBlank(_ i: Int) -> Bool { field(i).isEmpty }
    func double(_ i: Int) -> Double? { parseDouble(field(i)) }
    func string(_ i: Int) -> String { String(decoding: field(i), as: UTF8.self) }
}

extension CSVRow {
    func withView<R>(_ body: (RowView) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { b in
            try ends.withUnsafeBufferPointer { e in try body(RowView(bytes: b, ends: e, line: line)) }
        }
    }
}

/// 10^e for 0 <= e <= 22, the powers of ten a double holds exactly (a literal table: no lazily
/// initialised global on the per-field path).
@inline(__always)
private func exactPowerOfTen(_ e: Int) -> Double {
    switch e {
    case 0: return 1e0
    case 1: return 1e1
    case 2: return 1e2
    case 3: return 1e3
    case 4: return 1e4
    case 5: return 1e5
    case 6: return 1e6
    case 7: return 1e7
    case 8: return 1e8
    case 9: return 1e9
    case 10: return 1e10
    case 11: return 1e11
    case 12: return 1e12
    case 13: return 1e13
    case 14: return 1e14
    case 15: return 1e15
    case 16: return 1e16
    case 17: return 1e17
    case 18: return 1e18
    case 19: return 1e19
    case 20: return 1e20
    case 21: return 1e21
    case 22: return 1e22
    default: preconditionFailure("10^\(e) is not exact")
    }
}

/// Parses a decimal number (optional sign, digits, fraction, exponent; surrounding spaces
/// allowed). Short inputs take Clinger's exact fast path (integer mantissa below 2^53 and a
/// power of ten up to 1e22, one correctly rounded division or product); anything else goes to
/// strtod. Returns nil for anything that is not a finite number.
func parseDouble(_ f: UnsafeBufferPointer<UInt8>) -> Double? {
    var lo = 0, hi = f.count
    while lo < hi, f[lo] == 0x20 || f[lo] == 0x09 { lo += 1 }
    while hi > lo, f[hi - 1] == 0x20 || f[hi - 1] == 0x09 { hi -= 1 }
    guard lo < hi else { return nil }
    var i = lo
    var negative = false
    if f[i] == 0x2D || f[i] == 0x2B { negative = f[i] == 0x2D; i += 1 }
    // Integer digits, then fraction digits: one digit test per byte. The mantissa wraps past
    // 19 digits, but only mantissas of at most 15 digits are used.
    var mantissa: UInt64 = 0
    let integerStart = i
    while i < hi, f[i] &- 0x30 < 10 {
        mantissa = mantissa &* 10 &+ UInt64(f[i] &- 0x30)
        i += 1
    }
    let integerDigits = i - integerStart
    var fractionDigits = 0
    if i < hi, f[i] == 0x2E {
        i += 1
        let fractionStart = i
        while i < hi, f[i] &- 0x30 < 10 {
            mantissa = mantissa &* 10 &+ UInt64(f[i] &- 0x30)
            i += 1
        }
        fractionDigits = i - fractionStart
    }
    let digits = integerDigits + fractionDigits
    guard digits > 0 else { return nil }
    if i == hi, digits <= 15, fractionDigits <= 22 {
        // Trailing fraction zeros ("743.0") dropped first: the same number, and no division.
        while fractionDigits > 0, mantissa % 10 == 0 {
            mantissa /= 10
            fractionDigits -= 1
        }
        var v = Double(Int64(mantissa))  // below 10^15: exact
        if fractionDigits > 0 { v /= exactPowerOfTen(fractionDigits) }
        return negative ? -v : v
    }
    // Exponents, long mantissas and anything unusual: the C library's correctly rounded strtod.
    let n = hi - lo
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
        for k in 0..<n { buf[k] = CChar(bitPattern: f[lo + k]) }
        buf[n] = 0
        guard let base = buf.baseAddress else { return nil }
        var end: UnsafeMutablePointer<CChar>? = nil
        let v = strtod(base, &end)
        guard let end, end == base + n, v.isFinite else { return nil }
        return v
    }
}

/// A streaming RFC 4180 reader: reads the file in fixed-size chunks and hands each record to a
/// closure. Handles a UTF-8 byte-order mark, CRLF or LF line ends, quoted fields with embedded
/// commas, quotes ("") and newlines, and skips blank lines. Errors name the file and line.
public enum CSVReader {
    static let chunkSize = 1 << 20

    public static func forEachRow(path: String, _ body: (inout CSVRow) throws -> Void) throws {
        try forEachRow(path: path, chunkSize: chunkSize, body)
    }

    /// `forEachRow(path:)` with a chosen chunk size (tests use tiny chunks to split every token).
    static func forEachRow(path: String, chunkSize: Int, _ body: (inout CSVRow) throws -> Void) throws {
        precondition(chunkSize > 0)
        guard let file = fopen(path, "rb") else {
            throw VinDrError(file: path, line: 0, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var parser = Parser(file: path)
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, chunkSize, file) }
            if n == 0 {
                if ferror(file) != 0 { throw VinDrError(file: path, line: 0, reason: "read error at line \(parser.line)") }
                break
            }
            try chunk.withUnsafeBufferPointer { try parser.feed(UnsafeBufferPointer(rebasing: $0[0..<n]), body) }
        }
        try parser.finish(body)
    }

    /// Parses CSV text held in memory (same rules as `forEachRow(path:)`); `name` labels errors.
    public static func forEachRow(text: String, name: String, _ body: (inout CSVRow) throws -> Void) throws {
        var parser = Parser(file: name)
        var copy = text
        try copy.withUTF8 { try parser.feed($0, body) }
        try parser.finish(body)
    }

    /// Parses CSV bytes held in memory from the start of a file (same rules as
    /// `forEachRow(path:)`); `name` labels errors.
    static func forEachRow(bytes: UnsafeBufferPointer<UInt8>, name: String, _ body: (inout CSVRow) throws -> Void) throws {
        var parser = Parser(file: name)
        try parser.feed(bytes, body)
        try parser.finish(body)
    }

    /// Calls `body` with every record of `bytes`, a range of a file that holds no double quote,
    /// without copying fields: records end at LF (a CR before it, or at the very end, is
    /// dropped), fields at commas, blank records are skipped, and records and line numbers
    /// (counted from `firstLine`) come out as `forEachRow` gives them for the same bytes.
    /// Returns the line number after the last record.
    @discardableResult
    static func forEachUnquotedRow(bytes: UnsafeBufferPointer<UInt8>, firstLine: Int,
                                   _ body: (RowView) throws -> Void) throws -> Int {
        guard let base = bytes.baseAddress else { return firstLine }
        // Field bounds: starts in the first half of `bounds`, ends in the second; regrown for
        // records with more fields than seen so far.
        var capacity = 16
        var bounds = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2 * capacity)
        defer { bounds.deallocate() }
        var line = firstLine
        var pos = 0
        let n = bytes.count
        while pos < n {
            let lineEnd = memchr(base + pos, 0x0A, n - pos).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? n
            let end = lineEnd > pos && bytes[lineEnd - 1] == 0x0D ? lineEnd - 1 : lineEnd
            if end > pos {
                var fields = 0
                var fieldStart = pos
                func endField(at i: Int) {
                    if fields == capacity {
                        let grown = UnsafeMutableBufferPointer<Int>.allocate(capacity: 4 * capacity)
                        for k in 0..<capacity { grown[k] = bounds[k]; grown[2 * capacity + k] = bounds[capacity + k] }
                        bounds.deallocate()
                        bounds = grown
                        capacity *= 2
                    }
                    bounds[fields] = fieldStart
                    bounds[capacity + fields] = i
                    fields += 1
                    fieldStart = i + 1
                }
                // Commas found eight bytes at a time: no branch per byte.
                var i = pos
                while i + 8 <= end {
                    var commas = commaBytes(UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)))
                    while commas != 0 {
                        endField(at: i + commas.trailingZeroBitCount / 8)
                        commas &= commas - 1
                    }
                    i += 8
                }
                while i < end {
                    if bytes[i] == 0x2C { endField(at: i) }
                    i += 1
                }
                endField(at: end)
                let starts = UnsafeBufferPointer(rebasing: bounds[0..<fields])
                let ends = UnsafeBufferPointer(rebasing: bounds[capacity..<(capacity + fields)])
                try body(RowView(bytes: bytes, ends: ends, starts: starts, line: line))
            }
            line += 1
            pos = lineEnd + 1
        }
        return line
    }

    /// The high bit of each byte of `w` that is a comma, and no other bit (exact, with no carry
    /// between bytes: the low seven bits are added without overflowing into the high one).
    @inline(__always)
    static func commaBytes(_ w: UInt64) -> UInt64 {
        let x = w ^ 0x2C2C_2C2C_2C2C_2C2C
        let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((x & low) &+ low) | x | low)
    }

    /// The position just past the first LF, nil when there is none.
    static func lineEnd(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = bytes.baseAddress, let p = memchr(base, 0x0A, bytes.count) else { return nil }
        return base.distance(to: p.assumingMemoryBound(to: UInt8.self)) + 1
    }

    struct Parser {
        enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
        let file: String
        var state = State.fieldStart
        var row = CSVRow()
        var rowStarted = false
        var line = 1
        var atFileStart = true
        var head: [UInt8] = []
        var pendingCR = false

        init(file: String) { self.file = file }

        /// Feeds the next bytes of the file. The first three bytes are held back until it is
        /// known whether they are a UTF-8 byte-order mark (dropped) or data.
        mutating func feed(_ data: UnsafeBufferPointer<UInt8>, _ body: (inout CSVRow) throws -> Void) throws {
            var rest = data
            if atFileStart {
                let take = min(3 - head.count, rest.count)
                head.append(contentsOf: rest.prefix(take))
                rest = UnsafeBufferPointer(rebasing: rest[take...])
                guard head.count == 3 else { return }
                try releaseHead(body)
            }
            try consume(rest, body)
        }

        private mutating func releaseHead(_ body: (inout CSVRow) throws -> Void) throws {
            atFileStart = false
            let bytes = head == [0xEF, 0xBB, 0xBF] ? [] : head
            head = []
            try bytes.withUnsafeBufferPointer { try consume($0, body) }
        }

        private mutating func consume(_ data: UnsafeBufferPointer<UInt8>, _ body: (inout CSVRow) throws -> Void) throws {
            var i = 0
            while i < data.count {
                let c = data[i]
                i += 1
                if pendingCR {
                    pendingCR = false
                    if c == 0x0A { try endRow(body); line += 1; continue }
                    if state == .quoteInQuoted { throw error("unexpected character after a closing quote") }
                    row.bytes.append(0x0D)
                    state = .unquoted
                }
                if !rowStarted {
                    if c == 0x0A { line += 1; continue }  // blank line
                    rowStarted = true
                    row.line = line
                }
                switch state {
                case .fieldStart, .unquoted:
                    switch c {
                    case 0x2C: endField()
                    case 0x0A: try endRow(body); line += 1
                    case 0x0D: pendingCR = true
                    case 0x22 where state == .fieldStart: state = .quoted
                    default:
                        // Copy the run of ordinary bytes up to the next delimiter in one go.
                        var j = i
                        while j < data.count {
                            let d = data[j]
                            if d == 0x2C || d == 0x0A || d == 0x0D || d == 0x22 { break }
                            j += 1
                        }
                        row.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: data[(i - 1)..<j]))
                        i = j
                        state = .unquoted
                    }
                case .quoted:
                    if c == 0x22 { state = .quoteInQuoted } else {
                        if c == 0x0A { line += 1 }
                        row.bytes.append(c)
                    }
                case .quoteInQuoted:
                    switch c {
                    case 0x22: row.bytes.append(c); state = .quoted
                    case 0x2C: endField()
                    case 0x0A: try endRow(body); line += 1
                    case 0x0D: pendingCR = true
                    default: throw error("unexpected character after a closing quote")
                    }
                }
            }
        }

        mutating func finish(_ body: (inout CSVRow) throws -> Void) throws {
            if atFileStart { try releaseHead(body) }
            pendingCR = false
            if state == .quoted {
                throw VinDrError(file: file, line: row.line, reason: "unterminated quoted field")
            }
            if rowStarted { try endRow(body) }
        }

        private func error(_ reason: String) -> VinDrError {
            VinDrError(file: file, line: line, reason: reason)
        }

        private mutating func endField() {
            row.ends.append(row.bytes.count)
            state = .fieldStart
        }

        private mutating func endRow(_ body: (inout CSVRow) throws -> Void) throws {
            let blank = row.ends.isEmpty && row.bytes.isEmpty && state == .fieldStart  // "\r\n" alone
            if rowStarted && !blank {
                row.ends.append(row.bytes.count)
                try body(&row)
            }
            row.bytes.removeAll(keepingCapacity: true)
            row.ends.removeAll(keepingCapacity: true)
            rowStarted = false
            state = .fieldStart
        }
    }
}
