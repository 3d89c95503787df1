#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte strings to dense ids (0, 1, 2, ... in insertion order), found without building a String:
/// an open-addressing hash table (FNV-1a, linear probing) over one contiguous key store.
struct ByteTable {
    private var slots = [Int32](repeating: -1, count: 64)
    private var hashes: [UInt64] = []
    private var store: [UInt8] = []
    private var ends: [Int] = []

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

    private func equals(_ id: Int, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = id == 0 ? 0 : ends[id - 1]
        guard ends[id] - start == b.count else { return false }
        return store.withUnsafeBufferPointer { s in
            guard let base = s.baseAddress, let other = b.baseAddress else { return b.isEmpty }
            return memcmp(base + start, other, b.count) == 0
        }
    }

    func find(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        let h = ByteTable.hash(b)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] >= 0 {
            let id = Int(slots[i])
            if hashes[id] == h && equals(id, b) { return id }
            i = (i + 1) & mask
        }
        return nil
    }

    /// The id of `b`, added when new (`isNew`), hashing it once.
    mutating func intern(_ b: UnsafeBufferPointer<UInt8>) -> (id: Int, isNew: Bool) {
        let h = ByteTable.hash(b)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] >= 0 {
            let id = Int(slots[i])
            if hashes[id] == h && equals(id, b) { return (id, false) }
            i = (i + 1) & mask
        }
        let id = hashes.count
        hashes.append(h)
        store.append(contentsOf: b)
        ends.append(store.count)
        if 2 * hashes.count > slots.count {
            slots = [Int32](repeating: -1, count: slots.count * 2)
            for (k, hk) in hashes.enumerated() { place(Int32(k), hk) }
        } else {
            slots[i] = Int32(id)
        }
        return (id, true)
    }

    private mutating func place(_ id: Int32, _ h: UInt64) {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while slots[i] >= 0 { i = (i + 1) & mask }
        slots[i] = id
    }
}
