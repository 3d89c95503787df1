import ArgumentParser
import Dispatch
import Foundation
import VinDrDICOM
import VinDrImaging

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure decode + window + resize throughput on your own files.",
        discussion: """
            Renders every file --passes times on --workers threads (each thread its own images) and
            prints images/s per transfer syntax. For the comparison with the pydicom and dicomsdl
            pipelines, run benchmarks/bench_decode.py.
            Examples:
              vindr bench sample/train --size 1024
              vindr bench /data/vindr-cxr/train --size 512 --workers 2 --passes 1
            """)

    @Argument(help: "DICOM files or folders") var inputs: [String]
    @Option(help: "Longest side in pixels") var size = 1024
    @Option(help: "Worker threads, each rendering whole images (0 = one per online core)") var workers = 0
    @Option(help: "Passes over the files") var passes = 3
    @Option(help: "exact (full decode, the default) or fast (reduced-resolution JPEG 2000 / scaled JPEG decode)") var decode = "exact"

    func validate() throws {
        guard workers >= 0, passes >= 1, size >= 1 else { throw ValidationError("--workers must be non-negative, --passes and --size positive") }
        _ = try decodeMode(decode)
    }

    func run() throws {
        let options = RenderOptions(size: .longestSide(size), decode: try decodeMode(decode))
        let files = try DICOMTree.files(inputs).map(\.0)
        guard !files.isEmpty else { throw ValidationError("no .dcm or .dicom files in \(inputs.joined(separator: ", "))") }
        var syntax: [String: String] = [:]
        for f in files { syntax[f] = (try? DICOMFile(path: f).metadata.transferSyntaxUID) ?? "unreadable" }
        let groups = Dictionary(grouping: files) { syntax[$0] ?? "" }
        var failures = 0
        print("syntax".padding(toLength: 36, withPad: " ", startingAt: 0) + "images      img/s   ms/image")
        for (uid, group) in groups.sorted(by: { $0.key < $1.key }) {
            let jobs = (0..<passes).flatMap { _ in group }
            let threads = min(workers > 0 ? workers : onlineCores(), jobs.count)
            let lock = NSLock()
            let start = Date()
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                let workspace = RenderWorkspace()
                var i = worker
                while i < jobs.count {
                    do {
                        _ = try Renderer.render(try DICOMFile(path: jobs[i]), options: options, workspace: workspace)
                    } catch {
                        lock.lock()
                        failures += 1
                        lock.unlock()
                    }
                    i += threads
                }
            }
            let elapsed = Date().timeIntervalSince(start)
            let name = TransferSyntax.names[uid] ?? uid
            print(name.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + String(format: "%6d %10.1f %10.1f", jobs.count, Double(jobs.count) / elapsed, 1000 * elapsed * Double(threads) / Double(jobs.count)))
        }
        if failures > 0 {
            FileHandle.standardError.write("vindr bench: \(failures) render(s) failed (see vindr info)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }
}
