import VinDrCore

/// The order of samples: a seeded permutation per epoch, split across ranks the way
/// torch.utils.data.DistributedSampler does (pad to a multiple of the world size by repeating
/// from the start, then rank r takes positions r, r + world, ...), then cut into batches.
/// The order depends only on (seed, epoch, rank, world size), never on thread count.
public struct Sampler: Sendable, Equatable {
    public var count: Int
    public var batchSize: Int
    public var shuffle: Bool
    public var seed: UInt64
    public var dropLast: Bool
    public var rank: Int
    public var worldSize: Int

    public init(count: Int, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false,
                rank: Int = 0, worldSize: Int = 1) throws {
        guard count >= 0 else { throw VinDrError(.argument, "sample count \(count) is negative") }
        guard batchSize >= 1 else { throw VinDrError(.argument, "batch size \(batchSize) must be at least 1") }
        guard worldSize >= 1, rank >= 0, rank < worldSize else {
            throw VinDrError(.argument, "rank \(rank) must be in 0..<world size \(worldSize)")
        }
        self.count = count
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.rank = rank
        self.worldSize = worldSize
    }

    /// This rank's sample indices for `epoch`, in order.
    public func indices(epoch: Int) -> [Int] {
        guard count > 0 else { return [] }
        var order = Array(0..<count)
        if shuffle {
            var rng = SplitMix64(seed: seed &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
            // Fisher-Yates with an unbiased bounded draw.
            for i in stride(from: count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next(below: UInt64(i + 1))))
            }
        }
        let perRank = (count + worldSize - 1) / worldSize
        let total = perRank * worldSize
        var padded = order
        while padded.count < total { padded.append(order[(padded.count - count) % count]) }
        return stride(from: rank, to: total, by: worldSize).map { padded[$0] }
    }

    /// Batches of this rank for `epoch`.
    public func batches(epoch: Int) -> [[Int]] {
        let idx = indices(epoch: epoch)
        var out: [[Int]] = []
        var i = 0
        while i < idx.count {
            let end = min(i + batchSize, idx.count)
            if end - i == batchSize || !dropLast { out.append(Array(idx[i..<end])) }
            i = end
        }
        return out
    }

    /// A deterministic per-sample coin for augmentation: the same for a (seed, epoch, sample)
    /// whatever thread renders it.
    public func coin(epoch: Int, sample: Int, salt: UInt64) -> Double {
        var rng = SplitMix64(seed: seed ^ salt ^ (UInt64(truncatingIfNeeded: epoch) << 32) ^ UInt64(truncatingIfNeeded: sample))
        _ = rng.next()
        return Double(rng.next() >> 11) / Double(1 << 53)
    }
}

