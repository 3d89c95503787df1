import ArgumentParser
import Dispatch
import Foundation
import VinDrDICOM
import VinDrImaging

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render", abstract: "Render DICOM files (or trees of them) to PNG or JPEG.",
        discussion: """
            Each output mirrors its input's path under --out, with the extension of --format.
            Examples:
              vindr render image.dicom --out out/ --size 1024
              vindr render sample/train --out png/ --size 512 --window auto --format jpg
              vindr render image.dicom --out out/ --window 40,400 --exact 1024x1024 --letterbox
            """)

    @Argument(help: "DICOM files or folders (searched for .dcm/.dicom)") var inputs: [String]
    @Option(help: "Output folder") var out: String
    @Option(help: "Longest side in pixels (0 = original size)") var size = 1024
    @Option(help: "Exact output size HxW (overrides --size)") var exact: String?
    @Flag(help: "With --exact: keep the aspect ratio, pad with black") var letterbox = false
    @Option(help: "dicom, auto, kaggle (the Kaggle notebooks' read_xray; equal bytes with --size 0), or CENTER,WIDTH") var window = "dicom"
    @Option(help: "png or jpg") var format = "png"
    @Option(help: "JPEG quality 1-100") var quality = 92
    @Option(help: "Worker threads (0 = one per online core)") var workers = 0
    @Option(help: "exact (full decode, the default) or fast (reduced-resolution JPEG 2000 / scaled JPEG decode; differs along hard edges)")
    var decode = "exact"

    func validate() throws {
        guard format == "png" || format == "jpg" else { throw ValidationError("--format must be png or jpg") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be in 1...100") }
        guard workers >= 0 else { throw ValidationError("--workers must be 0 (one per online core) or more") }
        _ = try renderOptions()
    }

    func renderOptions() throws -> RenderOptions {
        var o = RenderOptions()
        o.decode = try decodeMode(decode)
        if let exact {
            let parts = exact.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("--exact must look like 1024x1024") }
            o.size = .exact(height: parts[0], width: parts[1])
            o.aspect = letterbox ? .letterbox(pad: 0) : .stretch
        } else if size > 0 {
            o.size = .longestSide(size)
        }
        if let named = WindowChoice(name: window) {
            o.window = named
        } else {
            let v = window.split(separator: ",").compactMap { Double($0) }
            guard v.count == 2 else { throw ValidationError("--window must be dicom, auto, kaggle or CENTER,WIDTH") }
            o.window = .explicit(center: v[0], width: v[1], function: .linear)
        }
        return o
    }

    func run() throws {
        let options = try renderOptions()
        let jobs = try DICOMTree.files(inputs)
        guard !jobs.isEmpty else { throw ValidationError("no .dcm or .dicom files in \(inputs.joined(separator: ", "))") }
        let progress = Progress("render", total: jobs.count)
        let threads = min(workers > 0 ? workers : onlineCores(), jobs.count)
        let lock = NSLock()
        var done = 0
        var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let workspace = RenderWorkspace()
            let jpeg = format == "jpg" ? try? GrayJPEG() : nil
            var i = worker
            while i < jobs.count {
                let (path, relative) = jobs[i]
                let target = URL(fileURLWithPath: out).appendingPathComponent(relative).deletingPathExtension().appendingPathExtension(format).path
                do {
                    let (pixels, g) = try Renderer.render(try DICOMFile(path: path), options: options, workspace: workspace)
                    try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    if let jpeg {
                        let bytes = try pixels.withUnsafeBytes { try jpeg.encode($0.baseAddress!, width: g.outputWidth, height: g.outputHeight, quality: quality) }
                        try FileSystem.writeAtomically(bytes, to: target)
                    } else {
                        try PNGWriter.write(pixels, width: g.outputWidth, height: g.outputHeight, channels: 1, to: target)
                    }
                } catch {
                    lock.lock()
                    failures.append("\(error)")
                    lock.unlock()
                }
                lock.lock()
                done += 1
                progress.update(done)
                lock.unlock()
                i += threads
            }
        }
        for f in failures { FileHandle.standardError.write("vindr render: \(f)\n".data(using: .utf8)!) }
        print("rendered \(jobs.count - failures.count) of \(jobs.count) image(s) into \(out)")
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

/// DICOM files named on the command line or found under folders (FileSystem.dicomFiles), with
/// their paths relative to the folder they were found in; a missing input is a usage error.
enum DICOMTree {
    static func files(_ inputs: [String]) throws -> [(String, String)] {
        for input in inputs where FileSystem.isDirectory(input) == nil {
            throw ValidationError("\(input): no such file or folder")
        }
        return try FileSystem.dicomFiles(inputs).map { ($0.path, $0.relative) }
    }
}

/// The decode mode of a --decode argument.
func decodeMode(_ name: String) throws -> DecodeMode {
    guard let mode = DecodeMode(rawValue: name) else { throw ValidationError("--decode must be exact or fast") }
    return mode
}
