// Reproducing numpy's arithmetic and ordering where ensemble-boxes' results depend on them.

/// numpy's `sum` of a float64 vector: pairwise summation with 8 accumulators for blocks of up to
/// 128 values (numpy's `pairwise_sum`). Matches `np.sum` bit for bit on contiguous arrays.
func numpySum(_ a: [Double]) -> Double {
    a.withUnsafeBufferPointer { pairwiseSum($0[...]) }
}

private func pairwiseSum(_ a: Slice<UnsafeBufferPointer<Double>>) -> Double {
    let n = a.count
    let s = a.startIndex
    if n < 8 {
        var r = 0.0
        for x in a { r += x }
        return r
    }
    if n <= 128 {
        var r = (a[s], a[s + 1], a[s + 2], a[s + 3], a[s + 4], a[s + 5], a[s + 6], a[s + 7])
        var i = 8
        while i < n - n % 8 {
            r.0 += a[s + i]; r.1 += a[s + i + 1]; r.2 += a[s + i + 2]; r.3 += a[s + i + 3]
            r.4 += a[s + i + 4]; r.5 += a[s + i + 5]; r.6 += a[s + i + 6]; r.7 += a[s + i + 7]
            i += 8
        }
        var res = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
        while i < n { res += a[s + i]; i += 1 }
        return res
    }
    var n2 = n / 2
    n2 -= n2 % 8
    return pairwiseSum(a[s..<(s + n2)]) + pairwiseSum(a[(s + n2)...])
}

/// Indices that order `keys` by descending value the way `keys.argsort()[::-1]` does in
/// ensemble-boxes: an ascending sort, then reversed, so equal keys come out in reverse input
/// order. numpy's (and numba's) sorts behave this way for up to 16 keys; beyond that their
/// order among exactly equal keys is an implementation detail that this stable rule does not
/// chase.
func descendingOrder(_ keys: [Double]) -> [Int] {
    var idx = Array(keys.indices)
    idx.sort { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
    idx.reverse()
    return idx
}
