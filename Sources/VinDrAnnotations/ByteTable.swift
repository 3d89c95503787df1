/// Byte strings to dense ids (0, 1, 2, ... in insertion order), found without building a String:
/// an open-addressing hash table with linear probing. Each slot packs 32 bits of the key's hash
/// with the position of its entry in one contiguous store, and each entry holds its id, its
/// length and its bytes, so a lookup touches two places in memory: the slot and the entry.
struct ByteTable {
    /// 0 = empty; else (hash tag << 32) | (entry word offset + 1).
    private var slots = [UInt64](repeating: 0, count: 64)
    /// Entries, 8-byte aligned: one word with the id (low 32 bits) and the length (high 32
    /// bits), then the key bytes zero-padded to whole words.
    private var store: [UInt64] = []
    private(set) var count = 0

    /// 64-bit hash, eight bytes at a time (multiply-xorshift mixing), then the tail bytes.
    private static func hash(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(b.count)
        guard let base = b.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= b.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        while i < b.count {
            h = (h ^ UInt64(b[i])) &* 0x100_0000_01b3
            i += 1
        }
        return h ^ (h >> 32)
    }

    /// The eight key bytes from `i` as one word, zero-padded past the end (as entries are).
    @inline(__always)
    private static func word(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt64 {
        if i + 8 <= b.count { return UnsafeRawPointer(b.baseAddress!).loadUnaligned(fromByteOffset: i, as: UInt64.self) }
        var w: UInt64 = 0
        withUnsafeMutableBytes(of: &w) { w in for k in i..<b.count { w[k - i] = b[k] } }
        return w
    }

    /// The id of the entry at word `offset` when it holds exactly `b`.
    @inline(__always)
    private static func match(_ s: UnsafeBufferPointer<UInt64>, _ offset: Int, _ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let head = s[offset]
        guard Int(head >> 32) == b.count else { return nil }
        var i = 0, k = offset + 1
        while i < b.count {
            guard s[k] == word(b, i) else { return nil }
            i += 8
            k += 1
        }
        return Int(truncatingIfNeeded: head & 0xFFFF_FFFF)
    }

    /// The slot where `b` (of hash `h`) sits, or the empty slot where it would go; and its id when found.
    @inline(__always)
    private func probe(_ b: UnsafeBufferPointer<UInt8>, _ h: UInt64) -> (slot: Int, id: Int?) {
        let tag = h >> 32
        return slots.withUnsafeBufferPointer { slots in
            store.withUnsafeBufferPointer { store in
                let mask = slots.count - 1
                var i = Int(truncatingIfNeeded: h) & mask
                while true {
                    let s = slots[i]
                    if s == 0 { return (i, nil) }
                    if s >> 32 == tag, let id = ByteTable.match(store, Int(s & 0xFFFF_FFFF) - 1, b) { return (i, id) }
                    i = (i + 1) & mask
                }
            }
        }
    }

    func find(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        probe(b, ByteTable.hash(b)).id
    }

    /// The id of `b`, added when new (`isNew`), hashing it once.
    mutating func intern(_ b: UnsafeBufferPointer<UInt8>) -> (id: Int, isNew: Bool) {
        let h = ByteTable.hash(b)
        let (slot, found) = probe(b, h)
        if let found { return (found, false) }
        let id = count
        let offset = store.count
        store.append(UInt64(b.count) << 32 | UInt64(id))
        var i = 0
        while i < b.count {
            store.append(ByteTable.word(b, i))
            i += 8
        }
        count += 1
        slots[slot] = (h >> 32) << 32 | UInt64(offset + 1)
        if 2 * count > slots.count { rehash() }
        return (id, true)
    }

    /// Doubles the slot array and places every entry again (hashes are recomputed from the store).
    private mutating func rehash() {
        var grown = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = grown.count - 1
        store.withUnsafeBufferPointer { store in
            var offset = 0
            while offset < store.count {
                let length = Int(store[offset] >> 32)
                let h = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(store)[(8 * offset + 8)...].prefix(length))
                    .withMemoryRebound(to: UInt8.self) { ByteTable.hash($0) }
                var i = Int(truncatingIfNeeded: h) & mask
                while grown[i] != 0 { i = (i + 1) & mask }
                grown[i] = (h >> 32) << 32 | UInt64(offset + 1)
                offset += 1 + (length + 7) / 8
            }
        }
        slots = grown
    }
}
