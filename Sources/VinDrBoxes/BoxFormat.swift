/// The three box layouts in common use. `xyxy` is corners (the dataset's CSVs, ensemble-boxes,
/// Pascal VOC), `xywh` is top-left corner plus size (COCO `bbox`), `cxcywh` is centre plus size
/// (YOLO label files, where it is also normalised by the image size).
public enum BoxFormat: String, CaseIterable, Sendable {
    case xyxy, xywh, cxcywh

    /// Reads four values in this format as a corner box.
    @inlinable
    public func box(_ a: Double, _ b: Double, _ c: Double, _ d: Double) -> Box {
        switch self {
        case .xyxy: return Box(x1: a, y1: b, x2: c, y2: d)
        case .xywh: return Box(x1: a, y1: b, x2: a + c, y2: b + d)
        case .cxcywh: return Box(x1: a - c / 2, y1: b - d / 2, x2: a + c / 2, y2: b + d / 2)
        }
    }

    /// Writes a corner box as four values in this format.
    @inlinable
    public func values(_ box: Box) -> (Double, Double, Double, Double) {
        switch self {
        case .xyxy: return (box.x1, box.y1, box.x2, box.y2)
        case .xywh: return (box.x1, box.y1, box.width, box.height)
        case .cxcywh: return ((box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2, box.width, box.height)
        }
    }
}

/// Converts a flat row-major array of boxes between formats and coordinate spaces.
///
/// `scaleX`/`scaleY` multiply x and y coordinates after the layout conversion: pass
/// `1/width, 1/height` to normalise pixel boxes, `width, height` to go back to pixels. Values must
/// be finite and widths/heights non-negative (x2 >= x1 in corner terms).
public func convertBoxes(_ values: [Double], from: BoxFormat, to: BoxFormat,
                         scaleX: Double = 1, scaleY: Double = 1) throws -> [Double] {
    guard values.count % 4 == 0 else { throw VinDrError(.argument, "boxes: \(values.count) values is not a multiple of 4") }
    guard scaleX.isFinite, scaleY.isFinite, scaleX > 0, scaleY > 0 else {
        throw VinDrError(.argument, "scale (\(scaleX), \(scaleY)) must be finite and positive")
    }
    var out = [Double](repeating: 0, count: values.count)
    for i in stride(from: 0, to: values.count, by: 4) {
        let b = from.box(values[i], values[i + 1], values[i + 2], values[i + 3])
        _ = try b.validated("boxes[\(i / 4)]")
        let s = Box(x1: b.x1 * scaleX, y1: b.y1 * scaleY, x2: b.x2 * scaleX, y2: b.y2 * scaleY)
        let v = to.values(s)
        out[i] = v.0; out[i + 1] = v.1; out[i + 2] = v.2; out[i + 3] = v.3
    }
    return out
}

/// One line of a YOLO label file: `class cx cy w h`, coordinates normalised to the image size.
public struct YOLOLabel: Equatable, Sendable {
    public var classID: Int
    /// The box in normalised corner form.
    public var box: Box

    public init(classID: Int, box: Box) {
        self.classID = classID
        self.box = box
    }

    /// A YOLO label for a box in pixels on an image of `width` x `height` pixels.
    public init(classID: Int, pixelBox: Box, width: Int, height: Int) throws {
        guard width > 0, height > 0 else { throw VinDrError(.argument, "image size \(width) x \(height) must be positive") }
        let b = try pixelBox.validated()
        let w = Double(width), h = Double(height)
        self.init(classID: classID, box: Box(x1: b.x1 / w, y1: b.y1 / h, x2: b.x2 / w, y2: b.y2 / h))
    }

    /// Parses `class cx cy w h` (whitespace separated).
    public init(line: Substring) throws {
        let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 5, let c = Int(parts[0]),
              let cx = Double(parts[1]), let cy = Double(parts[2]), let w = Double(parts[3]), let h = Double(parts[4])
        else { throw VinDrError(.argument, "YOLO label line \"\(line)\" is not `class cx cy w h`") }
        self.init(classID: c, box: try BoxFormat.cxcywh.box(cx, cy, w, h).validated("YOLO box"))
    }

    /// `class cx cy w h` with six decimals, the precision of common YOLO exporters.
    public var line: String {
        let (cx, cy, w, h) = BoxFormat.cxcywh.values(box)
        return "\(classID) \(fixed6(cx)) \(fixed6(cy)) \(fixed6(w)) \(fixed6(h))"
    }
}

/// `value` rounded to six decimals, without Foundation's formatter.
func fixed6(_ value: Double) -> String {
    let scaled = (value * 1_000_000).rounded()
    guard scaled.isFinite, abs(scaled) < 9e15 else { return String(value) }
    let n = Int64(scaled)
    let sign = n < 0 ? "-" : ""
    let a = n.magnitude
    let frac = String(a % 1_000_000)
    return "\(sign)\(a / 1_000_000).\(String(repeating: "0", count: 6 - frac.count))\(frac)"
}
