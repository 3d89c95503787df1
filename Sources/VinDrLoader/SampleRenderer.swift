#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrDICOM
import VinDrImaging

/// Renders one sample into a batch slot in the loader's dtype, channel count and layout: from
/// its cache entry when there is one (decoded from the shard; raw16 windowed per sample), else
/// from the DICOM.
struct SampleRenderer {
    let options: LoaderOptions
    let workspace: RenderWorkspace
    let cache: CacheReader?
    let codec: GrayJPEG?

    func render(_ sample: LoaderSample, into slot: UnsafeMutableRawPointer, flip: Bool, window: WindowAdjustment) throws -> RenderGeometry {
        let o = options
        let plane = o.height * o.width
        let entry = cache?.entry(sample.imageID)
        let raw16 = cache?.settings.format == .raw16
        // Channel 0 is produced as uint8 (8-bit cache, or uint8 output) or float32 (display values).
        let planeIsByte = (entry != nil && !raw16) || o.dtype == .uint8
        let planeBytes = plane * (planeIsByte ? 1 : 4)
        let direct = (planeIsByte ? o.dtype == .uint8 : o.dtype == .float32) && (o.channels == 1 || o.layout == .nchw)
        let scratch = direct ? nil : try allocateBytes(planeBytes, alignment: 16, for: "a render plane")
        defer { free(scratch?.baseAddress) }
        let target = scratch?.baseAddress ?? slot
        let g: RenderGeometry
        if let entry, let cache {
            if raw16 {
                try cache.readRaw16(entry, adjustment: window, into: target, float: !planeIsByte)
            } else {
                try cache.read(entry, into: target, codec: codec)
            }
            g = entry.record.geometry
        } else {
            var ro = o.render
            ro.windowAdjustment = window
            ro.output = planeIsByte ? .uint8 : .float32
            ro.threads = 1
            g = try Renderer.render(try DICOMFile(path: sample.path), options: ro,
                                    into: UnsafeMutableRawBufferPointer(start: target, count: planeBytes),
                                    rowStride: o.width * (planeIsByte ? 1 : 4), workspace: workspace)
        }
        if flip { mirror(target, rows: o.height, width: o.width, bytesPerSample: planeIsByte ? 1 : 4) }
        if direct {
            let bytes = plane * o.dtype.bytesPerSample
            for c in 1..<max(o.channels, 1) { (slot + c * bytes).copyMemory(from: slot, byteCount: bytes) }
            return g
        }
        let (pixelStride, planeStride) = o.layout == .nhwc ? (o.channels, 1) : (1, plane)
        for c in 0..<o.channels {
            switch (planeIsByte, o.dtype) {
            case (true, .uint8): copy(target, UInt8.self, slot, UInt8.self, c * planeStride, pixelStride, plane) { $0 }
            case (true, .float16): copy(target, UInt8.self, slot, Float16.self, c * planeStride, pixelStride, plane) { Float16(Float($0) / 255) }
            case (true, .float32): copy(target, UInt8.self, slot, Float.self, c * planeStride, pixelStride, plane) { Float($0) / 255 }
            case (false, .float16): copy(target, Float.self, slot, Float16.self, c * planeStride, pixelStride, plane) { Float16($0) }
            case (false, _): copy(target, Float.self, slot, Float.self, c * planeStride, pixelStride, plane) { $0 }
            }
        }
        return g
    }

    /// dst[first + i * stride] = convert(src[i]) for i in 0..<count.
    @inline(__always)
    private func copy<S, D>(_ src: UnsafeMutableRawPointer, _: S.Type, _ dst: UnsafeMutableRawPointer, _: D.Type, _ first: Int,
                            _ stride: Int, _ count: Int, _ convert: (S) -> D) {
        let s = src.assumingMemoryBound(to: S.self)
        let d = dst.assumingMemoryBound(to: D.self) + first
        for i in 0..<count { d[i * stride] = convert(s[i]) }
    }

    /// Mirrors each row in place (horizontal flip).
    private func mirror(_ p: UnsafeMutableRawPointer, rows: Int, width: Int, bytesPerSample: Int) {
        for y in 0..<rows {
            if bytesPerSample == 1 {
                var row = UnsafeMutableBufferPointer(start: p.assumingMemoryBound(to: UInt8.self) + y * width, count: width)
                row.reverse()
            } else {
                var row = UnsafeMutableBufferPointer(start: p.assumingMemoryBound(to: Float.self) + y * width, count: width)
                row.reverse()
            }
        }
    }
}
