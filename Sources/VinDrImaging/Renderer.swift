import Dispatch
import VinDrDICOM

/// Reusable scratch memory for renders: per-band row buffers, the last display table and the
/// decoded frame of the library's own lossless decoders (`FrameScratch`).
/// One workspace serves one render at a time (not thread-safe); reuse it across images to avoid
/// re-allocating buffers and rebuilding tables.
public final class RenderWorkspace: @unchecked Sendable {
    var rowScratch: [Float] = []
    let frames = FrameScratch()
    var tableKey: (DisplayTransform, SampleFormat, Int)?
    var table: [Float] = []

    public init() {}

    /// The display table of `t`, rebuilt only when the transform or sample layout changes.
    func displayTable(_ t: DisplayTransform, format: SampleFormat, bitsStored: Int) -> [Float] {
        let key = (t, format, bitsStored)
        if let k = tableKey, k.0 == key.0, k.1 == key.1, k.2 == key.2 { return table }
        table = t.table(format: format, bitsStored: bitsStored)
        tableKey = key
        return table
    }
}

/// DICOM -> display-ready pixels: decode (in full by default; at a reduced JPEG 2000 level or
/// scaled JPEG IDCT with `DecodeMode.fast` when the output is small enough), display transform through a per-value table, separable area/bilinear resampling,
/// letterbox or stretch, output as uint8, uint16 or float32.
public enum Renderer {
    /// The output geometry of rendering `metadata`'s image with `options` (no decoding); invalid
    /// options are a VinDrError (`RenderOptions.validate`).
    public static func geometry(of m: DICOMMetadata, options: RenderOptions) throws -> RenderGeometry {
        try options.validate()
        return try RenderGeometry.plan(sourceWidth: m.columns, sourceHeight: m.rows, size: options.size, aspect: options.aspect)
    }

    /// Renders into a new buffer of outputHeight rows of outputWidth samples.
    public static func render(_ file: DICOMFile, options: RenderOptions = RenderOptions(),
                              workspace: RenderWorkspace = RenderWorkspace()) throws -> (bytes: [UInt8], geometry: RenderGeometry) {
        let g = try geometry(of: file.metadata, options: options)
        let rowBytes = g.outputWidth * options.output.bytesPerSample  // at most 65535 x 4 (RenderGeometry.plan)
        guard let total = checkedProduct(rowBytes, g.outputHeight) else { throw VinDrError(.argument, "output of \(g.outputHeight) rows of \(rowBytes) bytes is too large") }
        // The output is part of the frame's decoding memory, within the decode budget.
        try checkDecodeBudget(total, what: "a rendered \(g.outputWidth)x\(g.outputHeight) image", source: file.source)
        try reserveMemory(total, what: "a rendered \(g.outputWidth)x\(g.outputHeight) image", source: file.source)
        // Not zeroed first: render(into:) writes every byte when it succeeds (padding rows, then
        // the content), and a header claiming 65535 x 65535 whose stream fails to decode leaves
        // the pages untouched instead of costing their memory.
        let bytes = try [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            try render(file, options: options, into: UnsafeMutableRawBufferPointer(buffer), rowStride: rowBytes, workspace: workspace)
            count = total
        }
        return (bytes, g)
    }

    /// Renders into caller memory: outputHeight rows, `rowStride` bytes apart, each of
    /// outputWidth samples of the output type. Nothing is written when an error is thrown.
    @discardableResult
    /// `inspect`, when given, sees the decoded pixels before they are rendered.
    public static func render(_ file: DICOMFile, options: RenderOptions, into buffer: UnsafeMutableRawBufferPointer,
                              rowStride: Int, workspace: RenderWorkspace = RenderWorkspace(),
                              inspect: ((PixelView) throws -> Void)? = nil) throws -> RenderGeometry {
        let m = file.metadata
        let g = try geometry(of: m, options: options)
        let rowBytes = g.outputWidth * options.output.bytesPerSample
        guard rowStride % options.output.bytesPerSample == 0,
              Int(bitPattern: buffer.baseAddress) % options.output.bytesPerSample == 0 else {
            throw VinDrError(.argument, "buffer and row stride must be aligned to the \(options.output.bytesPerSample)-byte output sample")
        }
        guard rowStride >= rowBytes else { throw VinDrError(.argument, "row stride \(rowStride) is less than a row's \(rowBytes) bytes") }
        // rowStride comes from the caller: its product with the row count may overflow.
        guard let span = checkedProduct(rowStride, g.outputHeight - 1), span <= buffer.count - rowBytes else {
            throw VinDrError(.argument, "buffer of \(buffer.count) bytes is too small for \(g.outputHeight) rows of stride \(rowStride)")
        }
        guard options.threads >= 1, options.threads <= 256 else { throw VinDrError(.argument, "threads \(options.threads) not in 1...256") }
        let cw = g.contentWidth, ch = g.contentHeight
        var reduction = 0
        let scalable = TransferSyntax.isJPEG2000(m.transferSyntaxUID) || (m.transferSyntaxUID == TransferSyntax.jpegBaseline && m.bitsAllocated == 8)
        // A data-driven window (min-max or percentiles of this image) must see the full image.
        let dataDriven: Bool
        switch options.window {
        case .auto, .percentile, .kaggle: dataDriven = true
        case .dicom: dataDriven = m.voiLUTs.isEmpty && m.windows.isEmpty
        default: dataDriven = false
        }
        if options.decode == .fast && scalable && !dataDriven {
            while reduction < 8 && ceilShift(m.columns, reduction + 1) >= cw && ceilShift(m.rows, reduction + 1) >= ch {
                reduction += 1
            }
        }
        try file.withPixels(frame: options.frame, maxReduction: reduction, threads: options.threads, scratch: workspace.frames) { pixels in
            try inspect?(pixels)
            let transform = try DisplayTransform.make(metadata: m, pixels: pixels, choice: options.window,
                                                      invertMonochrome1: options.invertMonochrome1,
                                                      adjustment: options.windowAdjustment, source: file.source)
            let table = workspace.displayTable(transform, format: pixels.format, bitsStored: m.bitsStored)
            let base = buffer.baseAddress!
            let writer = RowWriter(type: options.output)
            // Padding first (letterbox), then the content rectangle.
            if cw != g.outputWidth || ch != g.outputHeight {
                let pad: Float
                if case .letterbox(let p) = options.aspect { pad = Float(p) } else { pad = 0 }
                for y in 0..<g.outputHeight { writer.fill(base + y * rowStride, count: g.outputWidth, value: pad) }
            }
            let content = base + Int(g.offsetY) * rowStride + Int(g.offsetX) * options.output.bytesPerSample
            table.withUnsafeBufferPointer { lut in
                resample(pixels, lut: lut.baseAddress!, mask: (1 << m.bitsStored) - 1, into: content, rowStride: rowStride,
                         width: cw, height: ch,
                         grid: SourceGrid(reduction: pixels.reduction, sampleCentre: pixels.sampleCentre,
                                          sourceWidth: m.columns, sourceHeight: m.rows),
                         writer: writer, threads: options.threads, workspace: workspace)
            }
        }
        return g
    }

    /// ceil(n / 2^k).
    static func ceilShift(_ n: Int, _ k: Int) -> Int { (n + (1 << k) - 1) >> k }

    /// Table lookup of one source row into floats (`mask` keeps the Bits Stored bits).
    @inline(__always)
    static func lookupRow(_ src: UnsafeRawPointer, format: SampleFormat, count: Int, lut: UnsafePointer<Float>,
                          mask: Int, into dst: UnsafeMutablePointer<Float>) {
        if format.bytesPerSample == 1 {
            let s = src.assumingMemoryBound(to: UInt8.self)
            let m = UInt8(truncatingIfNeeded: mask)
            for i in 0..<count { dst[i] = lut[Int(s[i] & m)] }
        } else {
            let s = src.assumingMemoryBound(to: UInt16.self)
            let m = UInt16(truncatingIfNeeded: mask)
            for i in 0..<count { dst[i] = lut[Int(UInt16(littleEndian: s[i]) & m)] }
        }
    }

    static func resample(_ pixels: PixelView, lut: UnsafePointer<Float>, mask: Int, into out: UnsafeMutableRawPointer, rowStride: Int,
                         width ow: Int, height oh: Int, grid: SourceGrid, writer: RowWriter, threads: Int,
                         workspace: RenderWorkspace) {
        let (w, h, format) = (pixels.width, pixels.height, pixels.format)
        let srcBase = pixels.bytes.baseAddress!
        let srcRow = w * format.bytesPerSample
        let bands = min(threads, oh)
        if w == ow && h == oh && grid.reduction == 0 {
            // No resampling: table lookup straight to the output type.
            let rowScratchSize = w
            if workspace.rowScratch.count < rowScratchSize * bands { workspace.rowScratch = [Float](repeating: 0, count: rowScratchSize * bands) }
            workspace.rowScratch.withUnsafeMutableBufferPointer { scratch in
                let scratchBase = scratch.baseAddress!
                parallelBands(oh, bands) { band, rows in
                    let tmp = scratchBase + band * rowScratchSize
                    for y in rows {
                        lookupRow(srcBase + y * srcRow, format: format, count: w, lut: lut, mask: mask, into: tmp)
                        writer.write(tmp, count: w, to: out + y * rowStride)
                    }
                }
            }
            return
        }
        let r = Resampler(horizontal: grid.taps(input: w, output: ow, sourceCount: grid.sourceWidth),
                          vertical: grid.taps(input: h, output: oh, sourceCount: grid.sourceHeight))
        let perBand = r.scratchPerBand
        if workspace.rowScratch.count < perBand * bands { workspace.rowScratch = [Float](repeating: 0, count: perBand * bands) }
        workspace.rowScratch.withUnsafeMutableBufferPointer { scratch in
            let scratchBase = scratch.baseAddress!
            parallelBands(oh, bands) { band, rows in
                let cap = r.rowCapacity
                r.run(rows: rows, scratch: scratchBase + band * perBand, produce: { y, dst in
                    lookupRow(srcBase + y * srcRow, format: format, count: w, lut: lut, mask: mask, into: dst)
                    (dst + w).update(repeating: 0, count: cap - w)
                }, emit: { y, row in
                    writer.write(row, count: ow, to: out + y * rowStride)
                })
            }
        }
    }

    /// Splits 0..<n into `bands` contiguous ranges run concurrently (inline when one).
    static func parallelBands(_ n: Int, _ bands: Int, _ body: (Int, Range<Int>) -> Void) {
        if bands <= 1 {
            body(0, 0..<n)
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: bands) { b in
                body(b, (n * b / bands)..<(n * (b + 1) / bands))
            }
        }
    }
}

/// Where the decoded samples sit on the full-resolution source grid. A frame decoded 2^r times
/// smaller has its sample 0 centred at source coordinate c (`StoredPixels.sampleCentre`): the
/// JPEG 2000 low band (ISO 15444-1 F.3.8) is centred on source pixel 2^r * i (c = 0.5), a
/// JPEG scaled IDCT on the middle of its block (c = 2^r / 2). Source coordinate X then lies at
/// decoded coordinate (X - c) / 2^r + 0.5.
struct SourceGrid {
    let reduction: Int
    let sampleCentre: Double
    let sourceWidth: Int
    let sourceHeight: Int

    func taps(input: Int, output: Int, sourceCount: Int) -> AxisTaps {
        guard reduction > 0 else { return AxisTaps(input: input, output: output) }
        let f = Double(1 << reduction)
        return AxisTaps(input: input, output: output, scale: Double(sourceCount) / Double(output) / f,
                        offset: 0.5 - sampleCentre / f)
    }
}

/// Converts display values in [0, 1] to the output type, rounding to nearest (ties to even).
/// Values are in range by construction; the min/max only absorbs float rounding at the ends.
/// Rounding uses the float adder: for 0 <= x < 2^23, the low mantissa bits of x + 2^23 are the
/// integer nearest x, which avoids a checked float-to-integer conversion per pixel.
struct RowWriter {
    let type: OutputType

    @inline(__always)
    func write(_ v: UnsafePointer<Float>, count: Int, to dst: UnsafeMutableRawPointer) {
        let magic: Float = 8_388_608  // 2^23
        switch type {
        case .uint8:
            let d = dst.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count {
                let x = min(max(v[i], 0), 1) * 255 + magic
                d[i] = UInt8(truncatingIfNeeded: x.bitPattern)
            }
        case .uint16:
            let d = dst.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count {
                let x = min(max(v[i], 0), 1) * 65535 + magic
                d[i] = UInt16(truncatingIfNeeded: x.bitPattern)
            }
        case .float32:
            dst.assumingMemoryBound(to: Float.self).update(from: v, count: count)
        }
    }

    func fill(_ dst: UnsafeMutableRawPointer, count: Int, value: Float) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { tmp in
            tmp.initialize(repeating: value)
            write(tmp.baseAddress!, count: count, to: dst)
        }
    }
}
