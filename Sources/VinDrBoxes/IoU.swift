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

/// `iou(a, b) > threshold`, decided without the division whenever the overlap is clearly above
/// or below `threshold * union` (a margin of 2^-50, far above the rounding of either side), so
/// that NMS loops run at multiply speed and still decide exactly as the division would.
@inlinable
public func iouExceeds(_ a: Box, _ b: Box, _ threshold: Double) -> Bool {
    // Swift's min and max spelled as selects, which compile without branches.
    let dx = (b.x2 < a.x2 ? b.x2 : a.x2) - (b.x1 >= a.x1 ? b.x1 : a.x1)
    let dy = (b.y2 < a.y2 ? b.y2 : a.y2) - (b.y1 >= a.y1 ? b.y1 : a.y1)
    let inter = (dx >= 0 ? dx : 0) * (dy >= 0 ? dy : 0)
    let union = a.area + b.area - inter
    guard union > 0 else { return 0 > threshold }
    let bound = threshold * union
    let margin = abs(bound) * 0x1p-50
    if inter > bound + margin { return true }
    if inter < bound - margin { return false }
    return inter / union > threshold
}

/// The `a.count x b.count` IoU matrix, row-major (row i holds `iou(a[i], b[j])` for every j).
/// Every box must be finite with x1 <= x2 and y1 <= y2.
public func iouMatrix(_ a: [Box], _ b: [Box]) throws -> [Double] {
    try Box.validate(a, what: "boxes1")
    try Box.validate(b, what: "boxes2")
    let (n, m) = (a.count, b.count)
    guard n == 0 || m <= Int.max / n else { throw VinDrError(.argument, "IoU matrix of \(n) x \(m) is too large") }
    return [Double](unsafeUninitializedCapacity: n * m) { out, filled in
        for i in 0..<n {
            let ai = a[i]
            let row = i * m
            for j in 0..<m { out[row + j] = iou(ai, b[j]) }
        }
        filled = n * m
    }
}
