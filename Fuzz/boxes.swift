// libFuzzer target: the box functions (NMS, class-aware NMS, ensemble NMS, soft-NMS, weighted
// boxes fusion, IoU) on arbitrary doubles, labels and counts decoded from the input:
//   byte op, byte models, 4 little-endian doubles (parameters), then per box
//   byte model, byte label (signed), 5 doubles (score, x1, y1, x2, y2).
import VinDrBoxes

private struct Reader {
    var p: UnsafePointer<UInt8>, n: Int, i = 0
    mutating func byte() -> UInt8? { guard i < n else { return nil }; defer { i += 1 }; return p[i] }
    mutating func double() -> Double? {
        guard n - i >= 8 else { return nil }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(p[i + k]) << (8 * UInt64(k)) }
        i += 8
        return Double(bitPattern: bits)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var r = Reader(p: data, n: size)
    guard let op = r.byte(), let modelByte = r.byte() else { return 0 }
    let models = Int(modelByte % 8)
    var params = [Double]()
    for _ in 0..<4 { params.append(r.double() ?? 0.5) }
    var perModel = [Detections](repeating: Detections(), count: models)
    var all = Detections()
    var modelOf = [Int]()
    while let m = r.byte(), let l = r.byte(), let s = r.double(), let x1 = r.double(), let y1 = r.double(),
          let x2 = r.double(), let y2 = r.double() {
        let box = Box(x1: x1, y1: y1, x2: x2, y2: y2)
        let label = Int(Int8(bitPattern: l))
        all.append(box, score: s, label: label)
        modelOf.append(Int(m))
        if models > 0 { perModel[Int(m) % models].append(box, score: s, label: label) }
    }
    let weights: [Double]? = op & 0x10 != 0 ? (0..<models).map { $0 == 0 ? params[3] : Double($0) } : nil
    switch op % 8 {
    case 0: _ = try? nms(boxes: all.boxes, scores: all.scores, iouThreshold: params[0])
    case 1: _ = try? nms(all, iouThreshold: params[0])
    case 2: _ = try? ensembleNMS(perModel, weights: weights, iouThreshold: params[0])
    case 3: _ = try? ensembleSoftNMS(perModel, weights: weights, method: .linear, iouThreshold: params[0],
                                     sigma: params[1], threshold: params[2])
    case 4: _ = try? ensembleSoftNMS(perModel, weights: weights, method: .gaussian, iouThreshold: params[0],
                                     sigma: params[1], threshold: params[2])
    case 5, 6:
        let types = ConfidenceType.allCases
        let options = FusionOptions(weights: weights, iouThreshold: params[0], skipBoxThreshold: params[2],
                                    confidenceType: types[Int(op >> 5) % types.count], allowsOverflow: op & 0x80 != 0,
                                    normalisedCoordinates: op % 8 == 5)
        _ = try? weightedBoxesFusion(perModel, options: options)
        // The same boxes through a reused fuser and a flat input.
        if var fuser = try? WeightedBoxesFuser(models: models, options: options), let input = try? FusionInput(perModel) {
            _ = try? fuser.fuse(input)
            _ = try? fuser.fuse(input)
        }
    default:
        _ = try? iouMatrix(all.boxes, Array(all.boxes.prefix(5)))
        for (a, b) in zip(all.boxes, all.boxes.dropFirst()) { _ = iou(a, b); _ = iouExceeds(a, b, params[0]) }
        _ = try? Detections(boxes: all.boxes, scores: all.scores, labels: all.labels)
    }
    _ = modelOf
    return 0
}
