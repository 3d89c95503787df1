/// A set of the 28 taxonomy labels, as a bit mask (bit i = `Taxonomy.labels[i]`).
public struct LabelSet: Hashable, Sendable, Sequence {
    public var bits: UInt32

    public init(bits: UInt32 = 0) { self.bits = bits & ((1 << 28) - 1) }

    public func contains(_ label: Int) -> Bool { label >= 0 && label < 28 && bits & (1 << UInt32(label)) != 0 }
    public mutating func insert(_ label: Int) { if label >= 0 && label < 28 { bits |= 1 << UInt32(label) } }
    public var isEmpty: Bool { bits == 0 }
    public var count: Int { bits.nonzeroBitCount }

    public func makeIterator() -> some IteratorProtocol<Int> {
        var rest = bits
        return AnyIterator {
            guard rest != 0 else { return nil }
            let i = rest.trailingZeroBitCount
            rest &= rest - 1
            return i
        }
    }
}
