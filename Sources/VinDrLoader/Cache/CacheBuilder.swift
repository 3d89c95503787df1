import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VinDrDICOM
import VinDrImaging

/// Renders samples once into WebDataset shards: shard k (`shard-0000k.tar`) holds samples
/// k*shardSize ..< (k+1)*shardSize in the given order, each as `{image_id}.jpg|.npy` plus
/// `{image_id}.json` (`CacheRecord`). A shard is written as `shard-0000k.tar.partial` and renamed
/// when complete, so a crash loses only the shard being written. A part i of n (a Slurm array
/// task, a Ray task) builds the shards with k % n == i; `merge` then writes index.json. Resumable:
/// a complete shard whose samples and sources are unchanged is kept.
public enum CacheBuilder {
    public struct Report: Sendable {
        public var rendered = 0
        public var reused = 0
        /// (image id, reason) of images that could not be rendered (left out of their shard).
        public var failures: [(String, String)] = []
    }

    /// Which shards one build makes: those with number % count == index.
    public struct Part: Sendable, Equatable {
        public var index: Int
        public var count: Int

        public init(index: Int = 0, count: Int = 1) {
            self.index = index
            self.count = count
        }

        public static let whole = Part()

        func validate() throws {
            guard (1...100_000).contains(count), (0..<count).contains(index) else {
                throw VinDrError(.argument, "shard part \(index)/\(count): need 0 <= i < n <= 100000")
            }
        }
    }

    public static let defaultShardSize = 1000

    public static func build(samples: [LoaderSample], directory: String, settings: CacheSettings, workers requested: Int = 0,
                             shardSize: Int = defaultShardSize, part: Part = .whole,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        try settings.validate()
        try part.validate()
        guard requested >= 0, requested <= 256 else { throw VinDrError(.argument, "workers \(requested) not in 0...256 (0: one per core)") }
        guard (1...1_000_000).contains(shardSize) else { throw VinDrError(.argument, "shard size \(shardSize) not in 1...1000000") }
        try checkKeys(samples)
        let workers = requested == 0 ? onlineCores() : requested
        try FileSystem.createDirectories(directory)
        if let old = try existingSettings(directory), old != settings {
            let why = old.mismatch(with: settings.render) ?? "cache built as \(old.format.name)"
            throw VinDrError(.io, directory, "\(why); use another directory for these settings")
        }
        let shardCount = (samples.count + shardSize - 1) / shardSize
        try removeStale(directory, shardCount: shardCount, part: part)
        let mine = (0..<shardCount).filter { $0 % part.count == part.index }
        let total = mine.reduce(0) { $0 + min(shardSize, samples.count - $1 * shardSize) }
        var report = Report()
        progress(0, total)
        for k in mine {
            let planned = Array(samples[(k * shardSize)..<min((k + 1) * shardSize, samples.count)])
            let path = FileSystem.joined(directory, CacheIndex.shardName(k))
            if isCurrent(path, planned: planned, settings: settings) {
                report.reused += planned.count
            } else {
                try writeShard(path, samples: planned, settings: settings, workers: workers, report: &report) { r in
                    progress(r.reused + r.rendered + r.failures.count, total)
                }
            }
            progress(report.reused + report.rendered + report.failures.count, total)
        }
        if part.count == 1 {
            try merge(directory: directory)
        } else {
            let manifest = PartManifest(part: part.index, parts: part.count, shards: shardCount, settings: settings)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try FileSystem.writeAtomically(try encoder.encode(manifest), to: FileSystem.joined(directory, manifest.fileName))
        }
        return report
    }

    /// What a finished part records: its place in the plan, so `merge` can tell a part missing.
    struct PartManifest: Codable, Equatable {
        var part: Int
        var parts: Int
        var shards: Int
        var settings: CacheSettings

        var fileName: String { "part-\(part)-of-\(parts).json" }
    }

    /// Checks the shards of `directory` and writes its index.json: every part of a split build
    /// present (their part-*.json agree), shards 0..<n all there, every record with the same
    /// settings. Returns the index.
    @discardableResult
    public static func merge(directory: String) throws -> CacheIndex {
        let files = try topLevelFiles(directory)
        let decoder = JSONDecoder()
        var manifests: [PartManifest] = []
        for f in files where FileSystem.lastComponent(f).hasPrefix("part-") && f.hasSuffix(".json") {
            do { manifests.append(try decoder.decode(PartManifest.self, from: Data(try FileSystem.readAll(f)))) } catch let e as VinDrError {
                throw e
            } catch {
                throw VinDrError(.format, f, "malformed part manifest (\(error))")
            }
        }
        var numbers = files.compactMap { CacheIndex.shardNumber(FileSystem.lastComponent($0)) }.sorted()
        if let m = manifests.first {
            guard manifests.allSatisfy({ $0.parts == m.parts && $0.shards == m.shards && $0.settings == m.settings }) else {
                throw VinDrError(.format, directory, "part manifests disagree (different plans or settings in one directory)")
            }
            let missing = Set(0..<m.parts).subtracting(manifests.map(\.part)).sorted()
            guard missing.isEmpty else {
                throw VinDrError(.io, directory, "parts \(missing.prefix(10).map { "\($0)/\(m.parts)" }.joined(separator: ", ")) not finished")
            }
            numbers = numbers.filter { $0 < m.shards }
            guard numbers.count == m.shards else {
                throw VinDrError(.io, directory, "\(m.shards - numbers.count) of \(m.shards) shards missing")
            }
        }
        guard numbers == Array(0..<numbers.count) else {
            throw VinDrError(.io, directory, "shard numbers are not 0..<\(numbers.count) (a shard is missing)")
        }
        guard !numbers.isEmpty else { throw VinDrError(.io, directory, "no cache shards (shard-*.tar) to index") }
        var shards: [CacheIndex.Shard] = []
        var settings: CacheSettings?
        for n in numbers {
            let path = FileSystem.joined(directory, CacheIndex.shardName(n))
            let file = try MappedFile(path)
            var samples = 0
            for m in try TarArchive.members(file.bytes, source: path) where m.name.hasSuffix(".json") {
                let record = try CacheRecord.read(file, m, path: path)
                if let settings, settings != record.settings { throw VinDrError(.format, path, "\(m.name) was rendered with other settings") }
                settings = record.settings
                samples += 1
            }
            shards.append(CacheIndex.Shard(name: CacheIndex.shardName(n), samples: samples, bytes: Int64(file.bytes.count)))
        }
        guard let settings = settings ?? manifests.first?.settings else { throw VinDrError(.format, directory, "the shards hold no samples") }
        let index = CacheIndex(settings: settings, samples: shards.reduce(0) { $0 + $1.samples }, shards: shards)
        try index.save(directory)
        return index
    }

    /// The record and image member of one sample, as a build writes them.
    public static func sample(_ s: LoaderSample, settings: CacheSettings, workspace: RenderWorkspace = RenderWorkspace(),
                              codec: GrayJPEG? = nil) throws -> (record: CacheRecord, json: [UInt8], image: [UInt8]) {
        try settings.validate()
        try checkKeys([s])
        let (record, image) = try render(s, settings: settings, workspace: workspace, codec: codec ?? (settings.format.fileExtension == "jpg" ? try GrayJPEG() : nil))
        return (record, try record.encoded(), image)
    }

    /// Image ids become member names: non-empty, unique, no '.', '/' or control characters
    /// (WebDataset splits a name at its first '.').
    static func checkKeys(_ samples: [LoaderSample]) throws {
        var seen = Set<String>()
        for s in samples {
            guard !s.imageID.isEmpty, !s.imageID.contains(where: { $0 == "." || $0 == "/" || $0 == "\\" || $0.asciiValue.map { $0 < 32 } == true }) else {
                throw VinDrError(.argument, "image id '\(s.imageID)' cannot name a shard member (no '.', '/', '\\' or control characters)")
            }
            guard seen.insert(s.imageID).inserted else { throw VinDrError(.argument, "image id '\(s.imageID)' appears twice") }
        }
    }

    /// The settings a cache in `directory` was built with: its index.json's, a part manifest's,
    /// or the first record of its first shard; nil for a new directory.
    static func existingSettings(_ directory: String) throws -> CacheSettings? {
        if FileSystem.isDirectory(FileSystem.joined(directory, CacheIndex.fileName)) == false {
            return try CacheIndex.load(directory).settings
        }
        let files = try topLevelFiles(directory)
        if let manifest = files.first(where: { FileSystem.lastComponent($0).hasPrefix("part-") && $0.hasSuffix(".json") }),
           let m = try? JSONDecoder().decode(PartManifest.self, from: Data(try FileSystem.readAll(manifest))) {
            return m.settings
        }
        for f in files where CacheIndex.shardNumber(FileSystem.lastComponent(f)) != nil {
            guard let file = try? MappedFile(f) else { continue }  // removed meanwhile by a concurrent part
            guard let m = try TarArchive.members(file.bytes, source: f).first(where: { $0.name.hasSuffix(".json") }) else { continue }
            return try CacheRecord.read(file, m, path: f).settings
        }
        return nil
    }

    /// The files directly in `directory`.
    static func topLevelFiles(_ directory: String) throws -> [String] {
        try FileSystem.regularFiles(under: directory).filter { !$0.relative.contains("/") }.map(\.path)
    }

    /// Removes this part's leftovers: partial shards, shards past the plan, manifests of a split
    /// into another number of parts (or this part's own), and index.json (stale until the next merge).
    static func removeStale(_ directory: String, shardCount: Int, part: Part) throws {
        for f in try topLevelFiles(directory) {
            let name = FileSystem.lastComponent(f)
            if name.hasPrefix("part-") && name.hasSuffix(".json") {
                if !name.hasSuffix("-of-\(part.count).json") || name == "part-\(part.index)-of-\(part.count).json" { try FileSystem.removeTree(f) }
                continue
            }
            let stem = name.hasSuffix(".partial") ? String(name.dropLast(8)) : name
            guard let n = CacheIndex.shardNumber(stem), n % part.count == part.index else { continue }
            if name != stem || n >= shardCount { try FileSystem.removeTree(f) }
        }
        try FileSystem.removeTree(FileSystem.joined(directory, CacheIndex.fileName))
    }

    /// Whether the complete shard at `path` holds exactly `planned`, from unchanged sources, with `settings`.
    static func isCurrent(_ path: String, planned: [LoaderSample], settings: CacheSettings) -> Bool {
        guard FileSystem.isDirectory(path) == false, let file = try? MappedFile(path),
              let members = try? TarArchive.members(file.bytes, source: path) else { return false }
        let records = members.filter { $0.name.hasSuffix(".json") }
        guard records.count == planned.count, members.count == 2 * planned.count else { return false }
        for (m, s) in zip(records, planned) {
            guard let r = try? CacheRecord.read(file, m, path: path),
                  r.imageID == s.imageID, r.source == s.path, r.settings == settings,
                  let st = FileSystem.sizeAndModified(s.path), st.size == r.sourceSize, st.modified == r.sourceModified,
                  r.boxes.count == s.boxes.count / 4, r.labels == s.labels, r.globalLabels == s.globalLabels,
                  r.readers.count == s.readerTargets.count, r.readerIDs == s.readerIDs else { return false }
        }
        return true
    }

    /// Renders `samples` in parallel chunks into `path` (through its .partial sibling).
    static func writeShard(_ path: String, samples: [LoaderSample], settings: CacheSettings, workers: Int, report: inout Report,
                           chunkDone: (Report) -> Void) throws {
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VinDrError(.io, partial, "cannot create the shard: \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(fd); unlink(partial) } }
        let chunk = max(workers * 4, 8)
        var start = 0
        while start < samples.count {
            let part = Array(samples[start..<min(start + chunk, samples.count)])
            var results = [Result<(CacheRecord, [UInt8]), Error>?](repeating: nil, count: part.count)
            let lanes = min(workers, part.count)
            results.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: lanes) { w in
                    let workspace = RenderWorkspace()
                    let codec = settings.format.fileExtension == "jpg" ? try? GrayJPEG() : nil
                    var i = w
                    while i < part.count {
                        base[i] = Result { try render(part[i], settings: settings, workspace: workspace, codec: codec) }
                        i += lanes
                    }
                }
            }
            for (s, r) in zip(part, results) {
                switch r {
                case .success(let (record, image))?:
                    let json = try record.encoded()
                    let modified = Int(record.sourceModified)
                    try image.withUnsafeBytes { try TarArchive.append(fd, name: "\(s.imageID).\(settings.format.fileExtension)", data: $0, modified: modified, path: partial) }
                    try json.withUnsafeBytes { try TarArchive.append(fd, name: "\(s.imageID).json", data: $0, modified: modified, path: partial) }
                    report.rendered += 1
                case .failure(let e)?:
                    report.failures.append((s.imageID, String(describing: e)))
                case nil:
                    report.failures.append((s.imageID, "not rendered"))
                }
            }
            start += chunk
            chunkDone(report)
        }
        try TarArchive.finish(fd, path: partial)
        guard fsync(fd) == 0 else { throw VinDrError(.io, partial, "fsync failed: \(String(cString: strerror(errno)))") }
        close(fd)
        closed = true
        guard rename(partial, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(partial)
            throw VinDrError(.io, path, "cannot move the finished shard into place: \(reason)")
        }
    }

    /// One sample's record and image member bytes.
    static func render(_ s: LoaderSample, settings: CacheSettings, workspace: RenderWorkspace, codec: GrayJPEG?) throws -> (CacheRecord, [UInt8]) {
        let source = try MappedFile(s.path)
        let sourceCRC = crc32Checksum(source.bytes)
        let st = FileSystem.sizeAndModified(s.path) ?? (0, 0)
        let file = try DICOMFile(path: s.path)
        var image: [UInt8]
        let g: RenderGeometry
        var values: [Double]?, window: CacheRecord.Window?, invert: Bool?
        let (h, w) = (settings.height, settings.width)
        switch settings.format {
        case .raw, .jpeg:
            let (pixels, geometry) = try Renderer.render(file, options: settings.render, workspace: workspace)
            g = geometry
            if case .jpeg(let quality) = settings.format {
                guard let codec else { throw VinDrError(.internal, "cannot initialise TurboJPEG") }
                image = try pixels.withUnsafeBytes { try codec.encode($0.baseAddress!, width: w, height: h, quality: quality) }
            } else {
                image = npyHeader(dtype: "|u1", height: h, width: w) + pixels
            }
        case .raw16:
            // The modality values through the min-max range (linear, unclipped, not inverted),
            // resized as float, quantised to uint16; the chosen window is resolved on the same pixels.
            var o = settings.render
            o.window = .auto
            o.invertMonochrome1 = false
            o.output = .float32
            if case .letterbox = o.aspect { o.aspect = .letterbox(pad: 0) }
            var display = [Float](repeating: 0, count: h * w)
            let m = file.metadata
            g = try display.withUnsafeMutableBytes { buffer in
                try Renderer.render(file, options: o, into: buffer, rowStride: w * 4, workspace: workspace) { pixels in
                    let range = try DisplayTransform.make(metadata: m, pixels: pixels, choice: .auto, invertMonochrome1: false, source: file.source)
                    let chosen = try DisplayTransform.make(metadata: m, pixels: pixels, choice: settings.render.window, invertMonochrome1: true, source: file.source)
                    guard case .range(let lo, let hi) = range.voi else { throw VinDrError(.internal, "auto window is not a range") }
                    values = [lo, hi > lo ? hi : lo]
                    invert = chosen.invert
                    switch chosen.voi {
                    case .window(let c, let width, let f): window = CacheRecord.Window(center: c, width: width, function: f.rawValue)
                    case .range(let a, let b): window = CacheRecord.Window(low: a, high: b)
                    case .lut, .kaggle:
                        throw VinDrError(.unsupported, file.source, "a raw16 cache reads windows, not VOI LUT tables; build it with window 'auto'")
                    }
                }
            }
            image = npyHeader(dtype: "<u2", height: h, width: w)
            image.reserveCapacity(image.count + 2 * h * w)
            for v in display {
                let q = UInt16((min(max(v, 0), 1) * 65535).rounded(.toNearestOrEven))
                image.append(UInt8(q & 0xff))
                image.append(UInt8(q >> 8))
            }
        }
        let crc = image.withUnsafeBytes { crc32Checksum($0) }
        func outputBoxes(_ flat: [Float]) -> [[Double]] {
            stride(from: 0, to: flat.count - flat.count % 4, by: 4).map { i in
                let b = g.transform(box: (Double(flat[i]), Double(flat[i + 1]), Double(flat[i + 2]), Double(flat[i + 3])))
                return [b.0, b.1, b.2, b.3]
            }
        }
        let record = CacheRecord(imageID: s.imageID, source: s.path, sourceSize: st.size, sourceModified: st.modified, sourceCRC32: sourceCRC,
                                 sourceWidth: g.sourceWidth, sourceHeight: g.sourceHeight, crc32: crc,
                                 transform: [g.scaleX, g.scaleY, g.offsetX, g.offsetY], boxes: outputBoxes(s.boxes), labels: s.labels,
                                 globalLabels: s.globalLabels,
                                 readers: s.readerTargets.map { CacheRecord.Reader(boxes: outputBoxes($0.boxes), labels: $0.labels, reader: $0.reader) },
                                 readerIDs: s.readerIDs,
                                 settings: settings, values: values, window: window, invert: invert)
        return (record, image)
    }
}
