/// One axis of a separable resampling: for each output index, a run of `taps` consecutive input
/// samples starting at `start[j]` with weights `weights[j * taps ..< (j + 1) * taps]`.
///
/// Shrinking uses area averaging (each output pixel is the mean of the input area it covers,
/// fractional pixels weighted by coverage, as OpenCV's INTER_AREA); growing uses bilinear
/// interpolation with pixel centres at +0.5 (as OpenCV's INTER_LINEAR).
struct AxisTaps {
    let inputCount: Int
    let outputCount: Int
    let taps: Int
    var start: [Int]
    var weights: [Float]

    /// Output pixel j covers input coordinates [j * scale + offset, (j + 1) * scale + offset)
    /// (area mode, clipped to the image and renormalised) or is sampled at (j + 0.5) * scale - 0.5
    /// + offset (bilinear mode, used when scale < 1). `scale` defaults to n / m.
    init(input n: Int, output m: Int, scale: Double? = nil, offset: Double = 0) {
        inputCount = n
        outputCount = m
        let scale = scale ?? Double(n) / Double(m)
        start = [Int](repeating: 0, count: m)
        if scale > 1 {
            // Enough taps for the widest interval: ceil(scale) + 1 pixels can overlap it.
            taps = Int(scale.rounded(.up)) + 1
            weights = [Float](repeating: 0, count: m * taps)
            for j in 0..<m {
                let a = max(0, Double(j) * scale + offset), b = min(Double(n), Double(j + 1) * scale + offset)
                let first = min(max(0, Int(a.rounded(.down))), n - 1)
                start[j] = first
                guard b > a else {
                    weights[j * taps] = 1
                    continue
                }
                var k = first
                while Double(k) < b && k < n && k - first < taps {
                    let overlap = min(Double(k + 1), b) - max(Double(k), a)
                    if overlap > 0 { weights[j * taps + (k - first)] = Float(overlap / (b - a)) }
                    k += 1
                }
            }
        } else {
            taps = 2
            weights = [Float](repeating: 0, count: m * 2)
            for j in 0..<m {
                let x = (Double(j) + 0.5) * scale - 0.5 + offset
                var x0 = Int(x.rounded(.down))
                var f = x - Double(x0)
                if x0 < 0 { x0 = 0; f = 0 }
                if x0 >= n - 1 { x0 = max(n - 1, 0); f = 0 }
                start[j] = x0
                weights[2 * j] = Float(1 - f)
                weights[2 * j + 1] = Float(f)
            }
        }
    }
}

/// Separable resampling, vertical pass first: each output row is a weighted sum of a few
/// source rows (vectorisable over the full row), then one horizontal pass over that row. Source
/// rows are produced on demand by a callback (table lookup of the stored values) and cached, so
/// each is converted once per band even when two output rows share it.
struct Resampler {
    let horizontal: AxisTaps
    let vertical: AxisTaps

    /// Floats of scratch one band needs: the row cache, the vertical sum and the output row.
    var scratchPerBand: Int {
        (vertical.taps + 1) * rowCapacity + rowCapacity + horizontal.outputCount
    }

    /// A source row plus zeroed room for the horizontal taps that run past its end.
    var rowCapacity: Int { horizontal.inputCount + horizontal.taps }

    /// Produces output rows `rows` of one band. `produce(y, dst)` writes source row y as floats;
    /// `emit(i, row)` receives each finished output row.
    func run(rows: Range<Int>, scratch: UnsafeMutablePointer<Float>,
             produce: (Int, UnsafeMutablePointer<Float>) -> Void, emit: (Int, UnsafePointer<Float>) -> Void) {
        let w = horizontal.inputCount
        let cap = rowCapacity
        let slots = vertical.taps + 1
        let cache = scratch
        let acc = scratch + slots * cap
        let out = acc + cap
        (acc + w).update(repeating: 0, count: cap - w)
        var cached = [Int](repeating: -1, count: slots)
        vertical.start.withUnsafeBufferPointer { vStart in
            vertical.weights.withUnsafeBufferPointer { vWeights in
                for i in rows {
                    acc.update(repeating: 0, count: w)
                    for t in 0..<vertical.taps {
                        let weight = vWeights[i * vertical.taps + t]
                        let y = vStart[i] + t
                        if weight == 0 || y >= vertical.inputCount { continue }
                        let slot = y % slots
                        let row = cache + slot * cap
                        if cached[slot] != y {
                            produce(y, row)
                            cached[slot] = y
                        }
                        for x in 0..<w { acc[x] += weight * row[x] }
                    }
                    resampleRow(acc, into: out)
                    emit(i, out)
                }
            }
        }
    }

    /// Horizontal pass of one row (`row` has rowCapacity readable floats, the tail zero).
    @inline(__always)
    func resampleRow(_ row: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let taps = horizontal.taps
        horizontal.start.withUnsafeBufferPointer { start in
            horizontal.weights.withUnsafeBufferPointer { w in
                let weights = w.baseAddress!
                for j in 0..<horizontal.outputCount {
                    let s = row + start[j]
                    let wj = weights + (j &* taps)
                    var acc: Float = 0
                    for t in 0..<taps { acc += wj[t] * s[t] }
                    out[j] = acc
                }
            }
        }
    }
}
