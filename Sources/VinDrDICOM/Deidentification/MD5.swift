#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// MD5 (RFC 1321). Used for the VinDr-CXR image id (MD5 hex of the SOP Instance UID, as the
/// released dataset was named) and to derive replacement UIDs; not for security.
enum MD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// K[i] = floor(2^32 * |sin(i + 1)|) (RFC 1321 3.4).
    private static let constants: [UInt32] = (0..<64).map { i in
        UInt32(truncatingIfNeeded: Int64((abs(sin(Double(i + 1))) * 4_294_967_296.0).rounded(.down)))
    }

    /// The 16-byte digest of `message`.
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var m = message
        let bitLength = UInt64(message.count) &* 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in 0..<8 { m.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        var a0: UInt32 = 0x6745_2301, b0: UInt32 = 0xefcd_ab89, c0: UInt32 = 0x98ba_dcfe, d0: UInt32 = 0x1032_5476
        var w = [UInt32](repeating: 0, count: 16)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for j in 0..<16 {
                let o = chunk + 4 * j
                w[j] = UInt32(m[o]) | UInt32(m[o + 1]) << 8 | UInt32(m[o + 2]) << 16 | UInt32(m[o + 3]) << 24
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ constants[i] &+ w[g]
                a = d
                d = c
                c = b
                b = b &+ (f << shifts[i] | f >> (32 - shifts[i]))
            }
            a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
        }
        return [a0, b0, c0, d0].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    }

    static func hex(_ text: String) -> String {
        digest(Array(text.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
    }
}

/// A UID under the 2.25 root (PS3.5 B.2: a UUID-derived UID written as one decimal integer),
/// derived from `uid` and `salt` so the same original always maps to the same replacement.
func derivedUID(_ uid: String, salt: String) -> String {
    let d = MD5.digest(Array((salt + "\u{0}" + uid).utf8))
    var hi = d[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    var lo = d[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    // RFC 4122 version 8 (custom) and variant bits, so the integer is a well-formed UUID.
    hi = (hi & ~0xF000) | 0x8000
    lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
    var digits: [Character] = []
    while hi != 0 || lo != 0 {
        // Divide the 128-bit value hi:lo by 10 using 64-bit halves.
        let (qh, rh) = hi.quotientAndRemainder(dividingBy: 10)
        let (ql, rl) = UInt64(10).dividingFullWidth((high: rh, low: lo))
        hi = qh
        lo = ql
        digits.append(Character(String(rl)))
    }
    return "2.25." + String(digits.reversed())
}
