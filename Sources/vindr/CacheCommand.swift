import ArgumentParser
import Foundation
import VinDrImaging
import VinDrLoader

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Preprocessed render caches for the loader.", subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build", abstract: "Render every DICOM once into a cache directory (resumable).",
            discussion: """
                Image ids are the files' names without extension (the dataset's image_id). A loader
                with the same size, letterbox, window and decode mode and cache=DIR reads from it.
                Examples:
                  vindr cache build sample/train --out cache512 --size 512
                  vindr cache build /data/vindr-cxr/train --out /fast/cache1024 --size 1024 --format raw
                """)

        @Argument(help: "DICOM files or folders") var inputs: [String]
        @Option(help: "Cache directory") var out: String
        @Option(help: "Square output size in pixels") var size = 512
        @Flag(inversion: .prefixedNo, help: "Keep the aspect ratio (letterbox) instead of stretching") var letterbox = true
        @Option(help: "dicom, auto or kaggle") var window = "dicom"
        @Option(help: "jpeg or raw") var format = "jpeg"
        @Option(help: "JPEG quality 1-100") var quality = 90
        @Option(help: "Worker threads (0 = one per online core)") var workers = 0
        @Option(help: "exact (full decode, the default) or fast (reduced-resolution decode); recorded in the cache") var decode = "exact"

        func validate() throws {
            _ = try decodeMode(decode)
            guard WindowChoice(name: window) != nil else { throw ValidationError("--window must be dicom, auto or kaggle") }
            guard format == "jpeg" || format == "raw" else { throw ValidationError("--format must be jpeg or raw") }
        }

        func run() throws {
            let files = try DICOMTree.files(inputs)
            guard !files.isEmpty else { throw ValidationError("no .dcm or .dicom files in \(inputs.joined(separator: ", "))") }
            let samples = files.map { LoaderSample(imageID: (($0.1 as NSString).lastPathComponent as NSString).deletingPathExtension, path: $0.0) }
            let render = RenderOptions(size: .exact(height: size, width: size), aspect: letterbox ? .letterbox(pad: 0) : .stretch,
                                       window: WindowChoice(name: window) ?? .dicom, decode: try decodeMode(decode))
            let settings = CacheSettings(render: render, format: format == "raw" ? .raw : .jpeg(quality: quality))
            let progress = Progress("cache", total: samples.count)
            let report: CacheBuilder.Report
            do {
                report = try CacheBuilder.build(samples: samples, directory: out, settings: settings, workers: workers) { done, _ in
                    progress.update(done)
                }
            } catch {
                FileHandle.standardError.write("vindr cache build: \(error)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            for (id, reason) in report.failures { FileHandle.standardError.write("vindr cache build: \(id): \(reason)\n".data(using: .utf8)!) }
            print("cache \(out): \(report.rendered) rendered, \(report.reused) already cached, \(report.failures.count) failed")
            if !report.failures.isEmpty { throw ExitCode(1) }
        }
    }
}
