#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrDICOM

/// The grayscale display pipeline of PS3.3 C.11 as one function of the stored value:
/// Modality LUT (rescale or LUT sequence) -> VOI (window with LINEAR, LINEAR_EXACT or SIGMOID,
/// or VOI LUT sequence, or a data-driven range) -> MONOCHROME1 inversion, giving display
/// values in [0, 1] with 1 = white. `.kaggle` replaces the whole chain with the Kaggle notebooks'
/// recipe (`KaggleMapping`), a function of the stored value too.
public struct DisplayTransform: Sendable, Equatable {
    public enum Modality: Sendable, Equatable {
        case rescale(slope: Double, intercept: Double)
        case lut(LookupTable)
    }

    public enum VOI: Sendable, Equatable {
        case window(center: Double, width: Double, function: VOIFunction)
        case lut(LookupTable)
        /// Linear from `low` to `high` of the modality output (auto and percentile windows).
        case range(low: Double, high: Double)
        /// The Kaggle recipe of the stored value, inversion included (the modality step is the
        /// identity and `invert` false with it).
        case kaggle(KaggleMapping)
    }

    public var modality: Modality
    public var voi: VOI
    public var invert: Bool
    /// Re-windowing of a VOI LUT's or the Kaggle recipe's output (`WindowAdjustment`); windows
    /// and ranges are adjusted in `voi` itself.
    public var outputAdjustment = WindowAdjustment()

    public init(modality: Modality, voi: VOI, invert: Bool) {
        self.modality = modality
        self.voi = voi
        self.invert = invert
    }

    /// PS3.3 C.11.1: Modality LUT Sequence if present, else Rescale Slope/Intercept (identity
    /// when absent).
    public static func modality(of m: DICOMMetadata) -> Modality {
        if let lut = m.modalityLUT { return .lut(lut) }
        return .rescale(slope: m.rescaleSlope ?? 1, intercept: m.rescaleIntercept ?? 0)
    }

    @inlinable public func modalityValue(_ stored: Double) -> Double {
        switch modality {
        case .rescale(let m, let b): return m * stored + b
        case .lut(let t): return t.lookup(stored)
        }
    }

    /// VOI output in [0, 1] for modality value `x`.
    @inlinable public func voiValue(_ x: Double) -> Double {
        switch voi {
        case .window(let c, let w, .linear):
            // C.11.2.1.2.1
            if x <= c - 0.5 - (w - 1) / 2 { return 0 }
            if x > c - 0.5 + (w - 1) / 2 { return 1 }
            return (x - (c - 0.5)) / (w - 1) + 0.5
        case .window(let c, let w, .linearExact):
            // C.11.2.1.3.2
            if x <= c - w / 2 { return 0 }
            if x > c + w / 2 { return 1 }
            return (x - c) / w + 0.5
        case .window(let c, let w, .sigmoid):
            // C.11.2.1.3.1
            return 1 / (1 + exp(-4 * (x - c) / w))
        case .lut(let t):
            // C.11.2.1.1: entries scaled by the descriptor's bit depth.
            return t.lookup(x) / Double((1 << t.bitsPerEntry) - 1)
        case .range(let lo, let hi):
            guard hi > lo else { return 0 }
            return min(1, max(0, (x - lo) / (hi - lo)))
        case .kaggle(let k):
            return Double(k.byte(stored: x)) / 255
        }
    }

    /// Display value of a stored value.
    @inlinable public func displayValue(stored: Int) -> Double {
        var y = voiValue(modalityValue(Double(stored)))
        if !outputAdjustment.isIdentity {
            y = min(1, max(0, (y - 0.5 - outputAdjustment.centerShift) / outputAdjustment.widthScale + 0.5))
        }
        return invert ? 1 - y : y
    }

    /// The table of display values indexed by the low `bitsStored` bits of a raw sample (the
    /// stored value, or its two's-complement bit pattern when signed): 2^bitsStored entries.
    /// Readers index it with `raw & (2^bitsStored - 1)`, which ignores the bits above Bits
    /// Stored as PS3.5 8.1.1 requires.
    public func table(format: SampleFormat, bitsStored: Int) -> [Float] {
        let size = 1 << bitsStored
        return (0..<size).map { raw in
            Float(displayValue(stored: StoredValueRange.interpret(raw, bitsStored: bitsStored, signed: format.isSigned)))
        }
    }
}

extension DisplayTransform {
    /// Resolves `choice` against the file's attributes and, for data-driven windows, the image.
    public static func make(metadata m: DICOMMetadata, pixels: PixelView, choice: WindowChoice,
                            invertMonochrome1: Bool, adjustment: WindowAdjustment = WindowAdjustment(),
                            source: String) throws -> DisplayTransform {
        try resolve(metadata: m, pixels: pixels, choice: choice, invertMonochrome1: invertMonochrome1, source: source).adjusted(by: adjustment)
    }

    /// This transform re-windowed by `adjustment` (`WindowAdjustment`): a window or range is
    /// scaled about its center and shifted in widths; a VOI LUT's or the Kaggle recipe's output
    /// is re-windowed as a window of center 0.5 and width 1.
    public func adjusted(by adjustment: WindowAdjustment) -> DisplayTransform {
        guard !adjustment.isIdentity else { return self }
        var t = self
        let (s, shift) = (adjustment.widthScale, adjustment.centerShift)
        switch t.voi {
        case .window(let c, let w, let f):
            t.voi = .window(center: c + shift * w, width: f == .linear ? max(1, w * s) : w * s, function: f)
        case .range(let lo, let hi):
            let (c, w) = ((lo + hi) / 2 + shift * (hi - lo), (hi - lo) * s)
            t.voi = .range(low: c - w / 2, high: c + w / 2)
        case .lut, .kaggle:
            t.outputAdjustment = adjustment
        }
        return t
    }

    /// The transform `choice` names for this file, before any adjustment.
    static func resolve(metadata m: DICOMMetadata, pixels: PixelView, choice: WindowChoice,
                        invertMonochrome1: Bool, source: String) throws -> DisplayTransform {
        let modality = modality(of: m)
        let invert = invertMonochrome1 && m.photometricInterpretation == "MONOCHROME1"
        func check(_ c: Double, _ w: Double, _ f: VOIFunction) throws -> VOI {
            try checkWindow(c, w, f, source: source)
            return .window(center: c, width: w, function: f)
        }
        var t = DisplayTransform(modality: modality, voi: .range(low: 0, high: 0), invert: invert)
        switch choice {
        case .kaggle:
            let k = try KaggleMapping.make(metadata: m, pixels: pixels, invertMonochrome1: invertMonochrome1, source: source)
            return DisplayTransform(modality: .rescale(slope: 1, intercept: 0), voi: .kaggle(k), invert: false)
        case .dicom:
            if let lut = m.voiLUTs.first {
                t.voi = .lut(lut)
            } else if let w = m.windows.first {
                t.voi = try check(w.center, w.width, m.voiFunction)
            } else {
                t.voi = t.dataRange(pixels, bitsStored: m.bitsStored, percentiles: nil)
            }
        case .fileWindow(let i):
            guard i >= 0, i < m.windows.count else {
                throw VinDrError(.argument, source, "window index \(i) out of range: Window Center/Width (0028,1050)/(0028,1051) hold \(m.windows.count)")
            }
            t.voi = try check(m.windows[i].center, m.windows[i].width, m.voiFunction)
        case .fileLUT(let i):
            guard i >= 0, i < m.voiLUTs.count else {
                throw VinDrError(.argument, source, "VOI LUT index \(i) out of range: VOI LUT Sequence (0028,3010) holds \(m.voiLUTs.count)")
            }
            t.voi = .lut(m.voiLUTs[i])
        case .auto:
            t.voi = t.dataRange(pixels, bitsStored: m.bitsStored, percentiles: nil)
        case .percentile(let lo, let hi):
            guard lo >= 0, hi <= 100, lo < hi else {
                throw VinDrError(.argument, source, "percentiles \(lo), \(hi) must satisfy 0 <= low < high <= 100")
            }
            t.voi = t.dataRange(pixels, bitsStored: m.bitsStored, percentiles: (lo, hi))
        case .explicit(let c, let w, let f):
            t.voi = try check(c, w, f)
        }
        return t
    }

    /// PS3.3 C.11.2.1.2: a finite center, and a width >= 1 for LINEAR, > 0 otherwise.
    static func checkWindow(_ c: Double, _ w: Double, _ f: VOIFunction, source: String) throws {
        guard c.isFinite, w.isFinite, f == .linear ? w >= 1 : w > 0 else {
            throw VinDrError(.format, source, "window center \(c) width \(w) invalid for \(f.rawValue) (PS3.3 C.11.2.1.2: width >= 1 for LINEAR, > 0 otherwise)")
        }
    }

    /// Min-max (or percentiles, numpy's default linear interpolation) of the modality output,
    /// from a histogram of the stored values: exact, one pass over the pixels.
    func dataRange(_ pixels: PixelView, bitsStored: Int, percentiles: (Double, Double)?) -> VOI {
        let hist = Histogram.of(pixels, bitsStored: bitsStored)
        // (modality value, count) for each stored value present, sorted by modality value.
        var values: [(Double, Int)] = []
        for (i, n) in hist.counts.enumerated() where n > 0 {
            values.append((modalityValue(Double(i + hist.minStored)), n))
        }
        values.sort { $0.0 < $1.0 }
        guard let first = values.first, let last = values.last else { return .range(low: 0, high: 0) }
        guard let (pLo, pHi) = percentiles else { return .range(low: first.0, high: last.0) }
        let total = values.reduce(0) { $0 + $1.1 }
        func quantile(_ p: Double) -> Double {
            let pos = p / 100 * Double(total - 1)
            let k = Int(pos.rounded(.down))
            let frac = pos - Double(k)
            var seen = 0
            var lower = last.0, upper = last.0
            for (i, (v, n)) in values.enumerated() {
                if seen + n > k {
                    lower = v
                    upper = seen + n > k + 1 ? v : (i + 1 < values.count ? values[i + 1].0 : v)
                    break
                }
                seen += n
            }
            return lower + (upper - lower) * frac
        }
        return .range(low: quantile(pLo), high: quantile(pHi))
    }
}

/// The `read_xray` preprocessing of the public VinDr-CXR Kaggle notebooks, as a function of the
/// stored value:
///
///     data = apply_voi_lut(ds.pixel_array, ds)              # pydicom
///     if ds.PhotometricInterpretation == "MONOCHROME1": data = np.amax(data) - data
///     data = data - np.min(data); data = data / np.max(data)
///     data = (data * 255).astype(np.uint8)
///
/// pydicom's apply_voi_lut works on stored values: the first VOI LUT Sequence item (PS3.3
/// C.11.2.1.1) if present, else the first Window Center/Width (C.11.2.1.2, C.11.2.1.3) scaled to
/// the rescaled stored-value range (the rescale sets that output range only; it is not applied to
/// the pixels), else the stored values unchanged. The float64 operations are pydicom's and
/// numpy's, in their order, so the bytes are equal; truncation, not rounding, gives the byte.
/// A constant image (max == min, where the recipe divides 0 by 0) is all zeros: the bytes numpy's
/// NaN-to-uint8 cast gives on x86-64 and arm64, never an undefined value.
/// Deliberate differences, where the recipe has no defined result: signed stored values whose
/// range exceeds the pixel array's type are not wrapped (numpy's int16 `data - min` would
/// overflow), and VOI LUT entries above 255 in an 8-bit LUT are used as stored (pydicom raises).
public struct KaggleMapping: Sendable, Equatable {
    /// pydicom's apply_voi_lut.
    public enum VOI: Sendable, Equatable {
        /// No VOI LUT item and no window: the stored values.
        case none
        /// The first VOI LUT item, indexed like pydicom's fixed-width numpy arithmetic:
        /// (stored - first mapped) modulo 2^`indexBits` for stored >= first mapped, else 0, then
        /// clamped to the last entry.
        case lut(LookupTable, indexBits: Int)
        /// The first window on stored values, output in `yMin`...`yMax` (the rescaled range of
        /// the stored values, or of the Modality LUT's entries).
        case window(center: Double, width: Double, function: VOIFunction, yMin: Double, yMax: Double)
    }

    public var voi: VOI
    /// MONOCHROME1 inverted by max - value.
    public var invert: Bool
    /// Min and max of the VOI output over the image (before inversion).
    public var low: Double
    public var high: Double

    /// pydicom's VOI output for a stored value.
    @inlinable public func voiValue(stored x: Double) -> Double {
        switch voi {
        case .none:
            return x
        case .lut(let t, let bits):
            let offset = Int(x) - t.firstMapped
            let i = offset < 0 ? 0 : min(offset & ((1 << bits) - 1), t.data.count - 1)
            return Double(t.data[i])
        case .window(var c, var w, let f, let yMin, let yMax):
            let yRange = yMax - yMin
            if f == .sigmoid { return yRange / (1 + exp(-4 * (x - c) / w)) + yMin }
            if f == .linear {
                c -= 0.5
                w -= 1
            }
            if x <= c - w / 2 { return yMin }
            if x > c + w / 2 { return yMax }
            return ((x - c) / w + 0.5) * yRange + yMin
        }
    }

    /// The recipe's byte for a stored value of this image.
    @inlinable public func byte(stored x: Double) -> UInt8 {
        var v = voiValue(stored: x)
        var lo = low, hi = high
        if invert {
            v = high - v
            (lo, hi) = (high - high, high - low)
        }
        let span = hi - lo
        guard span > 0 else { return 0 }
        // In 0...255 for the image's values; the clamp is for values the table holds that the
        // image lacks, and NaN (a rescale overflowing the window's output range) gives 0.
        let r = (v - lo) / span * 255
        return r >= 0 ? UInt8(min(r, 255)) : 0
    }

    /// Resolves the recipe for one image: pydicom's VOI choice from the attributes, then the
    /// VOI output's min and max over the stored values present.
    public static func make(metadata m: DICOMMetadata, pixels: PixelView, invertMonochrome1: Bool,
                            source: String) throws -> KaggleMapping {
        var voi = VOI.none
        if let lut = m.voiLUTs.first {
            // numpy stores the index in the LUT's dtype (uint8 for 8-bit entries, else uint16)
            // after computing it in the pixel array's width.
            voi = .lut(lut, indexBits: min(8 * pixels.format.bytesPerSample, lut.bitsPerEntry == 8 ? 8 : 16))
        } else if let w = m.windows.first {
            try DisplayTransform.checkWindow(w.center, w.width, m.voiFunction, source: source)
            var yMin: Double, yMax: Double
            if let lut = m.modalityLUT {
                (yMin, yMax) = (0, Double((1 << lut.bitsPerEntry) - 1))
            } else if m.isSigned {
                (yMin, yMax) = (-Double(1 << (m.bitsStored - 1)), Double((1 << (m.bitsStored - 1)) - 1))
            } else {
                (yMin, yMax) = (0, Double((1 << m.bitsStored) - 1))
            }
            if let slope = m.rescaleSlope, let intercept = m.rescaleIntercept {
                yMin = yMin * slope + intercept
                yMax = yMax * slope + intercept
            }
            voi = .window(center: w.center, width: w.width, function: m.voiFunction, yMin: yMin, yMax: yMax)
        }
        var k = KaggleMapping(voi: voi, invert: invertMonochrome1 && m.photometricInterpretation == "MONOCHROME1",
                              low: .infinity, high: -.infinity)
        let hist = Histogram.of(pixels, bitsStored: m.bitsStored)
        for (i, n) in hist.counts.enumerated() where n > 0 {
            let v = k.voiValue(stored: Double(i + hist.minStored))
            k.low = min(k.low, v)
            k.high = max(k.high, v)
        }
        return k
    }
}

/// Counts of each stored value (after masking / sign extension to Bits Stored).
struct Histogram {
    var minStored: Int
    var counts: [Int]

    static func of(_ p: PixelView, bitsStored: Int) -> Histogram {
        let signed = p.format.isSigned
        let lo = signed ? -(1 << (bitsStored - 1)) : 0
        let size = 1 << bitsStored
        var raw = [Int](repeating: 0, count: 1 << (8 * p.format.bytesPerSample))
        let n = p.width * p.height
        raw.withUnsafeMutableBufferPointer { r in
            if p.format.bytesPerSample == 1 {
                for i in 0..<n { r[Int(p.bytes[i])] += 1 }
            } else {
                let w = p.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
                for i in 0..<n { r[Int(UInt16(littleEndian: w[i]))] += 1 }
            }
        }
        var counts = [Int](repeating: 0, count: size)
        for (bits, c) in raw.enumerated() where c > 0 {
            counts[StoredValueRange.interpret(bits, bitsStored: bitsStored, signed: signed) - lo] += c
        }
        return Histogram(minStored: lo, counts: counts)
    }
}
