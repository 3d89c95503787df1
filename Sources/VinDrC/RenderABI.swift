#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVinDrHandles
import VinDrDICOM
import VinDrImaging

// vdr_render_options: how vdr_dicom_render turns a file into display pixels. Not thread-safe:
// configure one per thread, or configure once and then only read it (render calls only read).

/// Output size modes (vdr_render_options_set_size).
public let VDR_SIZE_ORIGINAL: Int32 = 0
public let VDR_SIZE_EXACT: Int32 = 1
public let VDR_SIZE_LONGEST_SIDE: Int32 = 2

/// Aspect policies for VDR_SIZE_EXACT (vdr_render_options_set_aspect).
public let VDR_ASPECT_STRETCH: Int32 = 0
public let VDR_ASPECT_LETTERBOX: Int32 = 1

/// Window modes (vdr_render_options_set_window).
/// The file's VOI: first VOI LUT item, else first window with its VOI LUT Function, else auto.
public let VDR_WINDOW_DICOM: Int32 = 0
/// Min-max of the modality output.
public let VDR_WINDOW_AUTO: Int32 = 1
/// Percentiles a (low) and b (high) of the modality output, 0..100.
public let VDR_WINDOW_PERCENTILE: Int32 = 2
/// Explicit center a, width b with VOI function `function`.
public let VDR_WINDOW_EXPLICIT: Int32 = 3
/// The file's window pair number `index`.
public let VDR_WINDOW_FILE_INDEX: Int32 = 4
/// The file's VOI LUT Sequence item number `index`.
public let VDR_WINDOW_FILE_LUT: Int32 = 5
/// The public VinDr-CXR Kaggle notebooks' read_xray (pydicom apply_voi_lut, MONOCHROME1 as
/// max - value, min-max, truncated to uint8): equal bytes at the original size with uint8 output;
/// resized renders resample that image.
public let VDR_WINDOW_KAGGLE: Int32 = 6

/// VOI LUT Functions (PS3.3 C.11.2.1.3).
public let VDR_VOI_LINEAR: Int32 = 0
public let VDR_VOI_LINEAR_EXACT: Int32 = 1
public let VDR_VOI_SIGMOID: Int32 = 2

/// Scalar options (vdr_render_options_set_int).
/// Frame to render (default 0; >= 0).
public let VDR_OPT_FRAME: Int32 = 1
/// Decoder and resampler threads (default 1; 1...256).
public let VDR_OPT_THREADS: Int32 = 2
/// Output type: VDR_DTYPE_UINT8 (default), VDR_DTYPE_UINT16 or VDR_DTYPE_FLOAT32.
public let VDR_OPT_OUTPUT_TYPE: Int32 = 3
/// 1 (default): invert MONOCHROME1 after VOI so 1 is white; 0: keep.
public let VDR_OPT_INVERT_MONOCHROME1: Int32 = 4
/// Decode mode: VDR_DECODE_EXACT (default) or VDR_DECODE_FAST (replaces VDR_OPT_REDUCED_DECODE,
/// whose key it keeps).
public let VDR_OPT_DECODE: Int32 = 5

/// Decode modes (VDR_OPT_DECODE).
/// Full-resolution decode, then the documented resampling (the default).
public let VDR_DECODE_EXACT: Int32 = 0
/// Opt-in approximation for outputs at least 2x smaller: JPEG 2000 and HTJ2K at a reduced
/// resolution level, 8-bit baseline JPEG through the scaled IDCT; differs from exact along hard edges.
public let VDR_DECODE_FAST: Int32 = 1

final class RenderOptionsBox {
    var options = RenderOptions()
}

/// Creates render options with the defaults: original size, the file's window, uint8 output.
@c public func vdr_render_options_create(_ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_render_options>?>?) -> Int32 {
    abiCall {
        try store(RenderOptionsBox(), to: out)
    }
}

/// Releases render options; NULL is accepted.
@c public func vdr_render_options_destroy(_ options: UnsafeMutablePointer<vdr_render_options>?) {
    RenderOptionsBox.destroy(options)
}

/// Applies `change` to the handle's options when the result is valid (RenderOptions.validate);
/// otherwise the options stay as they were and the call fails.
private func update(_ options: UnsafeMutablePointer<vdr_render_options>?, _ change: (inout RenderOptions) throws -> Void) throws {
    let box = try RenderOptionsBox.from(options)
    var o = box.options
    try change(&o)
    try o.validate()
    box.options = o
}

/// Output size: VDR_SIZE_ORIGINAL (height and width 0), VDR_SIZE_EXACT (height x width) or
/// VDR_SIZE_LONGEST_SIDE (longest side = width, aspect kept; height 0 or equal to width).
/// Sizes are 1...65535.
@c public func vdr_render_options_set_size(_ options: UnsafeMutablePointer<vdr_render_options>?, _ mode: Int32, _ height: Int32, _ width: Int32) -> Int32 {
    abiCall {
        try update(options) { o in
            switch mode {
            case VDR_SIZE_ORIGINAL where height == 0 && width == 0: o.size = .original
            case VDR_SIZE_EXACT: o.size = .exact(height: Int(height), width: Int(width))
            case VDR_SIZE_LONGEST_SIDE where height == 0 || height == width: o.size = .longestSide(Int(width))
            case VDR_SIZE_ORIGINAL, VDR_SIZE_LONGEST_SIDE:
                throw VinDrError(.argument, "size mode \(mode) takes no height (got \(height)x\(width)): it is not ignored silently")
            default: throw VinDrError(.argument, "unknown size mode \(mode)")
            }
        }
    }
}

/// Aspect policy for exact sizes: VDR_ASPECT_STRETCH, or VDR_ASPECT_LETTERBOX with `pad` the
/// display value (0..1) of the borders.
@c public func vdr_render_options_set_aspect(_ options: UnsafeMutablePointer<vdr_render_options>?, _ policy: Int32, _ pad: Double) -> Int32 {
    abiCall {
        try update(options) { o in
            switch policy {
            case VDR_ASPECT_STRETCH: o.aspect = .stretch
            case VDR_ASPECT_LETTERBOX: o.aspect = .letterbox(pad: pad)
            default: throw VinDrError(.argument, "unknown aspect policy \(policy)")
            }
        }
    }
}

/// A change of the chosen window (window/level): its width scaled by `width_scale` (0 < s <= 16)
/// and its center moved by `center_shift` widths (-4...4); 1, 0 (the default) change nothing. A
/// VOI LUT's output is re-windowed as a window of center 0.5 and width 1 (see WindowAdjustment).
@c public func vdr_render_options_set_window_adjustment(_ options: UnsafeMutablePointer<vdr_render_options>?, _ width_scale: Double,
                                                        _ center_shift: Double) -> Int32 {
    abiCall {
        try update(options) { o in o.windowAdjustment = WindowAdjustment(widthScale: width_scale, centerShift: center_shift) }
    }
}

/// Window: mode VDR_WINDOW_*; `a`, `b` are center/width (EXPLICIT: finite, width >= 1 for
/// LINEAR, > 0 otherwise) or low/high percentiles (PERCENTILE: 0 <= low < high <= 100);
/// `function` is a VDR_VOI_* for EXPLICIT; `index` (>= 0) selects the file's window or VOI LUT
/// for FILE_INDEX / FILE_LUT.
@c public func vdr_render_options_set_window(_ options: UnsafeMutablePointer<vdr_render_options>?, _ mode: Int32, _ a: Double, _ b: Double,
                                             _ function: Int32, _ index: Int32) -> Int32 {
    abiCall {
        try update(options) { o in
            switch mode {
            case VDR_WINDOW_DICOM: o.window = .dicom
            case VDR_WINDOW_AUTO: o.window = .auto
            case VDR_WINDOW_PERCENTILE: o.window = .percentile(low: a, high: b)
            case VDR_WINDOW_EXPLICIT:
                let f: VOIFunction
                switch function {
                case VDR_VOI_LINEAR: f = .linear
                case VDR_VOI_LINEAR_EXACT: f = .linearExact
                case VDR_VOI_SIGMOID: f = .sigmoid
                default: throw VinDrError(.argument, "unknown VOI function \(function)")
                }
                o.window = .explicit(center: a, width: b, function: f)
            case VDR_WINDOW_FILE_INDEX: o.window = .fileWindow(index: Int(index))
            case VDR_WINDOW_FILE_LUT: o.window = .fileLUT(index: Int(index))
            case VDR_WINDOW_KAGGLE: o.window = .kaggle
            default: throw VinDrError(.argument, "unknown window mode \(mode)")
            }
        }
    }
}

/// Sets a scalar option (VDR_OPT_*; its range is stated with it).
@c public func vdr_render_options_set_int(_ options: UnsafeMutablePointer<vdr_render_options>?, _ key: Int32, _ value: Int64) -> Int32 {
    abiCall {
        func flag() throws -> Bool {
            guard value == 0 || value == 1 else { throw VinDrError(.argument, "option \(key) takes 0 or 1, got \(value)") }
            return value == 1
        }
        let n = Int(value)
        try update(options) { o in
            switch key {
            case VDR_OPT_FRAME: o.frame = n
            case VDR_OPT_THREADS: o.threads = n
            case VDR_OPT_OUTPUT_TYPE:
                switch Int32(clamping: value) {
                case VDR_DTYPE_UINT8: o.output = .uint8
                case VDR_DTYPE_UINT16: o.output = .uint16
                case VDR_DTYPE_FLOAT32: o.output = .float32
                default: throw VinDrError(.argument, "output type \(value) is not VDR_DTYPE_UINT8, _UINT16 or _FLOAT32")
                }
            case VDR_OPT_INVERT_MONOCHROME1: o.invertMonochrome1 = try flag()
            case VDR_OPT_DECODE: o.decode = try decodeMode(value)
            default: throw VinDrError(.argument, "unknown option key \(key)")
            }
        }
    }
}

/// The decode mode a VDR_DECODE_* value names.
func decodeMode(_ value: Int64) throws -> DecodeMode {
    switch value {
    case Int64(VDR_DECODE_EXACT): return .exact
    case Int64(VDR_DECODE_FAST): return .fast
    default: throw VinDrError(.argument, "decode mode \(value) is not VDR_DECODE_EXACT or VDR_DECODE_FAST")
    }
}

/// The output size vdr_dicom_render will produce for this file and options (no decoding).
@c public func vdr_dicom_render_size(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ options: UnsafeMutablePointer<vdr_render_options>?,
                                     _ height: UnsafeMutablePointer<Int32>?, _ width: UnsafeMutablePointer<Int32>?) -> Int32 {
    abiCall {
        let file = try DICOMFile.from(handle)
        let opts = try RenderOptionsBox.from(options).options
        let h = try require(height, "height"), w = try require(width, "width")
        let g = try Renderer.geometry(of: file.metadata, options: opts)
        h.pointee = Int32(g.outputHeight)
        w.pointee = Int32(g.outputWidth)
    }
}

/// Decodes, windows and resizes the file into `out`: the vdr_dicom_render_size rows, `row_stride`
/// bytes apart, of samples of the output type. When `transform` is not NULL it receives
/// {scale_x, scale_y, offset_x, offset_y}: output = source * scale + offset (boxes follow with
/// vdr_transform_boxes).
@c public func vdr_dicom_render(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ options: UnsafeMutablePointer<vdr_render_options>?,
                                _ out: UnsafeMutableRawPointer?, _ size: UInt, _ row_stride: UInt,
                                _ transform: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let file = try DICOMFile.from(handle)
        let size = try count(size, "size"), row_stride = try count(row_stride, "row_stride")
        let opts = try RenderOptionsBox.from(options).options
        let out = try require(out, "out")
        let g0 = try Renderer.geometry(of: file.metadata, options: opts)
        let rowBytes = try checkedSize(g0.outputWidth, opts.output.bytesPerSample, what: "output row size", source: file.source, kind: .argument)
        try checkBuffer(size: size, rowStride: row_stride, rowBytes: rowBytes, rows: g0.outputHeight,
                        align: opts.output.bytesPerSample, base: out)
        let g = try Renderer.render(file, options: opts, into: UnsafeMutableRawBufferPointer(start: out, count: size),
                                    rowStride: row_stride, workspace: Workspaces.current)
        if let transform {
            transform[0] = g.scaleX
            transform[1] = g.scaleY
            transform[2] = g.offsetX
            transform[3] = g.offsetY
        }
    }
}

/// Applies a render transform {scale_x, scale_y, offset_x, offset_y} to `count` boxes
/// (x_min, y_min, x_max, y_max as doubles) from `boxes` into `out` (may be the same memory);
/// `inverse` = 1 maps output pixels back to source pixels.
@c public func vdr_transform_boxes(_ transform: UnsafePointer<Double>?, _ boxes: UnsafePointer<Double>?, _ count: UInt,
                                   _ inverse: Int32, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        guard let transform else { throw VinDrError(.argument, "transform is NULL") }
        guard count < UInt(Int.max / 4) else { throw VinDrError(.argument, "count \(count) out of range") }
        let count = Int(count)
        guard count == 0 || (boxes != nil && out != nil) else { throw VinDrError(.argument, "boxes or out is NULL") }
        guard inverse == 0 || inverse == 1 else { throw VinDrError(.argument, "inverse must be 0 or 1") }
        let g = RenderGeometry(outputWidth: 0, outputHeight: 0, scaleX: transform[0], scaleY: transform[1],
                               offsetX: transform[2], offsetY: transform[3], sourceWidth: 0, sourceHeight: 0)
        guard g.scaleX.isFinite, g.scaleY.isFinite, g.scaleX != 0, g.scaleY != 0, g.offsetX.isFinite, g.offsetY.isFinite else {
            throw VinDrError(.argument, "transform must have finite, non-zero scales and finite offsets")
        }
        guard let boxes, let out else { return }
        for i in 0..<count {
            let b = (boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3])
            let t = inverse == 1 ? g.inverse(box: b) : g.transform(box: b)
            out[4 * i] = t.0
            out[4 * i + 1] = t.1
            out[4 * i + 2] = t.2
            out[4 * i + 3] = t.3
        }
    }
}


/// One render workspace per calling thread, so repeated renders reuse their buffers.
enum Workspaces {
    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in if let p { Unmanaged<RenderWorkspace>.fromOpaque(p).release() } }
        return k
    }()

    static var current: RenderWorkspace {
        if let p = pthread_getspecific(key) { return Unmanaged<RenderWorkspace>.fromOpaque(p).takeUnretainedValue() }
        let w = RenderWorkspace()
        pthread_setspecific(key, Unmanaged.passRetained(w).toOpaque())
        return w
    }
}
