import ArgumentParser
import Foundation
import VinDrImaging
import VinDrLoader

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Preprocessed render caches (WebDataset shards) for the loader.", subcommands: [Build.self, Merge.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build", abstract: "Render every DICOM once into WebDataset shards (resumable).",
            discussion: """
                Image ids are the files' names without extension (the dataset's image_id). Shard k
                (shard-0000k.tar) holds files k*N ..< (k+1)*N in path order, each as {id}.jpg or
                {id}.npy plus {id}.json. A loader with the same size, letterbox, window and decode
                mode and cache=DIR reads from it; so does the webdataset package. With --shard i/n
                only shards k with k % n == i are built (one task of a Slurm array or any batch
                system); run `vindr cache merge DIR` when all n are done.
                Examples:
                  vindr cache build sample/train --out cache512 --size 512
                  vindr cache build /data/vindr-cxr/train --out /fast/cache1024 --size 1024 --format raw16
                  vindr cache build /data/vindr-cxr/train --out /shared/c512 --shard $SLURM_ARRAY_TASK_ID/16
                """)

        @Argument(help: "DICOM files or folders") var inputs: [String]
        @Option(help: "Cache directory") var out: String
        @Option(help: "Square output size in pixels") var size = 512
        @Flag(inversion: .prefixedNo, help: "Keep the aspect ratio (letterbox) instead of stretching") var letterbox = true
        @Option(help: "dicom, auto or kaggle") var window = "dicom"
        @Option(help: "jpeg, raw (uint8) or raw16 (modality values as uint16, windowed when read)") var format = "jpeg"
        @Option(help: "JPEG quality 1-100") var quality = 90
        @Option(help: "Worker threads (0 = one per online core)") var workers = 0
        @Option(help: "exact (full decode, the default) or fast (reduced-resolution decode); recorded in the cache") var decode = "exact"
        @Option(help: "Samples per shard") var shardSize = CacheBuilder.defaultShardSize
        @Option(help: "Build only part i of n (i/n, 0-based): shards k with k % n == i") var shard: String?

        func part() throws -> CacheBuilder.Part {
            guard let shard else { return .whole }
            let pieces = shard.split(separator: "/")
            guard pieces.count == 2, let i = Int(pieces[0]), let n = Int(pieces[1]), n >= 1, i >= 0, i < n else {
                throw ValidationError("--shard must be i/n with 0 <= i < n, got '\(shard)'")
            }
            return CacheBuilder.Part(index: i, count: n)
        }

        func validate() throws {
            _ = try decodeMode(decode)
            guard WindowChoice(name: window) != nil else { throw ValidationError("--window must be dicom, auto or kaggle") }
            guard CacheFormat(name: format) != nil else { throw ValidationError("--format must be jpeg, raw or raw16") }
            _ = try part()
        }

        func run() throws {
            let files = try DICOMTree.files(inputs)
            guard !files.isEmpty else { throw ValidationError("no .dcm or .dicom files in \(inputs.joined(separator: ", "))") }
            let samples = files.map { LoaderSample(imageID: (($0.1 as NSString).lastPathComponent as NSString).deletingPathExtension, path: $0.0) }
            let render = RenderOptions(size: .exact(height: size, width: size), aspect: letterbox ? .letterbox(pad: 0) : .stretch,
                                       window: WindowChoice(name: window) ?? .dicom, decode: try decodeMode(decode))
            let settings = CacheSettings(render: render, format: CacheFormat(name: format, quality: quality) ?? .raw)
            let progress = Progress("cache", total: samples.count)
            let report: CacheBuilder.Report
            do {
                report = try CacheBuilder.build(samples: samples, directory: out, settings: settings, workers: workers,
                                              shardSize: shardSize, part: try part()) { done, _ in
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

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge", abstract: "Check a cache built in parts (--shard i/n) and write its index.json.")

        @Argument(help: "Cache directory") var directory: String

        func run() throws {
            do {
                let index = try CacheBuilder.merge(directory: directory)
                print("cache \(directory): \(index.samples) samples in \(index.shards.count) shards")
            } catch {
                FileHandle.standardError.write("vindr cache merge: \(error)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
        }
    }
}
