// libFuzzer target: a DICOM file from bytes (the in-memory open behind vdr_dicom_open_memory),
// its frames decoded and rendered with several option sets.
import VinDrDICOM
import VinDrImaging

private let optionSets: [RenderOptions] = [
    RenderOptions(size: .exact(height: 24, width: 32), aspect: .letterbox(pad: 0.25), window: .auto, output: .uint8),
    RenderOptions(size: .longestSide(17), window: .dicom, output: .float32, decode: .fast, threads: 2),
    RenderOptions(size: .original, window: .percentile(low: 1, high: 99), output: .uint16, invertMonochrome1: false,
                  decode: .exact),
    RenderOptions(size: .exact(height: 5, width: 3), window: .fileWindow(index: 1), output: .uint8),
    RenderOptions(size: .exact(height: 9, width: 9), window: .fileLUT(index: 0), output: .uint16),
    RenderOptions(size: .exact(height: 7, width: 40), window: .explicit(center: 100, width: 0.5, function: .sigmoid)),
    RenderOptions(size: .longestSide(31), window: .kaggle, output: .uint8),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let file = try? DICOMFile(bytes: UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    let m = file.metadata
    let frames = [0, 1, m.frames - 1, m.frames, -1]
    for f in frames {
        _ = try? file.checkDecodable(frame: f)
        _ = try? file.decode(frame: f)
    }
    _ = try? file.decode(frame: 0, maxReduction: 2, threads: 2)
    _ = try? file.withPixels(frame: 0) { _ in 0 }
    for (i, var o) in optionSets.enumerated() {
        o.frame = i == 2 ? max(0, m.frames - 1) : 0
        _ = try? Renderer.render(file, options: o)
    }
    // Into caller memory with a padded stride.
    var opts = optionSets[0]
    opts.output = .uint16
    if let g = try? Renderer.geometry(of: m, options: opts) {
        let stride = g.outputWidth * 2 + 6
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stride * g.outputHeight, alignment: 8)
        defer { buffer.deallocate() }
        _ = try? Renderer.render(file, options: opts, into: buffer, rowStride: stride)
    }
    return 0
}
