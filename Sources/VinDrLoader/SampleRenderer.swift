import VinDrDICOM
import VinDrImaging

/// Renders one DICOM into a batch slot in the loader's dtype, channel count and layout.
struct SampleRenderer {
    let options: LoaderOptions
    let workspace: RenderWorkspace

    func render(_ path: String, into slot: UnsafeMutableRawPointer, flip: Bool) throws -> RenderGeometry {
        let o = options
        let file = try DICOMFile(path: path)
        let plane = o.height * o.width
        let direct = o.dtype != .float16 && (o.channels == 1 || o.layout == .nchw)
        var ro = RenderOptions(size: .exact(height: o.height, width: o.width),
                               aspect: o.letterbox ? .letterbox(pad: o.pad) : .stretch, window: o.window,
                               output: o.dtype == .uint8 ? .uint8 : .float32)
        ro.threads = 1
        let g: RenderGeometry
        if direct {
            // Channel 0 is rendered in place; further NCHW planes are copies of it.
            let bytes = plane * o.dtype.bytesPerSample
            g = try Renderer.render(file, options: ro, into: UnsafeMutableRawBufferPointer(start: slot, count: bytes),
                                    rowStride: o.width * o.dtype.bytesPerSample, workspace: workspace)
            if flip { mirror(slot, rows: o.height, width: o.width, bytesPerSample: o.dtype.bytesPerSample) }
            for c in 1..<max(o.channels, 1) { (slot + c * bytes).copyMemory(from: slot, byteCount: bytes) }
            return g
        }
        // float16 and/or interleaved channels: render to float32 (or uint8) scratch, then convert.
        let scratchBytes = plane * ro.output.bytesPerSample
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: scratchBytes, alignment: 16)
        defer { scratch.deallocate() }
        g = try Renderer.render(file, options: ro, into: scratch, rowStride: o.width * ro.output.bytesPerSample, workspace: workspace)
        if flip { mirror(scratch.baseAddress!, rows: o.height, width: o.width, bytesPerSample: ro.output.bytesPerSample) }
        let (pixelStride, planeStride) = o.layout == .nhwc ? (o.channels, 1) : (1, plane)
        for c in 0..<o.channels {
            switch o.dtype {
            case .float16:
                let src = scratch.baseAddress!.assumingMemoryBound(to: Float.self)
                let dst = slot.assumingMemoryBound(to: Float16.self) + c * planeStride
                for i in 0..<plane { dst[i * pixelStride] = Float16(src[i]) }
            case .float32:
                let src = scratch.baseAddress!.assumingMemoryBound(to: Float.self)
                let dst = slot.assumingMemoryBound(to: Float.self) + c * planeStride
                for i in 0..<plane { dst[i * pixelStride] = src[i] }
            case .uint8:
                let src = scratch.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let dst = slot.assumingMemoryBound(to: UInt8.self) + c * planeStride
                for i in 0..<plane { dst[i * pixelStride] = src[i] }
            }
        }
        return g
    }

    /// Mirrors each row in place (horizontal flip).
    private func mirror(_ p: UnsafeMutableRawPointer, rows: Int, width: Int, bytesPerSample: Int) {
        for y in 0..<rows {
            let row = p + y * width * bytesPerSample
            var a = 0, b = width - 1
            while a < b {
                for k in 0..<bytesPerSample {
                    let t = row.load(fromByteOffset: a * bytesPerSample + k, as: UInt8.self)
                    row.storeBytes(of: row.load(fromByteOffset: b * bytesPerSample + k, as: UInt8.self), toByteOffset: a * bytesPerSample + k, as: UInt8.self)
                    row.storeBytes(of: t, toByteOffset: b * bytesPerSample + k, as: UInt8.self)
                }
                a += 1
                b -= 1
            }
        }
    }
}
