// Prints each DICOM's attributes and renders it to 512 px, then streams one epoch of 256x256
// batches through the loader's AsyncSequence:  swift run RenderInfo DIR
import Foundation
import VinDrDICOM
import VinDrImaging
import VinDrLoader

let args = CommandLine.arguments
guard args.count == 2 else {
    FileHandle.standardError.write("usage: RenderInfo DIR\n".data(using: .utf8)!)
    exit(2)
}
let dir = URL(fileURLWithPath: args[1])
let files = (try FileManager.default.contentsOfDirectory(atPath: dir.path))
    .filter { $0.hasSuffix(".dcm") || $0.hasSuffix(".dicom") }.sorted()
do {
    for name in files {
        let file = try DICOMFile(path: dir.appendingPathComponent(name).path)
        let m = file.metadata
        let (pixels, g) = try Renderer.render(file, options: RenderOptions(size: .longestSide(512)))
        let mean = Double(pixels.reduce(0) { $0 + Int($1) }) / Double(pixels.count)
        print("\(name): \(m.rows)x\(m.columns) \(m.photometricInterpretation) -> \(g.outputHeight)x\(g.outputWidth), mean \(String(format: "%.1f", mean))")
    }
    let samples = files.map { LoaderSample(imageID: $0, path: dir.appendingPathComponent($0).path) }
    let render = RenderOptions(size: .exact(height: 256, width: 256), aspect: .letterbox(pad: 0))
    let loader = try Loader(samples: samples, options: LoaderOptions(render: render, batchSize: 3))
    var seen = 0
    for try await batch in loader.batches(epoch: 0) { seen += batch.count }
    print("loader: \(seen) images in \(loader.batchesPerEpoch) batches")
} catch {
    FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
    exit(1)
}
