/// Intersection over union of two boxes, computed in the operation order ensemble-boxes uses
/// (`inter / (areaA + areaB - inter)`, no +1 pixel), so thresholds compare identically.
/// Two empty boxes give 0 rather than NaN.
@inlinable
public func iou(_ a: Box, _ b: Box) -> Double {
    let w = max(min(a.x2, b.x2) - max(a.x1, b.x1), 0)
    let h = max(min(a.y2, b.y2) - max(a.y1, b.y1), 0)
    let inter = w * h
    let union = a.area + b.area - inter
    return union > 0 ? inter / union : 0
}

/// The `a.count x b.count` IoU matrix, row-major (row i holds `iou(a[i], b[j])` for every j).
/// Every box must be finite with x1 <= x2 and y1 <= y2.
public func iouMatrix(_ a: [Box], _ b: [Box]) throws -> [Double] {
    try Box.validate(a, what: "boxes1")
    try Box.validate(b, what: "boxes2")
    let (n, m) = (a.count, b.count)
    guard n == 0 || m <= Int.max / n else { throw BoxError("IoU matrix of \(n) x \(m) is too large") }
    return [Double](unsafeUninitializedCapacity: n * m) { out, filled in
        for i in 0..<n {
            let ai = a[i]
            let row = i * m
            for j in 0..<m { out[row + j] = iou(ai, b[j]) }
        }
        filled = n * m
    }
}
