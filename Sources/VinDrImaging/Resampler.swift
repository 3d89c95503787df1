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

/// Separable resampling of a float image whose rows come from a producer (so that the LUT can
/// be applied row by row without a full-size float copy of the source).
struct Resampler {
    let horizontal: AxisTaps
    let vertical: AxisTaps

    init(horizontal: AxisTaps, vertical: AxisTaps) {
        self.horizontal = horizontal
        self.vertical = vertical
    }

    /// Horizontal pass of one input row (`row` has inputWidth + taps readable floats, the tail
    /// zero) into `out` (outputWidth floats).
    @inline(__always)
    func resampleRow(_ row: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let taps = horizontal.taps
        horizontal.start.withUnsafeBufferPointer { start in
            horizontal.weights.withUnsafeBufferPointer { w in
                for j in 0..<horizontal.outputCount {
                    let s = row + start[j]
                    let wj = w.baseAddress! + j * taps
                    var acc: Float = 0
                    for t in 0..<taps { acc += wj[t] * s[t] }
                    out[j] = acc
                }
            }
        }
    }

    /// Vertical pass for output rows `rows`: `intermediate` holds inputHeight + taps rows of
    /// outputWidth floats (the tail zero); `emit(i, row)` receives each finished output row.
    func resampleColumns(_ intermediate: UnsafePointer<Float>, rows: Range<Int>, scratch: UnsafeMutablePointer<Float>,
                         emit: (Int, UnsafePointer<Float>) -> Void) {
        let width = horizontal.outputCount
        let taps = vertical.taps
        for i in rows {
            scratch.update(repeating: 0, count: width)
            let first = vertical.start[i]
            for t in 0..<taps {
                let w = vertical.weights[i * taps + t]
                if w == 0 { continue }
                let src = intermediate + (first + t) * width
                for x in 0..<width { scratch[x] += w * src[x] }
            }
            emit(i, UnsafePointer(scratch))
        }
    }
}
