import VinDrDICOM

/// Burned-in text removal during de-identification (the VinDr-CXR paper's "simple algorithm ...
/// to automatically remove textual information appearing on the image data", then manual
/// verification): every frame of a monochrome image goes through `TextScrubber`; when text is
/// found the frames are rewritten and, with `reviewDirectory`, a contact sheet of the changed
/// regions (before | after, rendered with the file's window) is written there as
/// `<new id>.png` for the manual check.
///
/// Burned In Annotation (0028,0301) is left as the profile leaves it: the automatic removal is
/// not a verification, so it is not set to NO; the report's `text_regions` and the sheet are the
/// record of what was removed. Images that are not monochrome (PS3.3 C.7.6.3.1.2) are refused.
public struct TextScrubbing: DeidentificationPixelEditor {
    public var parameters = TextScrubber.Parameters()
    /// Where the review contact sheets go (nil: none written).
    public var reviewDirectory: String?

    public init(parameters: TextScrubber.Parameters = TextScrubber.Parameters(), reviewDirectory: String? = nil) {
        self.parameters = parameters
        self.reviewDirectory = reviewDirectory
    }

    public func edit(_ file: DICOMFile, name: String) throws -> PixelEdit? {
        let m = file.metadata
        guard m.samplesPerPixel == 1, m.photometricInterpretation == "MONOCHROME1" || m.photometricInterpretation == "MONOCHROME2" else {
            throw VinDrError(.unsupported, file.source,
                             "text scrubbing needs a monochrome image; Photometric Interpretation (0028,0004) is \(m.photometricInterpretation) with \(m.samplesPerPixel) samples per pixel")
        }
        var frames: [StoredPixels] = []
        var changes: [(frame: Int, before: StoredPixels, result: TextScrubber.Result)] = []
        for f in 0..<max(m.frames, 1) {
            var pixels = try file.decode(frame: f)
            let values = Self.values(of: pixels)
            let result = try TextScrubber.scrub(values, width: pixels.width, height: pixels.height, parameters: parameters)
            if result.changed > 0 {
                let before = pixels
                Self.store(result.values, into: &pixels, bitsStored: m.bitsStored)
                changes.append((f, before, result))
            }
            frames.append(pixels)
        }
        guard !changes.isEmpty else { return nil }
        var review: String?
        if let dir = reviewDirectory {
            try FileSystem.createDirectories(dir)
            let path = FileSystem.joined(dir, name + ".png")
            let sheet = try Self.contactSheet(file, changes: changes.map { ($0.frame, $0.before, $0.result.values, $0.result.regions) })
            try PNGWriter.write(sheet.pixels, width: sheet.width, height: sheet.height, channels: 3, to: path)
            review = path
        }
        return PixelEdit(frames: frames, regions: changes.reduce(0) { $0 + $1.result.regions.count }, review: review)
    }

    /// Stored values of a decoded frame (already masked / sign-extended to Bits Stored).
    static func values(of p: StoredPixels) -> [Int32] {
        let n = p.width * p.height
        return p.bytes.withUnsafeBytes { raw in
            switch p.format {
            case .uint8: return raw.bindMemory(to: UInt8.self).prefix(n).map { Int32($0) }
            case .int8: return raw.bindMemory(to: Int8.self).prefix(n).map { Int32($0) }
            case .uint16: return raw.bindMemory(to: UInt16.self).prefix(n).map { Int32(UInt16(littleEndian: $0)) }
            case .int16: return raw.bindMemory(to: Int16.self).prefix(n).map { Int32(Int16(littleEndian: $0)) }
            }
        }
    }

    /// Writes `values`, clamped to the Bits Stored range, into the frame's samples.
    static func store(_ values: [Int32], into p: inout StoredPixels, bitsStored: Int) {
        let signed = p.format.isSigned
        let lo = signed ? -(Int32(1) << (bitsStored - 1)) : 0
        let hi = signed ? (Int32(1) << (bitsStored - 1)) - 1 : (Int32(1) << bitsStored) - 1
        let format = p.format
        p.bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                let c = min(max(v, lo), hi)
                switch format {
                case .uint8: raw.storeBytes(of: UInt8(c), toByteOffset: i, as: UInt8.self)
                case .int8: raw.storeBytes(of: Int8(c), toByteOffset: i, as: Int8.self)
                case .uint16: raw.storeBytes(of: UInt16(c).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case .int16: raw.storeBytes(of: Int16(c).littleEndian, toByteOffset: 2 * i, as: Int16.self)
                }
            }
        }
    }

    /// The review sheet (RGB): one row per changed region, its crop before and after the change
    /// side by side (8-pixel margin around the region, shrunk by a whole factor to at most 480
    /// pixels a side), separated by red bars, on dark blue. Display values come from the file's
    /// own window (`WindowChoice.dicom`, MONOCHROME1 inverted), the same for both crops.
    static func contactSheet(_ file: DICOMFile, changes: [(frame: Int, before: StoredPixels, after: [Int32], regions: [TextScrubber.Region])])
        throws -> (pixels: [UInt8], width: Int, height: Int) {
        let m = file.metadata
        let gap = 8, margin = 8, limit = 480
        var tiles: [(pixels: [UInt8], width: Int, height: Int)] = []
        for change in changes {
            let transform = try file.withPixels(frame: change.frame) { view in
                try DisplayTransform.make(metadata: m, pixels: view, choice: .dicom, invertMonochrome1: true, source: file.source)
            }
            let before = values(of: change.before)
            let w = change.before.width, h = change.before.height
            for r in change.regions {
                let x0 = max(0, r.x - margin), y0 = max(0, r.y - margin)
                let x1 = min(w, r.x + r.width + margin), y1 = min(h, r.y + r.height + margin)
                let step = max(1, (max(x1 - x0, y1 - y0) + limit - 1) / limit)
                let cw = (x1 - x0 + step - 1) / step, ch = (y1 - y0 + step - 1) / step
                let tw = 2 * cw + gap
                var tile = [UInt8](repeating: 0, count: tw * ch * 3)
                for ty in 0..<ch {
                    for t in 0..<tw {
                        let o = (ty * tw + t) * 3
                        if t >= cw && t < cw + gap { tile[o] = 200; continue }
                        let side = t < cw ? before : change.after
                        let sx = x0 + (t < cw ? t : t - cw - gap) * step, sy = y0 + ty * step
                        let d = transform.displayValue(stored: Int(side[sy * w + sx]))
                        let byte = d.isFinite ? UInt8((min(max(d, 0), 1) * 255).rounded()) : 0
                        tile[o] = byte; tile[o + 1] = byte; tile[o + 2] = byte
                    }
                }
                tiles.append((tile, tw, ch))
            }
        }
        let width = tiles.map(\.width).max() ?? 1
        let height = tiles.reduce(0) { $0 + $1.height } + gap * max(tiles.count - 1, 0)
        // Unused space is dark blue, so that it is not read as black image content.
        var sheet = [UInt8](repeating: 0, count: width * max(height, 1) * 3)
        for k in stride(from: 2, to: sheet.count, by: 3) { sheet[k] = 64 }
        var y = 0
        for (k, t) in tiles.enumerated() {
            if k > 0 {
                for yy in y..<(y + gap) { for x in 0..<width { sheet[(yy * width + x) * 3] = 200 } }
                y += gap
            }
            for ty in 0..<t.height {
                let src = ty * t.width * 3, dst = (y + ty) * width * 3
                sheet.replaceSubrange(dst..<(dst + t.width * 3), with: t.pixels[src..<(src + t.width * 3)])
            }
            y += t.height
        }
        return (sheet, width, max(height, 1))
    }
}

extension DeidentificationOptions {
    /// Burned-in text removal (nil: off, Pixel Data copied byte for byte).
    public var scrubText: TextScrubbing? {
        get { pixelEditor as? TextScrubbing }
        set { pixelEditor = newValue }
    }

    /// Turns text scrubbing on (default parameters, no review sheets) or off.
    public mutating func setScrubText(_ on: Bool) {
        if !on { scrubText = nil } else if scrubText == nil { scrubText = TextScrubbing() }
    }

    /// Sets the review directory of text scrubbing, which must be on; nil clears it.
    public mutating func setReviewDirectory(_ path: String?) throws {
        guard var s = scrubText else {
            if path == nil { return }
            throw VinDrError(.argument, "review directory: text scrubbing is off (turn it on first)")
        }
        s.reviewDirectory = path
        scrubText = s
    }
}
