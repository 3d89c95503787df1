import VinDrBoxes

/// The shape of a split: k folds of 1/k each, or a train (fold 0, share 1 - f) and a validation
/// (fold 1, share f) part.
public enum SplitShape: Sendable, Equatable {
    case folds(Int)
    case validation(Double)

    /// The C ABI's form: exactly one of `folds` (k >= 2) and `validation` (a
    /// fraction in (0, 1)); 0 means not given.
    public init(folds: Int, validation: Double) throws {
        switch (folds != 0, validation != 0) {
        case (true, false): self = .folds(folds)
        case (false, true): self = .validation(validation)
        default:
            throw VinDrError(.argument, "give exactly one of folds (k >= 2) and validation (a fraction in (0, 1)); got folds \(folds), "
                           + "validation \(validation)")
        }
        try check(imageCount: nil)
    }

    /// Share of the images each fold should get, fold order.
    public var proportions: [Double] {
        switch self {
        case let .folds(k): return [Double](repeating: 1 / Double(k), count: k)
        case let .validation(f): return [1 - f, f]
        }
    }

    /// Validates the shape (and, given an image count, that every fold can get an image).
    public func check(imageCount: Int?) throws {
        switch self {
        case let .folds(k):
            guard k >= 2 else { throw VinDrError(.argument, "folds must be at least 2, got \(k)") }
            if let n = imageCount, k > n { throw VinDrError(.argument, "folds \(k) exceeds the number of images (\(n))") }
        case let .validation(f):
            guard f.isFinite, f > 0, f < 1 else { throw VinDrError(.argument, "validation must be a fraction in (0, 1), got \(f)") }
            if let n = imageCount, n < 2 { throw VinDrError(.argument, "validation needs at least 2 images, got \(n)") }
        }
    }
}

/// Iterative multi-label stratification (Sechidis, Tsoumakas and Vlahavas, "On the stratification
/// of multi-label data", ECML PKDD 2011, Algorithm 1), in the variant the `iterative-stratification`
/// package and scikit-multilearn run:
/// each fold j wants `n * r_j` examples and `n_l * r_j` examples of each label l. While examples
/// remain, take the label with the fewest remaining examples (at least one); give each of its
/// examples to the fold that most wants that label, then the fold that most wants examples, and
/// decrease that fold's wants for every label of the example. Examples without labels go to the
/// fold that most wants examples. Remaining ties are broken by `SplitMix64`; the examples are first
/// shuffled by it (Fisher-Yates), as MultilabelStratifiedKFold(shuffle=True) does.
enum IterativeStratification {
    /// The fold (index into `proportions`) of each example, in the order of `labels`;
    /// `proportions` come from a checked `SplitShape` (at least two, positive).
    static func assign(_ labels: [LabelSet], proportions: [Double], seed: UInt64) -> [Int] {
        let n = labels.count, k = proportions.count
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        }
        var labelTotals = [Int](repeating: 0, count: Taxonomy.count)
        for set in labels { for l in set { labelTotals[l] += 1 } }
        var wantsExamples = proportions.map { $0 * Double(n) }
        var wantsLabel = proportions.map { r in labelTotals.map { r * Double($0) } }
        var fold = [Int](repeating: -1, count: n)
        var remaining = labelTotals
        var left = n

        /// A uniformly chosen member of `candidates` (one draw only when there is a tie).
        func pick(_ candidates: [Int]) -> Int {
            candidates.count == 1 ? candidates[0] : candidates[rng.below(candidates.count)]
        }
        func best(_ among: [Int], _ value: (Int) -> Double) -> [Int] {
            let top = among.map(value).max() ?? 0
            return among.filter { value($0) == top }
        }
        func give(_ i: Int, to j: Int) {
            fold[i] = j
            left -= 1
            wantsExamples[j] -= 1
            for l in labels[i] {
                wantsLabel[j][l] -= 1
                remaining[l] -= 1
            }
        }

        let folds = Array(0..<k)
        while left > 0 {
            let present = remaining.indices.filter { remaining[$0] > 0 }
            guard let fewest = present.map({ remaining[$0] }).min() else {
                for i in order where fold[i] < 0 { give(i, to: pick(best(folds) { wantsExamples[$0] })) }
                break
            }
            let label = pick(present.filter { remaining[$0] == fewest })
            for i in order where fold[i] < 0 && labels[i].contains(label) {
                let byLabel = best(folds) { wantsLabel[$0][label] }
                give(i, to: pick(best(byLabel) { wantsExamples[$0] }))
            }
        }
        return fold
    }
}

extension AnnotationIndex {
    /// The fold of every image, in index order (`images`), by iterative stratification of the
    /// images' consensus labels (`ImageRecord.consensusLabels`: the labels the datasets train on)
    /// under `shape`. The images are put in image_id order (UTF-8 bytes) before the seed is
    /// applied, so the result does not depend on the order of the CSV files or their rows.
    public func split(_ shape: SplitShape, seed: UInt64, minimumVotes: Int = 2,
                      filter: ReaderFilter = ReaderFilter()) throws -> [Int] {
        guard minimumVotes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1, got \(minimumVotes)") }
        try shape.check(imageCount: images.count)
        let byID = idOrder
        let labels = byID.map { images[$0].consensusLabels(minimumVotes: minimumVotes, filter: filter) }
        let sortedFolds = IterativeStratification.assign(labels, proportions: shape.proportions, seed: seed)
        var out = [Int](repeating: 0, count: images.count)
        for (position, image) in byID.enumerated() { out[image] = sortedFolds[position] }
        return out
    }

    /// `split` as CSV text: a header `image_id,fold`, then one row per image in image_id order (UTF-8 bytes).
    /// With `.validation`, fold 0 is train and fold 1 validation.
    public func splitCSV(_ shape: SplitShape, seed: UInt64, minimumVotes: Int = 2,
                         filter: ReaderFilter = ReaderFilter()) throws -> String {
        let folds = try split(shape, seed: seed, minimumVotes: minimumVotes, filter: filter)
        var out = "image_id,fold\n"
        for i in idOrder { out += "\(images[i].id),\(folds[i])\n" }
        return out
    }

    /// Positions in `images` by image_id, compared as UTF-8 bytes (the order of code points, which
    /// Python's `sorted` and C's `strcmp` give too).
    var idOrder: [Int] {
        images.indices.sorted { images[$0].id.utf8.lexicographicallyPrecedes(images[$1].id.utf8) }
    }
}
