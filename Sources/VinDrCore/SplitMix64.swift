/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014; the constants of Vigna's reference C code): 64-bit state, one output per step. The
/// loader's shuffles and coins and the dataset splits draw from it, so one seed gives the same
/// result on every platform and from every language.
public struct SplitMix64: Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (Lemire's multiply-shift with rejection; the loader's shuffle).
    public mutating func next(below bound: UInt64) -> UInt64 {
        let threshold = (0 &- bound) % bound
        while true {
            let m = next().multipliedFullWidth(by: bound)
            if m.low >= threshold { return m.high }
        }
    }

    /// An integer in 0..<n (n >= 1): the high 64 bits of next() * n (multiply-shift without
    /// rejection, one draw per call, the bias below n / 2^64; the splits, whose draws other
    /// languages reproduce one for one).
    public mutating func below(_ n: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
}
