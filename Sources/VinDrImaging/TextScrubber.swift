import VinDrDICOM

/// Burned-in text removal from a monochrome frame of stored values.
///
/// The VinDr-CXR paper (section "Data de-identification") describes "a simple algorithm ... to
/// automatically remove textual information appearing on the image data", followed by manual
/// verification. This is such an algorithm; the review contact sheet (`TextScrubbing`) is the
/// input to the manual step. It is deterministic: the same values and parameters give the same
/// output, mask and regions.
///
/// Algorithm, per polarity (bright text and dark text are found separately, so the background
/// between bright strokes never counts as dark text):
/// 1. Contrast: the morphological top-hat with a square of side `2 * maxStrokeWidth + 1`, i.e. the
///    value minus its opening (bright strokes) or the closing minus the value (dark strokes).
///    Strokes narrower than the square stand out; step edges (collimators), smooth gradients and
///    structures wider than the square (ribs, lungs, saturated areas) give about zero. (The
///    background enclosed by strokes of the other polarity stands out too: see step 4.)
/// 2. Thresholds from the frame: the noise level sigma is the median absolute difference of
///    horizontal neighbours (scaled to a Gaussian's sigma); seeds have contrast >= max(
///    `seedContrast` * sigma, `seedFraction` * the frame's value range), and glyphs grow (step 3)
///    into pixels of contrast >= max(`growContrast` * sigma, `growFraction` * seed threshold)
///    (hysteresis: anti-aliased glyph edges join their glyph).
/// 3. Glyphs: components of seed-level pixels with height in `minGlyphHeight...maxGlyphHeight`,
///    width at most `maxWordAspect` heights, mean stroke width (2 * area / boundary pixels) at
///    most `maxStrokeWidth + 1`, sharp edges (`minSharpness`) and few outside neighbours that
///    continue them (`maxAttachment`: not the tip of a larger area), whose value stands out from
///    the plain background around them (not the gaps between strokes of the other polarity).
///    Each then grows by up to `fringe` 4-neighbour steps into pixels above the growth
///    threshold (anti-aliased edges).
/// 4. Lines: glyphs that overlap vertically by half the smaller height and lie within
///    `lineGap` heights horizontally are one text line. A line of two or more glyphs is text; a
///    lone glyph is text (an L/R marker) when it is at least `3 * minGlyphHeight` tall. Smaller
///    or flatter components (less than `minGlyphHeight` tall: dots, commas, hyphens, dashes) are
///    text when they touch a text line's box grown by half its height.
///    Steps 1-4 then run again for each polarity on the frame with all text found filled (step
///    6) and that polarity's components put back: the background enclosed by strokes of the
///    other polarity (the gaps of a dark text line, a shutter strip between dark text and the
///    frame's edge) no longer stands out, and true strokes keep their contrast.
/// 5. Mask: the text components grow by up to `dilation` 4-neighbour steps (anti-aliased edges
///    too faint for the growth threshold) into pixels no more than `ringTolerance` sigmas beyond
///    the background estimate (the fill of the components dilated by a square of radius
///    `dilation`) on the side away from the text. Diagonal corners, and plain background whose
///    noise lies on that side (about half of it), keep their values.
/// 6. Fill: masked pixels are filled from the outside in, layer by layer, each with the mean of
///    its already known 8-neighbours (the values known before the layer), so a stroke takes the
///    surrounding background, gradients included. A masked pixel within `keepTolerance` noise
///    sigmas of its fill keeps its value: by value it cannot be told from the background it would
///    be replaced by (mostly plain background around a glyph whose noise lies on the text's side).
public enum TextScrubber {
    /// Detector parameters, in pixels of the frame and multiples of its noise level.
    public struct Parameters: Sendable, Equatable {
        /// Widest glyph stroke removed; the top-hat square is 2 * maxStrokeWidth + 1.
        public var maxStrokeWidth = 16
        public var minGlyphHeight = 5
        public var maxGlyphHeight = 200
        /// Seed threshold in noise sigmas.
        public var seedContrast = 10.0
        /// Seed threshold as a fraction of the frame's max - min.
        public var seedFraction = 0.1
        /// Growth threshold in noise sigmas.
        public var growContrast = 4.0
        /// Growth threshold as a fraction of the seed threshold.
        public var growFraction = 0.25
        /// Largest horizontal gap between glyphs of one line, in glyph heights.
        public var lineGap = 1.5
        /// Widest component (touching glyphs of a word), in heights.
        public var maxWordAspect = 8.0
        /// Least edge sharpness of a glyph: the 90th percentile of its pixels' steepest step to a
        /// 4-neighbour, over the 90th percentile of its contrast. Rendered glyphs drop from full
        /// contrast to background within a pixel or two; anatomy (ribs, vessels) falls off slowly.
        public var minSharpness = 0.3
        /// Largest fraction of a glyph's outside neighbours that continue it (value within a
        /// quarter of its contrast): rejects tips and corners of larger bright or dark areas.
        public var maxAttachment = 0.1
        /// 4-neighbour steps a glyph grows from its core into pixels above the growth threshold.
        public var fringe = 1
        /// 4-neighbour steps the mask grows from the glyphs into their anti-aliased edge.
        public var dilation = 1
        /// Largest distance, in noise sigmas, beyond the background estimate on the side away from
        /// the text of a pixel the mask grows into.
        public var ringTolerance = 0.0
        /// Largest distance, in noise sigmas, between a masked pixel and its fill at which the
        /// pixel keeps its value (step 6).
        public var keepTolerance = 2.0

        public init() {}

        public func validate() throws {
            guard maxStrokeWidth >= 1, maxStrokeWidth <= 256 else { throw VinDrError(.argument, "maxStrokeWidth \(maxStrokeWidth) not in 1...256") }
            guard minGlyphHeight >= 1, maxGlyphHeight >= minGlyphHeight else {
                throw VinDrError(.argument, "glyph heights \(minGlyphHeight)...\(maxGlyphHeight) are not a range of positive heights")
            }
            for (name, v) in [("seedContrast", seedContrast), ("seedFraction", seedFraction), ("growContrast", growContrast),
                              ("growFraction", growFraction), ("lineGap", lineGap), ("maxWordAspect", maxWordAspect), ("minSharpness", minSharpness), ("maxAttachment", maxAttachment),
                              ("ringTolerance", ringTolerance), ("keepTolerance", keepTolerance)] {
                guard v.isFinite, v >= 0 else { throw VinDrError(.argument, "\(name) must be finite and non-negative, got \(v)") }
            }
            guard fringe >= 0, fringe <= 16 else { throw VinDrError(.argument, "fringe \(fringe) not in 0...16") }
            guard dilation >= 0, dilation <= 16 else { throw VinDrError(.argument, "dilation \(dilation) not in 0...16") }
        }
    }

    /// A bounding box of removed text (a line or a marker), in frame pixels.
    public struct Region: Sendable, Equatable, Codable {
        public var x: Int
        public var y: Int
        public var width: Int
        public var height: Int
    }

    public struct Result: Sendable {
        /// The frame after filling (equal to the input where `mask` is 0).
        public var values: [Int32]
        /// 1 where a pixel was classified as text (dilated), else 0; row-major.
        public var mask: [UInt8]
        /// Text lines and markers found (merged boxes of the mask), top to bottom.
        public var regions: [Region]
        /// Masked pixels.
        public var masked: Int
        /// Pixels whose value changed.
        public var changed: Int
    }

    /// Finds and removes text in `values` (width * height stored values, row-major).
    public static func scrub(_ values: [Int32], width: Int, height: Int, parameters p: Parameters = Parameters()) throws -> Result {
        try p.validate()
        guard width >= 1, height >= 1, let n = checkedProduct(width, height), values.count == n else {
            throw VinDrError(.argument, "\(values.count) values do not make a \(width)x\(height) frame")
        }
        var lo = Int32.max, hi = Int32.min
        for v in values { lo = min(lo, v); hi = max(hi, v) }
        let sigma = noiseSigma(values, width: width, height: height)
        let range = Double(hi) - Double(lo)
        let seed = max(p.seedContrast * sigma, p.seedFraction * range, 1)
        let grow = max(p.growContrast * sigma, p.growFraction * seed, 1)
        let r = p.maxStrokeWidth
        var mask = [UInt8](repeating: 0, count: n)  // 1: bright text, 2: dark text
        if range > 0 {
            let bright = topHat(values, width, height, r, bright: true), dark = topHat(values, width, height, r, bright: false)
            var first = [UInt8](repeating: 0, count: n)
            markText(bright, other: dark, values, width, height, seed: seed, grow: grow, p: p, polarity: 1, into: &first)
            markText(dark, other: bright, values, width, height, seed: seed, grow: grow, p: p, polarity: 2, into: &first)
            // Each polarity again, its components put back on the frame with all text found
            // filled: the background enclosed by strokes of the other polarity then no longer
            // stands out, and its own strokes keep their contrast.
            var background = values
            fill(&background, mask: first, width, height)
            for (polarity, other) in [(UInt8(1), UInt8(2)), (2, 1)] {
                guard first.contains(where: { $0 & other != 0 }) else {
                    for i in 0..<n { mask[i] |= first[i] & polarity }
                    continue
                }
                var v = background
                for i in 0..<n where first[i] & polarity != 0 { v[i] = values[i] }
                let c = topHat(v, width, height, r, bright: polarity == 1)
                markText(c, other: polarity == 1 ? dark : bright, v, width, height, seed: seed, grow: grow, p: p, polarity: polarity, into: &mask)
            }
        }
        if p.dilation > 0 { growRing(&mask, values, width, height, steps: p.dilation, tolerance: p.ringTolerance * sigma) }
        for i in 0..<n where mask[i] != 0 { mask[i] = 1 }
        var out = values
        fill(&out, mask: mask, width, height)
        let keep = p.keepTolerance * sigma
        for i in 0..<n where mask[i] != 0 && abs(Double(out[i]) - Double(values[i])) <= keep { out[i] = values[i] }
        var masked = 0, changed = 0
        for i in 0..<n {
            if mask[i] != 0 { masked += 1 }
            if out[i] != values[i] { changed += 1 }
        }
        let regions = masked > 0 ? mergedBoxes(mask, width, height, margin: p.maxStrokeWidth) : []
        return Result(values: out, mask: mask, regions: regions, masked: masked, changed: changed)
    }

    /// Scrubs a caller's buffer of unsigned 16-bit samples in place: `height` rows `rowStride`
    /// bytes apart, each of `width` samples; writes the mask (1 = text) into `mask` rows
    /// `maskStride` bytes apart when given. Returns the result (values and mask copies included).
    public static func scrub(uint16 buffer: UnsafeMutableRawBufferPointer, width: Int, height: Int, rowStride: Int,
                             mask maskBuffer: UnsafeMutableRawBufferPointer?, maskStride: Int,
                             parameters: Parameters = Parameters()) throws -> Result {
        guard width >= 1, height >= 1 else { throw VinDrError(.argument, "width and height must be positive, got \(width)x\(height)") }
        try checkRows(buffer, width: width, height: height, stride: rowStride, bytesPerSample: 2, name: "pixels")
        if let maskBuffer { try checkRows(maskBuffer, width: width, height: height, stride: maskStride, bytesPerSample: 1, name: "mask") }
        guard let base = buffer.baseAddress else { throw VinDrError(.argument, "pixels: null buffer") }
        var values = [Int32](repeating: 0, count: width * height)
        for y in 0..<height {
            let row = (base + y * rowStride).assumingMemoryBound(to: UInt16.self)
            for x in 0..<width { values[y * width + x] = Int32(row[x]) }
        }
        let result = try scrub(values, width: width, height: height, parameters: parameters)
        for y in 0..<height {
            let row = (base + y * rowStride).assumingMemoryBound(to: UInt16.self)
            for x in 0..<width { row[x] = UInt16(clamping: result.values[y * width + x]) }
        }
        if let m = maskBuffer?.baseAddress {
            for y in 0..<height {
                let row = (m + y * maskStride).assumingMemoryBound(to: UInt8.self)
                for x in 0..<width { row[x] = result.mask[y * width + x] }
            }
        }
        return result
    }

    static func checkRows(_ b: UnsafeMutableRawBufferPointer, width: Int, height: Int, stride: Int, bytesPerSample: Int, name: String) throws {
        guard let rowBytes = checkedProduct(width, bytesPerSample), stride >= rowBytes else {
            throw VinDrError(.argument, "\(name): row stride \(stride) is less than a row of \(width) samples")
        }
        guard stride % bytesPerSample == 0, Int(bitPattern: b.baseAddress) % bytesPerSample == 0 else {
            throw VinDrError(.argument, "\(name): buffer and row stride must be aligned to \(bytesPerSample) bytes")
        }
        guard let span = checkedProduct(stride, height - 1), span <= Int.max - rowBytes, b.count >= span + rowBytes else {
            throw VinDrError(.bufferTooSmall, "\(name): buffer of \(b.count) bytes is too small for \(height) rows of stride \(stride)")
        }
    }

    // MARK: - Steps

    /// Gaussian sigma of the noise: 1.4826 * median |v(x+1) - v(x)| / sqrt(2), from up to 1M
    /// horizontal differences sampled on a fixed grid of rows.
    static func noiseSigma(_ v: [Int32], width: Int, height: Int) -> Double {
        guard width >= 2 else { return 0 }
        let rowStep = max(1, (height * (width - 1)) / 1_000_000)
        var d: [Int32] = []
        d.reserveCapacity(min(height * (width - 1), 1_100_000))
        var y = 0
        while y < height {
            let o = y * width
            for x in 0..<(width - 1) { d.append(abs(v[o + x + 1] &- v[o + x])) }
            y += rowStep
        }
        guard !d.isEmpty else { return 0 }
        d.sort()
        return 1.4826 * Double(d[d.count / 2]) / 2.0.squareRoot()
    }

    /// Minimum (`takeMin`) or maximum over a window of 2r + 1 samples clipped to the line, for
    /// `count` lines of `length` samples at `start + line * lineStep + k * step` (a monotonic queue).
    static func slide(_ src: [Int32], _ dst: inout [Int32], lines: Int, length: Int, lineStep: Int, step: Int, r: Int, takeMin: Bool) {
        var queue = [Int](repeating: 0, count: length)
        for line in 0..<lines {
            let base = line * lineStep
            var head = 0, tail = 0  // queue[head..<tail] holds indices k with monotonic values
            var next = 0            // next index to enter
            for k in 0..<length {
                let last = min(length - 1, k + r)
                while next <= last {
                    let v = src[base + next * step]
                    while tail > head {
                        let w = src[base + queue[tail - 1] * step]
                        if takeMin ? w >= v : w <= v { tail -= 1 } else { break }
                    }
                    queue[tail] = next
                    tail += 1
                    next += 1
                }
                while queue[head] < k - r { head += 1 }
                dst[base + k * step] = src[base + queue[head] * step]
            }
        }
    }

    /// Step 1: value - opening (bright strokes) or closing - value (dark strokes).
    static func topHat(_ v: [Int32], _ w: Int, _ h: Int, _ r: Int, bright: Bool) -> [Int32] {
        if bright {
            let opened = dilate(erode(v, w, h, r), w, h, r)
            return zip(v, opened).map { $0 &- $1 }
        }
        let closed = erode(dilate(v, w, h, r), w, h, r)
        return zip(closed, v).map { $0 &- $1 }
    }

    static func erode(_ v: [Int32], _ w: Int, _ h: Int, _ r: Int) -> [Int32] { filter(v, w, h, r, takeMin: true) }
    static func dilate(_ v: [Int32], _ w: Int, _ h: Int, _ r: Int) -> [Int32] { filter(v, w, h, r, takeMin: false) }

    /// Separable min or max over a (2r + 1)^2 square clipped to the frame.
    static func filter(_ v: [Int32], _ w: Int, _ h: Int, _ r: Int, takeMin: Bool) -> [Int32] {
        var rows = v
        slide(v, &rows, lines: h, length: w, lineStep: w, step: 1, r: r, takeMin: takeMin)
        var out = rows
        slide(rows, &out, lines: w, length: h, lineStep: 1, step: w, r: r, takeMin: takeMin)
        return out
    }

    struct Component {
        var minX = Int.max, minY = Int.max, maxX = Int.min, maxY = Int.min
        var area = 0, boundary = 0
        var seeded = false
        var pixels: [Int] = []
        var width: Int { maxX - minX + 1 }
        var height: Int { maxY - minY + 1 }
    }

    /// Steps 2-4 for one polarity: sets the bit `polarity` of `mask` on the pixels of text components.
    static func markText(_ c: [Int32], other: [Int32], _ v: [Int32], _ w: Int, _ h: Int, seed: Double, grow: Double, p: Parameters,
                         polarity: UInt8, into mask: inout [UInt8]) {
        let n = w * h
        let growT = Int32(min(Double(Int32.max), grow.rounded(.up)))
        let seedT = Int32(min(Double(Int32.max), seed.rounded(.up)))
        var label = [Int32](repeating: -1, count: n)
        var components: [Component] = []
        var stack: [Int] = []
        // Components of the seed-level pixels: glyph cores, kept apart from fainter anatomy.
        for start in 0..<n where c[start] >= seedT && label[start] < 0 {
            var comp = Component()
            comp.seeded = true
            let id = Int32(components.count)
            label[start] = id
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                comp.pixels.append(i)
                comp.area += 1
                comp.minX = min(comp.minX, x); comp.maxX = max(comp.maxX, x)
                comp.minY = min(comp.minY, y); comp.maxY = max(comp.maxY, y)
                var edge = false
                for dy in -1...1 {
                    let yy = y + dy
                    guard yy >= 0, yy < h else { edge = true; continue }
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let xx = x + dx
                        guard xx >= 0, xx < w else { edge = true; continue }
                        let j = yy * w + xx
                        if c[j] >= seedT {
                            if label[j] < 0 { label[j] = id; stack.append(j) }
                        } else if dx == 0 || dy == 0 {
                            edge = true
                        }
                    }
                }
                if edge { comp.boundary += 1 }
            }
            components.append(comp)
        }
        // Step 3: glyphs and small marks.
        var glyphs: [Int] = [], small: [Int] = []
        for (k, comp) in components.enumerated() where comp.seeded {
            let gh = comp.height, gw = comp.width
            guard attachment(comp, Int32(k), label, c, v, w, h) <= p.maxAttachment else { continue }
            guard standsOut(comp, c, other, v, w, h, growT: growT) else { continue }
            if gh < p.minGlyphHeight {
                if sharpness(comp, c, v, w, h) >= p.minSharpness { small.append(k) }
                continue
            }
            guard gh <= p.maxGlyphHeight, Double(gw) <= p.maxWordAspect * Double(gh) else { continue }
            let stroke = 2.0 * Double(comp.area) / Double(max(comp.boundary, 1))
            guard stroke <= Double(p.maxStrokeWidth + 1) else { continue }
            guard sharpness(comp, c, v, w, h) >= p.minSharpness else { continue }
            glyphs.append(k)
        }
        // Step 4: lines (union-find over glyph pairs, glyphs sorted by left edge).
        glyphs.sort { (components[$0].minX, components[$0].minY, $0) < (components[$1].minX, components[$1].minY, $1) }
        var parent = Array(0..<glyphs.count)
        func root(_ a: Int) -> Int {
            var a = a
            while parent[a] != a { parent[a] = parent[parent[a]]; a = parent[a] }
            return a
        }
        let tallest = glyphs.map { components[$0].height }.max() ?? 0
        for a in 0..<glyphs.count {
            let ca = components[glyphs[a]]
            var b = a + 1
            while b < glyphs.count {
                let cb = components[glyphs[b]]
                // Sorted by minX: no later glyph can be closer than this one's left edge.
                if Double(cb.minX - ca.maxX) > p.lineGap * Double(tallest) { break }
                let overlap = min(ca.maxY, cb.maxY) - max(ca.minY, cb.minY) + 1
                let gap = max(cb.minX - ca.maxX - 1, 0)
                if 2 * overlap >= min(ca.height, cb.height), Double(gap) <= p.lineGap * Double(max(ca.height, cb.height)) {
                    let ra = root(a), rb = root(b)
                    if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
                }
                b += 1
            }
        }
        var members = [Int](repeating: 0, count: glyphs.count)
        for a in 0..<glyphs.count { members[root(a)] += 1 }
        var lineBoxes: [Int: (Int, Int, Int, Int, Int)] = [:]  // root -> minX, minY, maxX, maxY, max height
        var accepted: [Int] = []
        for a in 0..<glyphs.count {
            let comp = components[glyphs[a]]
            let ra = root(a)
            guard members[ra] >= 2 || comp.height >= 3 * p.minGlyphHeight else { continue }
            accepted.append(glyphs[a])
            let box = lineBoxes[ra] ?? (Int.max, Int.max, Int.min, Int.min, 0)
            lineBoxes[ra] = (min(box.0, comp.minX), min(box.1, comp.minY), max(box.2, comp.maxX), max(box.3, comp.maxY), max(box.4, comp.height))
        }
        let boxes = lineBoxes.keys.sorted().map { lineBoxes[$0]! }
        for k in small {
            let s = components[k]
            for b in boxes {
                let m = (b.4 + 1) / 2
                if s.maxX >= b.0 - m, s.minX <= b.2 + m, s.maxY >= b.1 - m, s.minY <= b.3 + m { accepted.append(k); break }
            }
        }
        // Fringe: pixels of contrast >= the growth threshold within `fringe` 4-neighbour steps of a core.
        var frontier: [Int] = []
        var local = [UInt8](repeating: 0, count: n)
        for k in accepted { for i in components[k].pixels { local[i] = 1; frontier.append(i) } }
        for _ in 0..<p.fringe {
            var next: [Int] = []
            for i in frontier {
                let x = i % w, y = i / w
                for (ok, j) in [(x > 0, i - 1), (x + 1 < w, i + 1), (y > 0, i - w), (y + 1 < h, i + w)] where ok {
                    if local[j] == 0 && c[j] >= growT { local[j] = 1; next.append(j) }
                }
            }
            frontier = next
        }
        for i in 0..<n where local[i] != 0 { mask[i] |= polarity }
    }

    /// The fraction of the component's outside 4-neighbours that lie beyond its bounding box and
    /// whose value is within a quarter of the contrast of the pixel they touch: high where the component is the thin tip of a larger
    /// structure (a corner of a saturated area) rather than a stroke on its background.
    static func attachment(_ comp: Component, _ id: Int32, _ label: [Int32], _ c: [Int32], _ v: [Int32], _ w: Int, _ h: Int) -> Double {
        var outside = 0, attached = 0
        for i in comp.pixels {
            let x = i % w, y = i / w
            for (ok, j) in [(x > 0, i - 1), (x + 1 < w, i + 1), (y > 0, i - w), (y + 1 < h, i + w)] where ok && label[j] != id {
                outside += 1
                // Only across the bounding box: thick joins inside a large glyph (whose contrast
                // the top-hat underrates) are not attachments.
                let jx = j % w, jy = j / w
                let across = jx < comp.minX || jx > comp.maxX || jy < comp.minY || jy > comp.maxY
                if across && 4 * Int(abs(v[j] &- v[i])) < Int(c[i]) { attached += 1 }
            }
        }
        return outside > 0 ? Double(attached) / Double(outside) : 0
    }

    /// Whether the component's median value differs from the median of the plain background
    /// around its bounding box (a 3-pixel ring 2 pixels out, without pixels above the growth
    /// threshold of either polarity) by at least half its median contrast. The background
    /// enclosed by strokes of the other polarity (the gaps of a dark text line look like bright
    /// strokes to the top-hat) has about the background's value and is not text.
    static func standsOut(_ comp: Component, _ c: [Int32], _ other: [Int32], _ v: [Int32], _ w: Int, _ h: Int, growT: Int32) -> Bool {
        var ring: [Int32] = []
        let x0 = max(0, comp.minX - 4), x1 = min(w - 1, comp.maxX + 4), y0 = max(0, comp.minY - 4), y1 = min(h - 1, comp.maxY + 4)
        for y in y0...y1 {
            for x in x0...x1 {
                let inner = x >= comp.minX - 1 && x <= comp.maxX + 1 && y >= comp.minY - 1 && y <= comp.maxY + 1
                let i = y * w + x
                if !inner && c[i] < growT && other[i] < growT { ring.append(v[i]) }
            }
        }
        guard ring.count >= 8 else { return true }
        var own = comp.pixels.map { v[$0] }, contrast = comp.pixels.map { c[$0] }
        ring.sort(); own.sort(); contrast.sort()
        let difference = abs(Int(own[own.count / 2]) - Int(ring[ring.count / 2]))
        return 2 * difference >= Int(contrast[contrast.count / 2])
    }

    /// p90 of the steepest 4-neighbour step of the component's pixels over its p90 contrast.
    static func sharpness(_ comp: Component, _ c: [Int32], _ v: [Int32], _ w: Int, _ h: Int) -> Double {
        var steps: [Int32] = [], contrasts: [Int32] = []
        steps.reserveCapacity(comp.pixels.count)
        contrasts.reserveCapacity(comp.pixels.count)
        for i in comp.pixels {
            let x = i % w, y = i / w
            var s: Int32 = 0
            if x > 0 { s = max(s, abs(v[i] &- v[i - 1])) }
            if x + 1 < w { s = max(s, abs(v[i] &- v[i + 1])) }
            if y > 0 { s = max(s, abs(v[i] &- v[i - w])) }
            if y + 1 < h { s = max(s, abs(v[i] &- v[i + w])) }
            steps.append(s)
            contrasts.append(c[i])
        }
        steps.sort()
        contrasts.sort()
        let k = (9 * steps.count) / 10
        let top = contrasts[min(k, contrasts.count - 1)]
        return top > 0 ? Double(steps[min(k, steps.count - 1)]) / Double(top) : 0
    }

    /// Step 5: grows the polarity mask (1 bright, 2 dark) by `steps` 4-neighbour steps into
    /// pixels whose value is at most `tolerance` beyond the background estimate on the side away
    /// from the text. The estimate is the fill of the mask dilated by a square of radius `steps`.
    static func growRing(_ mask: inout [UInt8], _ v: [Int32], _ w: Int, _ h: Int, steps: Int, tolerance: Double) {
        let wide = filter(mask.map { Int32($0 != 0 ? 1 : 0) }, w, h, steps, takeMin: false)
        var background = v
        fill(&background, mask: wide.map { UInt8($0) }, w, h)
        var frontier: [Int] = []
        for i in 0..<(w * h) where mask[i] != 0 { frontier.append(i) }
        var added = [Int](repeating: -1, count: w * h)  // the step that last added the pixel
        for step in 0..<steps {
            var next: [Int] = []
            for i in frontier {
                let x = i % w, y = i / w
                for (ok, j) in [(x > 0, i - 1), (x + 1 < w, i + 1), (y > 0, i - w), (y + 1 < h, i + w)] where ok {
                    // The offset from the background estimate, positive toward bright text.
                    let offset = Double(v[j]) - Double(background[j])
                    for polarity: UInt8 in [1, 2] where mask[i] & polarity != 0 && mask[j] & polarity == 0 {
                        guard (polarity == 1 ? offset : -offset) >= -tolerance else { continue }
                        mask[j] |= polarity
                        if added[j] != step { added[j] = step; next.append(j) }
                    }
                }
            }
            frontier = next
        }
    }

    /// Step 6: onion-peel fill of the masked pixels from their known 8-neighbours.
    static func fill(_ v: inout [Int32], mask: [UInt8], _ w: Int, _ h: Int) {
        var known = mask.map { $0 == 0 }
        var pending: [Int] = []
        for i in 0..<(w * h) where mask[i] != 0 { pending.append(i) }
        guard pending.count < w * h else { return }  // nothing known to fill from
        var layer: [(Int, Int32)] = []
        while !pending.isEmpty {
            layer.removeAll(keepingCapacity: true)
            var rest: [Int] = []
            for i in pending {
                let x = i % w, y = i / w
                var sum = 0, count = 0
                for dy in -1...1 {
                    let yy = y + dy
                    guard yy >= 0, yy < h else { continue }
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let xx = x + dx
                        guard xx >= 0, xx < w, known[yy * w + xx] else { continue }
                        sum += Int(v[yy * w + xx])
                        count += 1
                    }
                }
                if count > 0 {
                    // Rounded mean, halves away from zero.
                    let mean = sum >= 0 ? (2 * sum + count) / (2 * count) : -((-2 * sum + count) / (2 * count))
                    layer.append((i, Int32(mean)))
                } else {
                    rest.append(i)
                }
            }
            for (i, value) in layer { v[i] = value; known[i] = true }
            pending = rest
        }
    }

    /// Bounding boxes of the mask's 8-connected components, merged while boxes grown by `margin`
    /// intersect; sorted top to bottom, then left to right.
    static func mergedBoxes(_ mask: [UInt8], _ w: Int, _ h: Int, margin: Int) -> [Region] {
        var seen = [Bool](repeating: false, count: w * h)
        var boxes: [(Int, Int, Int, Int)] = []
        var stack: [Int] = []
        for start in 0..<(w * h) where mask[start] != 0 && !seen[start] {
            var b = (Int.max, Int.max, Int.min, Int.min)
            seen[start] = true
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                b = (min(b.0, x), min(b.1, y), max(b.2, x), max(b.3, y))
                for dy in -1...1 {
                    let yy = y + dy
                    guard yy >= 0, yy < h else { continue }
                    for dx in -1...1 {
                        let xx = x + dx
                        guard xx >= 0, xx < w else { continue }
                        let j = yy * w + xx
                        if mask[j] != 0 && !seen[j] { seen[j] = true; stack.append(j) }
                    }
                }
            }
            boxes.append(b)
        }
        var merged = true
        while merged {
            merged = false
            var out: [(Int, Int, Int, Int)] = []
            for b in boxes {
                if let k = out.firstIndex(where: { o in
                    b.0 - margin <= o.2 && o.0 - margin <= b.2 && b.1 - margin <= o.3 && o.1 - margin <= b.3
                }) {
                    let o = out[k]
                    out[k] = (min(o.0, b.0), min(o.1, b.1), max(o.2, b.2), max(o.3, b.3))
                    merged = true
                } else {
                    out.append(b)
                }
            }
            boxes = out
        }
        return boxes.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map { Region(x: $0.0, y: $0.1, width: $0.2 - $0.0 + 1, height: $0.3 - $0.1 + 1) }
    }
}
