import VinDrDICOM

/// Which VOI transform (PS3.3 C.11.2) maps modality values to display values.
public enum WindowChoice: Sendable, Equatable {
    /// The file's own VOI: its first VOI LUT Sequence item if present, else its first window
    /// center/width with the file's VOI LUT Function, else `.auto`.
    case dicom
    /// The file's window pair `index` (0-based) with the file's VOI LUT Function.
    case fileWindow(index: Int)
    /// The file's VOI LUT Sequence item `index` (0-based).
    case fileLUT(index: Int)
    /// Min-max of the modality output of this image.
    case auto
    /// Linear between the `low` and `high` percentiles (0...100, numpy's linear interpolation)
    /// of the modality output of this image.
    case percentile(low: Double, high: Double)
    /// An explicit window, overriding the file's.
    case explicit(center: Double, width: Double, function: VOIFunction)
    /// The public VinDr-CXR Kaggle notebooks' `read_xray` (pydicom's apply_voi_lut, MONOCHROME1
    /// inverted by max - value, min-max normalised, truncated to uint8), byte for byte at the
    /// native size with uint8 output (`KaggleMapping`). Its display value is that byte / 255: a
    /// resized render resamples the recipe's uint8 image (as byte / 255) with the renderer's
    /// filter, and uint16 / float32 outputs hold byte x 257 / byte / 255.
    case kaggle
}

extension WindowChoice {
    /// The modes every entrance names with one word: "dicom", "auto", "kaggle".
    public init?(name: String) {
        switch name {
        case "dicom": self = .dicom
        case "auto": self = .auto
        case "kaggle": self = .kaggle
        default: return nil
        }
    }

    /// The word naming this mode, nil for modes that take parameters.
    public var name: String? {
        switch self {
        case .dicom: return "dicom"
        case .auto: return "auto"
        case .kaggle: return "kaggle"
        default: return nil
        }
    }
}

/// Output sample type. Display values in [0, 1] map to 0...max (rounded); 1 is white.
public enum OutputType: Int, Sendable, Equatable {
    case uint8 = 1, uint16 = 2, float32 = 4

    public var bytesPerSample: Int { rawValue }
}

/// Output size.
public enum OutputSize: Sendable, Equatable {
    /// The decoded image's own size.
    case original
    /// Exactly `height` x `width`.
    case exact(height: Int, width: Int)
    /// Longest side `n`, the other side scaled to keep the aspect ratio (rounded).
    case longestSide(Int)
}

/// How the image fills an `.exact` output whose aspect ratio differs from the source.
public enum AspectPolicy: Sendable, Equatable {
    /// Scale to fit, centred, the rest filled with `pad` (a display value in [0, 1]).
    case letterbox(pad: Double)
    /// Scale each axis independently.
    case stretch
}

/// How the frame is decoded for a render smaller than the image.
public enum DecodeMode: String, Sendable, Equatable, CaseIterable {
    /// Full-resolution decode, then the documented resampling: the output equals that of a full
    /// decode resampled by `Renderer` (the default).
    case exact
    /// Opt-in approximation: when the output is at least 2x smaller, JPEG 2000 and HTJ2K decode at
    /// a reduced resolution level (ISO 15444-1 B.5) and 8-bit baseline JPEG through the scaled
    /// IDCT, then resamples from there. Faster, but the codec's low-pass filter is not the
    /// renderer's area filter: along hard edges (collimator bands, burned-in markers, saturated
    /// regions) uint8 outputs can differ from `.exact` by a large part of the grey range.
    /// Other syntaxes decode in full either way.
    case fast
}

/// A change of the chosen window, as a radiologist drags window/level (and as a training
/// augmentation jitters it): the width scaled by `widthScale`, the center moved by `centerShift`
/// widths (of the window before scaling). Windows and data ranges (auto, percentile) are re-windowed
/// exactly (a LINEAR width stays at least 1, PS3.3 C.11.2.1.2); a VOI LUT's or the Kaggle recipe's
/// output y in [0, 1] is re-windowed as if it were a window of center 0.5 and width 1:
/// y' = (y - 0.5 - centerShift) / widthScale + 0.5, clamped to [0, 1].
public struct WindowAdjustment: Sendable, Equatable, Hashable {
    public var widthScale: Double
    public var centerShift: Double

    public init(widthScale: Double = 1, centerShift: Double = 0) {
        self.widthScale = widthScale
        self.centerShift = centerShift
    }

    public var isIdentity: Bool { widthScale == 1 && centerShift == 0 }
}

/// Everything a render needs besides the file.
public struct RenderOptions: Sendable, Equatable {
    public var frame: Int
    public var size: OutputSize
    public var aspect: AspectPolicy
    public var window: WindowChoice
    public var output: OutputType
    /// Invert MONOCHROME1 after VOI so that 1 is white (PS3.3 C.7.6.3.1.2). On by default.
    public var invertMonochrome1: Bool
    /// `.exact` (the default): decode in full; `.fast`: let JPEG 2000, HTJ2K and baseline JPEG decode
    /// at a reduced resolution when the output is at least 2x smaller (see `DecodeMode`).
    public var decode: DecodeMode
    /// Threads for decoding and resampling (1 or more).
    public var threads: Int
    /// A change of the chosen window (none by default): width scale in (0, 16], center shift in
    /// [-4, 4] widths.
    public var windowAdjustment = WindowAdjustment()

    public init(frame: Int = 0, size: OutputSize = .original, aspect: AspectPolicy = .stretch,
                window: WindowChoice = .dicom, output: OutputType = .uint8, invertMonochrome1: Bool = true,
                decode: DecodeMode = .exact, threads: Int = 1) {
        self.frame = frame
        self.size = size
        self.aspect = aspect
        self.window = window
        self.output = output
        self.invertMonochrome1 = invertMonochrome1
        self.decode = decode
        self.threads = threads
    }
}

extension RenderOptions {
    /// The output's height and width when `size` is `.exact`, else nil.
    public var exactSize: (height: Int, width: Int)? {
        if case .exact(let h, let w) = size { return (h, w) }
        return nil
    }

    /// Checks every field's range, the one place they are checked (the renderer, the C ABI's
    /// setters and the CLI call it): frame >= 0; threads 1...256; output size 1...65535 and pad a
    /// display value in [0, 1]; an explicit window finite with width >= 1 for LINEAR and > 0
    /// otherwise (PS3.3 C.11.2.1.2); percentiles 0 <= low < high <= 100; file window and LUT
    /// indices >= 0 (whether the file has that many is checked when rendering it).
    public func validate() throws {
        guard frame >= 0 else { throw VinDrError(.argument, "frame \(frame) is negative") }
        guard threads >= 1, threads <= 256 else { throw VinDrError(.argument, "threads \(threads) not in 1...256") }
        let a = windowAdjustment
        guard a.widthScale > 0, a.widthScale <= 16, a.centerShift >= -4, a.centerShift <= 4 else {
            throw VinDrError(.argument, "window adjustment: width scale \(a.widthScale) not in (0, 16] or center shift \(a.centerShift) not in [-4, 4]")
        }
        _ = try RenderGeometry.plan(sourceWidth: 100, sourceHeight: 100, size: size, aspect: aspect)
        if case .letterbox(let pad) = aspect, !(pad >= 0 && pad <= 1) {
            throw VinDrError(.argument, "pad value \(pad) not a display value in [0, 1]")
        }
        switch window {
        case .dicom, .auto, .kaggle: break
        case .fileWindow(let i), .fileLUT(let i):
            guard i >= 0 else { throw VinDrError(.argument, "window index \(i) is negative") }
        case .percentile(let lo, let hi):
            guard lo >= 0, hi <= 100, lo < hi else { throw VinDrError(.argument, "percentiles \(lo), \(hi) must satisfy 0 <= low < high <= 100") }
        case .explicit(let c, let w, let f):
            guard c.isFinite, w.isFinite, f == .linear ? w >= 1 : w > 0 else {
                throw VinDrError(.argument, "window center \(c) width \(w) invalid for \(f.rawValue) (PS3.3 C.11.2.1.2: width >= 1 for LINEAR, > 0 otherwise)")
            }
        }
    }
}

/// Where the source image landed in the output: output = source * scale + offset, in pixel
/// coordinates of the full-resolution source (top-left corner convention, so box corners map
/// exactly with the same formula).
public struct RenderGeometry: Sendable, Equatable {
    public var outputWidth: Int
    public var outputHeight: Int
    public var scaleX: Double
    public var scaleY: Double
    public var offsetX: Double
    public var offsetY: Double
    public var sourceWidth: Int
    public var sourceHeight: Int

    public init(outputWidth: Int, outputHeight: Int, scaleX: Double, scaleY: Double, offsetX: Double, offsetY: Double,
                sourceWidth: Int, sourceHeight: Int) {
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        self.scaleX = scaleX
        self.scaleY = scaleY
        self.offsetX = offsetX
        self.offsetY = offsetY
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
    }

    /// Maps a box (x_min, y_min, x_max, y_max) in source pixels to output pixels.
    public func transform(box b: (Double, Double, Double, Double)) -> (Double, Double, Double, Double) {
        (b.0 * scaleX + offsetX, b.1 * scaleY + offsetY, b.2 * scaleX + offsetX, b.3 * scaleY + offsetY)
    }

    /// Maps a box in output pixels back to source pixels.
    public func inverse(box b: (Double, Double, Double, Double)) -> (Double, Double, Double, Double) {
        ((b.0 - offsetX) / scaleX, (b.1 - offsetY) / scaleY, (b.2 - offsetX) / scaleX, (b.3 - offsetY) / scaleY)
    }

    /// The geometry of rendering a `width` x `height` source with `size` and `aspect`.
    public static func plan(sourceWidth width: Int, sourceHeight height: Int, size: OutputSize,
                            aspect: AspectPolicy) throws -> RenderGeometry {
        guard width >= 1, height >= 1, width <= 65535, height <= 65535 else {
            throw VinDrError(.argument, "source image size \(height)x\(width) is not renderable (Rows/Columns must be 1...65535)")
        }
        func whole(_ w: Int, _ h: Int) -> RenderGeometry {
            RenderGeometry(outputWidth: w, outputHeight: h, scaleX: Double(w) / Double(width),
                           scaleY: Double(h) / Double(height), offsetX: 0, offsetY: 0,
                           sourceWidth: width, sourceHeight: height)
        }
        switch size {
        case .original:
            return whole(width, height)
        case .longestSide(let n):
            guard n >= 1, n <= 65535 else { throw VinDrError(.argument, "longest side \(n) not in 1...65535") }
            if width >= height {
                return whole(n, max(1, Int((Double(height) * Double(n) / Double(width)).rounded())))
            }
            return whole(max(1, Int((Double(width) * Double(n) / Double(height)).rounded())), n)
        case .exact(let h, let w):
            guard h >= 1, w >= 1, h <= 65535, w <= 65535 else { throw VinDrError(.argument, "output size \(h)x\(w) not in 1...65535") }
            switch aspect {
            case .stretch:
                return whole(w, h)
            case .letterbox(let pad):
                guard pad >= 0, pad <= 1 else { throw VinDrError(.argument, "pad value \(pad) not a display value in [0, 1]") }
                let s = min(Double(w) / Double(width), Double(h) / Double(height))
                let cw = min(w, max(1, Int((Double(width) * s).rounded())))
                let ch = min(h, max(1, Int((Double(height) * s).rounded())))
                return RenderGeometry(outputWidth: w, outputHeight: h, scaleX: Double(cw) / Double(width),
                                      scaleY: Double(ch) / Double(height), offsetX: Double((w - cw) / 2),
                                      offsetY: Double((h - ch) / 2), sourceWidth: width, sourceHeight: height)
            }
        }
    }

    /// Size of the image content inside the output (equals the output size unless letterboxed).
    public var contentWidth: Int { Int((Double(sourceWidth) * scaleX).rounded()) }
    public var contentHeight: Int { Int((Double(sourceHeight) * scaleY).rounded()) }
}

