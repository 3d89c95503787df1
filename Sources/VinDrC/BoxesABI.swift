import VinDrBoxes

// C ABI of VinDrBoxes: box formats, IoU, NMS, soft-NMS and weighted boxes fusion.
// Boxes cross the ABI as row-major double[n][4]. Multi-model calls take every model's boxes
// concatenated, with `model_sizes[m]` boxes for model m; their outputs never hold more boxes than
// the input, so callers size every output array to the total input count.

/// Box layout: corners x_min, y_min, x_max, y_max.
public let VDR_BOX_XYXY: Int32 = 0
/// Box layout: x_min, y_min, width, height (COCO).
public let VDR_BOX_XYWH: Int32 = 1
/// Box layout: centre x, centre y, width, height (YOLO).
public let VDR_BOX_CXCYWH: Int32 = 2

/// Soft-NMS decay: scores of boxes with IoU > iou_thr are multiplied by 1 - IoU.
public let VDR_SOFT_NMS_LINEAR: Int32 = 1
/// Soft-NMS decay: every score is multiplied by exp(-IoU^2 / sigma).
public let VDR_SOFT_NMS_GAUSSIAN: Int32 = 2

/// WBF confidence: mean score rescaled by min(models, boxes) / sum(weights) ("avg").
public let VDR_CONF_AVG: Int32 = 0
/// WBF confidence: highest weighted score divided by the largest weight ("max").
public let VDR_CONF_MAX: Int32 = 1
/// WBF confidence: "box_and_model_avg" of ensemble-boxes.
public let VDR_CONF_BOX_AND_MODEL_AVG: Int32 = 2
/// WBF confidence: "absent_model_aware_avg" of ensemble-boxes.
public let VDR_CONF_ABSENT_MODEL_AWARE_AVG: Int32 = 3

/// Length of the `out_adjustments` array of the multi-model calls: boxes whose corners were
/// swapped, coordinates clamped into [0, 1], zero-area boxes dropped, low-score boxes skipped.
public let VDR_ADJUSTMENT_COUNT: Int32 = 4

/// IoU matrix of two box sets: out[i * n2 + j] = IoU(boxes1[i], boxes2[j]) (out: n1 * n2 doubles).
@c public func vdr_box_iou(_ boxes1: UnsafePointer<Double>?, _ n1: UInt, _ boxes2: UnsafePointer<Double>?, _ n2: UInt,
                           _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let a = try boxArray(boxes1, n1, "boxes1")
        let b = try boxArray(boxes2, n2, "boxes2")
        try Box.validate(a, what: "boxes1")
        try Box.validate(b, what: "boxes2")
        if a.isEmpty || b.isEmpty { return }
        // Written straight into the caller's n1 * n2 buffer: no intermediate matrix.
        let o = try require(out, "out")
        for i in 0..<a.count {
            let row = o + i * b.count
            for j in 0..<b.count { row[j] = iou(a[i], b[j]) }
        }
    }
}

/// Converts n boxes between layouts (VDR_BOX_*), multiplying x by scale_x and y by scale_y
/// (1/width, 1/height normalise pixels). out: n * 4 doubles; may equal boxes.
@c public func vdr_box_convert(_ boxes: UnsafePointer<Double>?, _ n: UInt, _ from: Int32, _ to: Int32,
                               _ scale_x: Double, _ scale_y: Double, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let values = try buffer(boxes, try scaledCount(n, by: 4, "n"), "boxes")
        if n > 0 { _ = try require(out, "out") }
        let converted = try convertBoxes(Array(values), from: try boxFormat(from), to: try boxFormat(to),
                                         scaleX: scale_x, scaleY: scale_y)
        try copy(converted, to: out, "out")
    }
}

/// Class-aware NMS over several models with ensemble-boxes 1.0.9 `nms` semantics (normalised
/// coordinates; scores scaled by weight / sum(weights) when `weights` is not NULL; coordinates
/// clamped to [0, 1] and zero-area boxes dropped, counted in out_adjustments).
/// Writes *out_count kept boxes grouped by ascending label, best first: out_index (position in
/// the concatenated input), out_boxes, out_scores, out_labels. Labels are any finite doubles
/// (ensemble-boxes' float class ids), grouped by exact value. out_adjustments may be NULL.
@c public func vdr_nms(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, _ labels: UnsafePointer<Double>?,
                       _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights: UnsafePointer<Double>?,
                       _ iou_thr: Double,
                       _ out_index: UnsafeMutablePointer<Int64>?, _ out_boxes: UnsafeMutablePointer<Double>?,
                       _ out_scores: UnsafeMutablePointer<Double>?, _ out_labels: UnsafeMutablePointer<Double>?,
                       _ out_count: UnsafeMutablePointer<UInt>?, _ out_adjustments: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let input = try ModelsInput(boxes, scores, labelValues: labels, model_sizes, n_models, weights,
                                    outputs: [(UnsafeMutableRawPointer(out_index), "out_index"), (UnsafeMutableRawPointer(out_boxes), "out_boxes"),
                                              (UnsafeMutableRawPointer(out_scores), "out_scores"),
                                              (UnsafeMutableRawPointer(out_labels), "out_labels"),
                                              (UnsafeMutableRawPointer(out_count), "out_count")])
        let (prepared, kept) = try ensembleNMSKept(input.input, models: input.models, weights: input.weights,
                                                   iouThreshold: iou_thr)
        let values = try buffer(labels, input.input.count, "labels")
        let (oi, ob, os, ol, oc) = try (require(out_index, "out_index"), require(out_boxes, "out_boxes"),
                                        require(out_scores, "out_scores"), require(out_labels, "out_labels"),
                                        require(out_count, "out_count"))
        for (i, k) in kept.enumerated() {
            let b = prepared.boxes[k], source = prepared.source[k]
            ob[4 * i] = b.x1; ob[4 * i + 1] = b.y1; ob[4 * i + 2] = b.x2; ob[4 * i + 3] = b.y2
            os[i] = prepared.scores[k]
            oi[i] = Int64(source)
            ol[i] = values[source]
        }
        oc.pointee = UInt(kept.count)
        writeAdjustments(prepared.adjustments, out_adjustments)
    }
}

/// Soft-NMS (method VDR_SOFT_NMS_*) with ensemble-boxes 1.0.9 `soft_nms` semantics: same input
/// handling as vdr_nms; keeps boxes whose decayed score ends above `thresh`, in selection order
/// per ascending label. out_scores receives the undecayed (weighted) scores, as ensemble-boxes
/// returns them; out_decayed (may be NULL) the decayed ones.
@c public func vdr_soft_nms(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, _ labels: UnsafePointer<Double>?,
                            _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights: UnsafePointer<Double>?,
                            _ method: Int32, _ iou_thr: Double, _ sigma: Double, _ thresh: Double,
                            _ out_index: UnsafeMutablePointer<Int64>?, _ out_boxes: UnsafeMutablePointer<Double>?,
                            _ out_scores: UnsafeMutablePointer<Double>?, _ out_decayed: UnsafeMutablePointer<Double>?,
                            _ out_labels: UnsafeMutablePointer<Double>?, _ out_count: UnsafeMutablePointer<UInt>?,
                            _ out_adjustments: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        guard let m = SoftNMSMethod(rawValue: Int(method)) else {
            throw VinDrError(.argument, "soft-NMS method \(method) is not VDR_SOFT_NMS_LINEAR or VDR_SOFT_NMS_GAUSSIAN")
        }
        let input = try ModelsInput(boxes, scores, labelValues: labels, model_sizes, n_models, weights,
                                    outputs: [(UnsafeMutableRawPointer(out_index), "out_index"), (UnsafeMutableRawPointer(out_boxes), "out_boxes"),
                                              (UnsafeMutableRawPointer(out_scores), "out_scores"),
                                              (UnsafeMutableRawPointer(out_labels), "out_labels"),
                                              (UnsafeMutableRawPointer(out_count), "out_count")])
        let r = try ensembleSoftNMS(input.input, models: input.models, weights: input.weights, method: m, iouThreshold: iou_thr,
                                    sigma: sigma, threshold: thresh)
        try writeEnsemble(r, labels: buffer(labels, input.input.count, "labels"), out_index, out_boxes, out_scores, out_decayed,
                          out_labels, out_count, out_adjustments)
    }
}

/// Weighted boxes fusion with ensemble-boxes 1.0.9 `weighted_boxes_fusion` semantics
/// (conf_type VDR_CONF_*). Writes *out_count fused boxes, best first. With `normalised` false the
/// coordinates may be pixels: corners must be ordered and nothing is clamped.
@c public func vdr_wbf(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, _ labels: UnsafePointer<Int64>?,
                       _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights: UnsafePointer<Double>?,
                       _ iou_thr: Double, _ skip_box_thr: Double, _ conf_type: Int32, _ allows_overflow: Bool, _ normalised: Bool,
                       _ out_boxes: UnsafeMutablePointer<Double>?, _ out_scores: UnsafeMutablePointer<Double>?,
                       _ out_labels: UnsafeMutablePointer<Int64>?, _ out_count: UnsafeMutablePointer<UInt>?,
                       _ out_adjustments: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let conf = try confidenceType(conf_type)
        let input = try ModelsInput(boxes, scores, labels, model_sizes, n_models, weights,
                                    outputs: [(UnsafeMutableRawPointer(out_boxes), "out_boxes"), (UnsafeMutableRawPointer(out_scores), "out_scores"),
                                              (UnsafeMutableRawPointer(out_labels), "out_labels"),
                                              (UnsafeMutableRawPointer(out_count), "out_count")])
        let options = FusionOptions(weights: input.weights, iouThreshold: iou_thr, skipBoxThreshold: skip_box_thr,
                                    confidenceType: conf, allowsOverflow: allows_overflow, normalisedCoordinates: normalised)
        var fuser = try WeightedBoxesFuser(models: input.models, options: options)
        let r = try fuser.fuse(input.input)
        let d = r.detections
        let (ob, os, ol, oc) = try (require(out_boxes, "out_boxes"), require(out_scores, "out_scores"),
                                    require(out_labels, "out_labels"), require(out_count, "out_count"))
        writeDetections(d, ob, os, ol)
        oc.pointee = UInt(d.count)
        writeAdjustments(r.adjustments, out_adjustments)
    }
}

// MARK: - Translation helpers shared by the ABI files

func boxFormat(_ code: Int32) throws -> BoxFormat {
    switch code {
    case VDR_BOX_XYXY: return .xyxy
    case VDR_BOX_XYWH: return .xywh
    case VDR_BOX_CXCYWH: return .cxcywh
    default: throw VinDrError(.argument, "box layout \(code) is not one of VDR_BOX_*")
    }
}

func confidenceType(_ code: Int32) throws -> ConfidenceType {
    switch code {
    case VDR_CONF_AVG: return .avg
    case VDR_CONF_MAX: return .max
    case VDR_CONF_BOX_AND_MODEL_AVG: return .boxAndModelAvg
    case VDR_CONF_ABSENT_MODEL_AWARE_AVG: return .absentModelAwareAvg
    default: throw VinDrError(.argument, "conf_type \(code) is not one of VDR_CONF_*")
    }
}

/// `n * factor` as Int, rejecting sizes that overflow.
func scaledCount(_ n: UInt, by factor: Int, _ name: String) throws -> Int {
    guard let c = Int(exactly: n) else { throw VinDrError(.argument, "\(name) = \(n) is too large") }
    let (p, overflow) = c.multipliedReportingOverflow(by: factor)
    guard !overflow, p <= Int(Int32.max) * 64 else {
        throw VinDrError(.argument, "\(name) = \(n) is too large")
    }
    return p
}

/// A caller buffer of `count` elements; NULL is accepted only when count is 0.
func buffer<T>(_ p: UnsafePointer<T>?, _ count: Int, _ name: String) throws -> UnsafeBufferPointer<T> {
    if count == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
    guard let p else { throw VinDrError(.argument, "\(name) is NULL") }
    return UnsafeBufferPointer(start: p, count: count)
}

func copy(_ values: [Double], to out: UnsafeMutablePointer<Double>?, _ name: String) throws {
    if values.isEmpty { return }
    let o = try require(out, name)
    for (i, v) in values.enumerated() { o[i] = v }
}

func boxArray(_ p: UnsafePointer<Double>?, _ n: UInt, _ name: String) throws -> [Box] {
    try Box.array(fromFlat: try buffer(p, try scaledCount(n, by: 4, name), name), what: name)
}

/// Every model's boxes read from the concatenated caller arrays, tagged with their model. Every
/// pointer, inputs then `outputs` (the call's required output arrays), is checked before any
/// loop over the box count (ABIChecks.swift).
struct ModelsInput {
    var input = FusionInput()
    var models = 0
    var weights: [Double]?

    /// Integer class labels, used as they are.
    init(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, _ labels: UnsafePointer<Int64>?,
         _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights_pointer: UnsafePointer<Double>?,
         outputs: [(UnsafeMutableRawPointer?, String)]) throws {
        try self.init(boxes, scores, UnsafeRawPointer(labels), model_sizes, n_models, weights_pointer, outputs) { total in
            try buffer(labels, total, "labels").map { Int($0) }
        }
    }

    /// Labels of any finite value, grouped by exact value as `np.unique` groups them: integral
    /// values become their integer, other sets become their rank among the distinct values.
    init(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, labelValues: UnsafePointer<Double>?,
         _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights_pointer: UnsafePointer<Double>?,
         outputs: [(UnsafeMutableRawPointer?, String)]) throws {
        try self.init(boxes, scores, UnsafeRawPointer(labelValues), model_sizes, n_models, weights_pointer, outputs) { total in
            try classCodes(ofLabelValues: try buffer(labelValues, total, "labels"))
        }
    }

    private init(_ boxes: UnsafePointer<Double>?, _ scores: UnsafePointer<Double>?, _ labelsPointer: UnsafeRawPointer?,
                 _ model_sizes: UnsafePointer<UInt>?, _ n_models: UInt, _ weights_pointer: UnsafePointer<Double>?,
                 _ outputs: [(UnsafeMutableRawPointer?, String)], labels: (Int) throws -> [Int]) throws {
        models = try scaledCount(n_models, by: 1, "n_models")
        let sizes = try buffer(model_sizes, models, "model_sizes")
        var total = 0
        for s in sizes {
            let (t, overflow) = total.addingReportingOverflow(try scaledCount(s, by: 1, "model_sizes[]"))
            guard !overflow else { throw VinDrError(.argument, "model_sizes sum overflows") }
            total = t
        }
        let flat = try buffer(boxes, try scaledCount(UInt(total), by: 4, "boxes"), "boxes")
        let scoreValues = try buffer(scores, total, "scores")
        if total > 0 && labelsPointer == nil { throw VinDrError(.argument, "labels is NULL") }
        for (p, name) in outputs where p == nil { throw VinDrError(.argument, "\(name) is NULL") }
        input.scores = Array(scoreValues)
        input.labels = try labels(total)
        if weights_pointer != nil { weights = Array(try buffer(weights_pointer, models, "weights")) }
        input.boxes = [Box](unsafeUninitializedCapacity: total) { out, filled in
            for i in 0..<total {
                out[i] = Box(x1: flat[4 * i], y1: flat[4 * i + 1], x2: flat[4 * i + 2], y2: flat[4 * i + 3])
            }
            filled = total
        }
        input.models = [Int](unsafeUninitializedCapacity: total) { out, filled in
            for (m, s) in sizes.enumerated() {
                for _ in 0..<Int(s) { out[filled] = m; filled += 1 }
            }
        }
    }
}

func writeDetections(_ d: Detections, _ boxes: UnsafeMutablePointer<Double>, _ scores: UnsafeMutablePointer<Double>,
                     _ labels: UnsafeMutablePointer<Int64>) {
    for i in 0..<d.count {
        let b = d.boxes[i]
        boxes[4 * i] = b.x1; boxes[4 * i + 1] = b.y1; boxes[4 * i + 2] = b.x2; boxes[4 * i + 3] = b.y2
        scores[i] = d.scores[i]
        labels[i] = Int64(d.labels[i])
    }
}

func writeAdjustments(_ a: InputAdjustments, _ out: UnsafeMutablePointer<UInt>?) {
    guard let out else { return }
    out[0] = UInt(a.swappedBoxes)
    out[1] = UInt(a.clampedCoordinates)
    out[2] = UInt(a.droppedZeroArea)
    out[3] = UInt(a.droppedLowScore)
}

private func writeEnsemble(_ r: EnsembleResult, labels: UnsafeBufferPointer<Double>, _ out_index: UnsafeMutablePointer<Int64>?,
                           _ out_boxes: UnsafeMutablePointer<Double>?, _ out_scores: UnsafeMutablePointer<Double>?,
                           _ out_decayed: UnsafeMutablePointer<Double>?, _ out_labels: UnsafeMutablePointer<Double>?,
                           _ out_count: UnsafeMutablePointer<UInt>?, _ out_adjustments: UnsafeMutablePointer<UInt>?) throws {
    let (oi, ob, os, ol, oc) = try (require(out_index, "out_index"), require(out_boxes, "out_boxes"),
                                    require(out_scores, "out_scores"), require(out_labels, "out_labels"),
                                    require(out_count, "out_count"))
    let d = r.detections
    for i in 0..<d.count {
        let b = d.boxes[i], source = r.sourceIndices[i]
        ob[4 * i] = b.x1; ob[4 * i + 1] = b.y1; ob[4 * i + 2] = b.x2; ob[4 * i + 3] = b.y2
        os[i] = d.scores[i]
        oi[i] = Int64(source)
        ol[i] = labels[source]
    }
    if let out_decayed { for (i, s) in r.decayedScores.enumerated() { out_decayed[i] = s } }
    oc.pointee = UInt(d.count)
    writeAdjustments(r.adjustments, out_adjustments)
}
