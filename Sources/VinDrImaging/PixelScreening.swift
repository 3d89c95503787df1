#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VinDrDICOM

/// Screening on pixels (the VinDr-CXR paper filters non-CXR, lateral and paediatric images with a
/// CNN after the tag-based filter; its weights are not public): a few simple statistics of a
/// thumbnail flag images whose content contradicts a frontal chest radiograph header.
///
/// The thumbnail is frame 0 rendered with the file's own window (`WindowChoice.dicom`,
/// MONOCHROME1 inverted so that 1 is white), area-resampled to `thumbnailSide` pixels on its
/// longest side, as float32 display values in [0, 1]. Regions are fractions of its width and
/// height (x from the image's left column, y from the top row):
/// - lung bands: x 0.12-0.38 and 0.62-0.88, y 0.25-0.70 (where a frontal view's lung fields lie);
/// - central band: x 0.42-0.58, y 0.25-0.70 (mediastinum and spine);
/// - lower band: x 0.30-0.70, y 0.82-0.95 (diaphragm and upper abdomen).
///
/// Deterministic: the same file and thresholds give the same statistics. The rules are heuristics
/// for synthetic and typical adult PA/AP views; they cannot tell paediatric from adult images.
public struct PixelScreening: Sendable, Equatable {
    /// Longest side of the thumbnail the statistics are computed on.
    public var thumbnailSide = 256
    /// `aspect`: width / height (columns / rows, pixel spacing ignored) outside this range is not
    /// a chest radiograph (detector formats run from about 0.75 to 1.33).
    public var aspectRange: ClosedRange<Double> = 0.6...1.67
    /// `inverted`: mean(central band) - mean(lung bands) below this is inverted polarity (a
    /// correctly displayed frontal view has a bright mediastinum between dark lungs). Flagged only
    /// when the image turned the other way up has the frontal two-lobe layout (`layout` passes)
    /// and the `lateral` rule passes: a lateral view also has a dark centre, and is not inverted.
    public var polarityThreshold = -0.04
    /// `lateral`: left-right asymmetry above this is a lateral (or otherwise non-frontal) view.
    /// The statistic is the mean absolute difference of the 16 x 16 grid of block means and its
    /// mirror image (display units): frontal views are roughly symmetric, laterals show one large
    /// lung field off-centre and the spine at one side.
    public var asymmetryThreshold = 0.10
    /// `layout`: two-lobe contrast below this means no dark-lungs / bright-mediastinum layout.
    /// The statistic is min(central band, lower band) - max(left lung band, right lung band), on
    /// the image turned the right way up first when the polarity statistic is negative (so that
    /// this rule and `inverted` do not count the same defect twice): both lungs must be darker
    /// than the mediastinum and the diaphragm.
    public var layoutThreshold = 0.04

    public init() {}

    /// One rule's outcome: whether it flags the image, its statistic and its threshold.
    public struct Rule: Sendable, Codable, Equatable {
        public var flagged: Bool
        public var value: Double
        /// The threshold (for `aspect`, the range's bounds as [low, high]).
        public var threshold: [Double]
    }

    /// Every rule's outcome for one image.
    public struct Result: Sendable, Codable, Equatable {
        public var aspect: Rule
        public var inverted: Rule
        public var lateral: Rule
        public var layout: Rule

        /// The rules in report order with their names.
        public var rules: [(name: String, rule: Rule)] {
            [("aspect", aspect), ("inverted", inverted), ("lateral", lateral), ("layout", layout)]
        }

        /// "pixels: <what> (stat=<value>, threshold <threshold>)" for each flagged rule joined
        /// by "; ", or nil when no rule flags the image.
        public var rejection: String? {
            let what = ["aspect": "non-chest aspect", "inverted": "inverted polarity", "lateral": "lateral view",
                        "layout": "non-chest intensity layout"]
            let parts = rules.filter(\.rule.flagged).map { r -> String in
                let t = r.rule.threshold
                let bound = r.name == "aspect" ? "outside \(fmt(t[0]))-\(fmt(t[1]))"
                    : r.name == "lateral" ? "> \(fmt(t[0]))" : "< \(fmt(t[0]))"
                return "\(what[r.name] ?? r.name) (stat=\(fmt(r.rule.value)), threshold \(bound))"
            }
            return parts.isEmpty ? nil : "pixels: " + parts.joined(separator: "; ")
        }

        /// {"aspect": {"flagged", "threshold", "value"}, "inverted": ..., "lateral": ..., "layout": ...}.
        public func json() throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        }
    }

    /// Renders the thumbnail of `file` and evaluates every rule on it; an image whose thumbnail
    /// has a side under 16 pixels (aspect ratio beyond 16:1) is refused.
    public func evaluate(_ file: DICOMFile) throws -> Result {
        guard thumbnailSide >= 16 else { throw VinDrError(.argument, "thumbnail side \(thumbnailSide) is under 16") }
        let options = RenderOptions(size: .longestSide(thumbnailSide), window: .dicom, output: .float32)
        let (bytes, g) = try Renderer.render(file, options: options)
        guard g.outputWidth >= 16, g.outputHeight >= 16 else {
            throw VinDrError(.unsupported, file.source,
                             "a \(file.metadata.columns)x\(file.metadata.rows) image is too narrow for pixel screening (thumbnail \(g.outputWidth)x\(g.outputHeight), under 16)")
        }
        let values = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(g.outputWidth * g.outputHeight)) }
        return try evaluate(values, width: g.outputWidth, height: g.outputHeight)
    }

    /// Evaluates every rule on display values in [0, 1] (`height` rows of `width`, 1 = white).
    public func evaluate(_ v: [Float], width: Int, height: Int) throws -> Result {
        guard width >= 16, height >= 16, v.count == width * height else {
            throw VinDrError(.argument, "thumbnail of \(v.count) values is not \(width)x\(height) with both sides at least 16")
        }
        func mean(_ x0: Double, _ x1: Double, _ y0: Double, _ y1: Double) -> Double {
            let c0 = Int(x0 * Double(width)), c1 = max(c0 + 1, Int(x1 * Double(width)))
            let r0 = Int(y0 * Double(height)), r1 = max(r0 + 1, Int(y1 * Double(height)))
            var s = 0.0
            for y in r0..<r1 { for x in c0..<c1 { s += Double(v[y * width + x]) } }
            return s / Double((c1 - c0) * (r1 - r0))
        }
        let ratio = Double(width) / Double(height)
        let left = mean(0.12, 0.38, 0.25, 0.70), right = mean(0.62, 0.88, 0.25, 0.70)
        let central = mean(0.42, 0.58, 0.25, 0.70), lower = mean(0.30, 0.70, 0.82, 0.95)
        let polarity = central - (left + right) / 2
        let n = 16
        var blocks = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n {
                blocks[i * n + j] = mean(Double(j) / Double(n), Double(j + 1) / Double(n), Double(i) / Double(n), Double(i + 1) / Double(n))
            }
        }
        var asymmetry = 0.0
        for i in 0..<n { for j in 0..<(n / 2) { asymmetry += abs(blocks[i * n + j] - blocks[i * n + n - 1 - j]) } }
        asymmetry /= Double(n * n / 2)
        let o: (Double) -> Double = { polarity < 0 ? 1 - $0 : $0 }
        let twoLobe = min(o(central), o(lower)) - max(o(left), o(right))
        let lateral = asymmetry > asymmetryThreshold
        return Result(
            aspect: Rule(flagged: !aspectRange.contains(ratio), value: ratio, threshold: [aspectRange.lowerBound, aspectRange.upperBound]),
            inverted: Rule(flagged: !lateral && twoLobe >= layoutThreshold && polarity < polarityThreshold, value: polarity,
                           threshold: [polarityThreshold]),
            lateral: Rule(flagged: lateral, value: asymmetry, threshold: [asymmetryThreshold]),
            layout: Rule(flagged: twoLobe < layoutThreshold, value: twoLobe, threshold: [layoutThreshold]))
    }
}

/// A value with at most 3 decimals, for reasons.
private func fmt(_ x: Double) -> String {
    let r = (x * 1000).rounded() / 1000
    return r == r.rounded() ? String(Int(r)) : "\(r)"
}

extension PixelScreening: DeidentificationPixelScreen {
    public func rejection(_ file: DICOMFile) throws -> String? { try evaluate(file).rejection }
}

extension DeidentificationOptions {
    /// Turns screening on pixels (`PixelScreening` with its default thresholds) on or off.
    public mutating func setScreenPixels(_ on: Bool) {
        pixelScreen = on ? PixelScreening() : nil
    }
}
