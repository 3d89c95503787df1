/// A zero-based, read-only run of elements kept in storage shared with other runs. An index
/// files all the boxes (label rows, readings) of a file in a few contiguous arrays; each reading
/// and each image sees its own run of them, so filing and freeing a file cost a handful of
/// allocations, not several per image.
public struct FlatSlice<Element>: RandomAccessCollection {
    private let storage: [Element]
    private let offset: Int
    public let count: Int

    /// An empty run.
    public init() {
        storage = []
        offset = 0
        count = 0
    }

    /// A run holding `elements`.
    public init(_ elements: [Element]) {
        storage = elements
        offset = 0
        count = elements.count
    }

    /// `range` of `storage`.
    init(_ storage: [Element], _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "range outside the storage")
        self.storage = storage
        offset = range.lowerBound
        count = range.count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Element {
        precondition(position >= 0 && position < count, "index \(position) out of range 0..<\(count)")
        return storage[offset + position]
    }
}

extension FlatSlice: Sendable where Element: Sendable {}
