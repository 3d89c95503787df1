import Dispatch
import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrDICOM
import VinDrImaging

/// Renders every sample once into a cache directory: shard files of encoded images plus
/// index.json. Resumable: entries already in the index whose source file is unchanged are kept,
/// new ones go to a new shard, and the index (written atomically after each chunk, after the
/// shard data is flushed) only ever lists complete entries.
public enum CacheBuilder {
    public struct Report: Sendable {
        public var rendered = 0
        public var reused = 0
        /// (image id, reason) of images that could not be rendered (left out of the cache).
        public var failures: [(String, String)] = []
    }

    public static func build(samples: [LoaderSample], directory: String, settings: CacheSettings, workers requested: Int = 0,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        try settings.validate()
        guard requested >= 0, requested <= 256 else { throw VinDrError(.argument, "workers \(requested) not in 0...256 (0: one per core)") }
        let workers = requested == 0 ? onlineCores() : requested
        try FileSystem.createDirectories(directory)
        var index = CacheIndex(settings: settings, entries: [])
        if FileSystem.isDirectory(FileSystem.joined(directory, CacheIndex.fileName)) != nil {
            let old = try CacheIndex.load(directory)
            if let why = old.settings.mismatch(with: settings.render)
                ?? (old.settings.format != settings.format ? "cache built as \(old.settings.format)" : nil) {
                throw VinDrError(.io, "\(directory): \(why); use another directory for these settings")
            }
            index = old
        }
        var report = Report()
        var keep: [String: CacheEntry] = [:]
        for e in index.entries { keep[e.imageID] = e }
        var todo: [LoaderSample] = []
        var entries: [CacheEntry] = []
        for s in samples {
            if let e = keep[s.imageID], let st = FileSystem.sizeAndModified(s.path), st.size == e.sourceSize, st.modified == e.sourceModified, e.source == s.path {
                entries.append(e)
                report.reused += 1
            } else {
                todo.append(s)
            }
        }
        index.entries = entries
        let shard = (index.entries.map(\.shard).max() ?? -1) + 1
        let shardPath = FileSystem.joined(directory, CacheIndex.shardName(shard))
        let fd = open(shardPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VinDrError(.io, "\(shardPath): cannot create the cache shard: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset: Int64 = 0
        let total = samples.count
        progress(report.reused, total)
        let chunk = max(workers * 8, 16)
        var start = 0
        while start < todo.count {
            let part = Array(todo[start..<min(start + chunk, todo.count)])
            var results = [Result<(CacheEntry, [UInt8]), Error>?](repeating: nil, count: part.count)
            results.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: min(workers, part.count)) { w in
                    let workspace = RenderWorkspace()
                    let codec = settings.format == .raw ? nil : try? GrayJPEG()
                    var i = w
                    while i < part.count {
                        base[i] = Result { try renderOne(part[i], settings: settings, workspace: workspace, codec: codec) }
                        i += min(workers, part.count)
                    }
                }
            }
            for (s, r) in zip(part, results) {
                switch r {
                case .success(let (entryValue, bytes))?:
                    var entry = entryValue
                    entry.shard = shard
                    entry.offset = offset
                    try bytes.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: shardPath) }
                    offset += Int64(bytes.count)
                    index.entries.append(entry)
                    report.rendered += 1
                case .failure(let e)?:
                    report.failures.append((s.imageID, String(describing: e)))
                case nil:
                    report.failures.append((s.imageID, "not rendered"))
                }
            }
            guard fsync(fd) == 0 else { throw VinDrError(.io, "\(shardPath): fsync failed: \(String(cString: strerror(errno)))") }
            try index.save(directory)
            start += chunk
            progress(report.reused + report.rendered + report.failures.count, total)
        }
        try index.save(directory)
        return report
    }

    static func renderOne(_ s: LoaderSample, settings: CacheSettings, workspace: RenderWorkspace, codec: GrayJPEG?) throws -> (CacheEntry, [UInt8]) {
        let file = try DICOMFile(path: s.path)
        let (pixels, g) = try Renderer.render(file, options: settings.render, workspace: workspace)
        let bytes: [UInt8]
        switch settings.format {
        case .raw: bytes = pixels
        case .jpeg(let quality):
            guard let codec else { throw VinDrError(.internal, "cannot initialise TurboJPEG") }
            bytes = try pixels.withUnsafeBytes { try codec.encode($0.baseAddress!, width: settings.width, height: settings.height, quality: quality) }
        }
        let st = FileSystem.sizeAndModified(s.path) ?? (0, 0)
        let crc = bytes.withUnsafeBytes { crc32Checksum($0) }
        let entry = CacheEntry(imageID: s.imageID, source: s.path, sourceSize: st.size, sourceModified: st.modified, shard: 0, offset: 0,
                               length: bytes.count, crc32: crc, transform: [g.scaleX, g.scaleY, g.offsetX, g.offsetY],
                               sourceWidth: g.sourceWidth, sourceHeight: g.sourceHeight)
        return (entry, bytes)
    }
}
