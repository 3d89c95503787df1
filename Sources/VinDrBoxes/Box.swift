@_exported import VinDrCore

/// An axis-aligned box in corner form (x_min, y_min, x_max, y_max), the layout of the dataset's
/// CSV files, of Kaggle submissions and of ensemble-boxes. Coordinates are pixels or normalised
/// to [0, 1] depending on context; the type does not care.
public struct Box: Hashable, Sendable, CustomStringConvertible {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double

    @inlinable
    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    @inlinable public var width: Double { x2 - x1 }
    @inlinable public var height: Double { y2 - y1 }
    /// `(x2 - x1) * (y2 - y1)`, the area formula (no +1 pixel) used by ensemble-boxes and COCO.
    @inlinable public var area: Double { (x2 - x1) * (y2 - y1) }

    public var description: String { "[\(x1), \(y1), \(x2), \(y2)]" }

    /// Throws unless all coordinates are finite and x1 <= x2, y1 <= y2.
    public func validated(_ what: @autoclosure () -> String = "box") throws -> Box {
        guard x1.isFinite, y1.isFinite, x2.isFinite, y2.isFinite else {
            throw VinDrError(.argument, "\(what()) \(self) has a non-finite coordinate")
        }
        guard x1 <= x2, y1 <= y2 else {
            throw VinDrError(.argument, "\(what()) \(self) has x2 < x1 or y2 < y1")
        }
        return self
    }
}

extension Box {
    /// Reads `count` boxes from a flat row-major buffer of `4 * count` values. Only finiteness is
    /// checked here; callers that need ordered corners call `validated`.
    public static func array(fromFlat values: UnsafeBufferPointer<Double>, what: String = "boxes") throws -> [Box] {
        guard values.count % 4 == 0 else {
            throw VinDrError(.argument, "\(what): \(values.count) values is not a multiple of 4")
        }
        let n = values.count / 4
        var out = [Box]()
        out.reserveCapacity(n)
        for i in 0..<n {
            let b = Box(x1: values[4 * i], y1: values[4 * i + 1], x2: values[4 * i + 2], y2: values[4 * i + 3])
            guard b.x1.isFinite, b.y1.isFinite, b.x2.isFinite, b.y2.isFinite else {
                throw VinDrError(.argument, "\(what)[\(i)] \(b) has a non-finite coordinate")
            }
            out.append(b)
        }
        return out
    }

    /// Validates every box (finite, x1 <= x2, y1 <= y2), naming the first bad index.
    public static func validate(_ boxes: [Box], what: String = "boxes") throws {
        for (i, b) in boxes.enumerated() { _ = try b.validated("\(what)[\(i)]") }
    }
}

extension Array where Element == Box {
    /// The boxes as a flat row-major array of `4 * count` values.
    public var flattened: [Double] {
        var out = [Double]()
        out.reserveCapacity(count * 4)
        for b in self { out.append(b.x1); out.append(b.y1); out.append(b.x2); out.append(b.y2) }
        return out
    }
}
