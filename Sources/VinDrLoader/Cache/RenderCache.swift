import CZlib
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

/// How cached images are stored: greyscale JPEG (TurboJPEG, a `.jpg` member) at a quality of
/// 1...100, raw uint8 display values (`.npy`), or `raw16`: the modality values resized and
/// quantised to uint16 over the image's own range (`.npy`), windowed when read, so a loader can
/// draw a new window per sample (window jitter) at cache speed.
public enum CacheFormat: Equatable, Sendable {
    case jpeg(quality: Int)
    case raw
    case raw16

    /// "jpeg", "raw" or "raw16", as the sample records and the CLI spell it.
    public var name: String {
        switch self {
        case .jpeg: return "jpeg"
        case .raw: return "raw"
        case .raw16: return "raw16"
        }
    }

    /// The format named `name` ("jpeg" with `quality`).
    public init?(name: String, quality: Int = 90) {
        switch name {
        case "jpeg": self = .jpeg(quality: quality)
        case "raw": self = .raw
        case "raw16": self = .raw16
        default: return nil
        }
    }

    /// The image member's extension: WebDataset decoders pick the decoder by it.
    var fileExtension: String { self == .raw || self == .raw16 ? "npy" : "jpg" }
}

/// What a cache holds: every image rendered once with one set of render options (an exact size,
/// a named window: dicom, auto or kaggle), stored in one format, so epochs read small encoded
/// images instead of decoding DICOMs.
public struct CacheSettings: Equatable, Sendable {
    /// The render options of every cached image; output is uint8 and one thread renders each.
    public private(set) var render: RenderOptions
    public var format: CacheFormat

    /// The settings of a cache of `render`'s images in `format` (output and threads are the cache's).
    public init(render: RenderOptions, format: CacheFormat) {
        var r = render
        r.output = .uint8
        r.threads = 1
        self.render = r
        self.format = format
    }

    public var height: Int { render.exactSize?.height ?? 0 }
    public var width: Int { render.exactSize?.width ?? 0 }

    /// The render options' own checks, an exact size of 1...16384 a side, a named window, frame 0
    /// with MONOCHROME1 inverted (what the records hold), a JPEG quality of 1...100, and for raw16
    /// a window that is a window or range ("dicom" or "auto"; the Kaggle recipe works on bytes).
    public func validate() throws {
        try render.validate()
        guard let (h, w) = render.exactSize, (1...16384).contains(h), (1...16384).contains(w) else {
            throw VinDrError(.argument, "a cache needs an exact output size of 1...16384 a side")
        }
        guard render.window.name != nil else { throw VinDrError(.argument, "a cache's window must be 'dicom', 'auto' or 'kaggle'") }
        guard render.frame == 0, render.invertMonochrome1 else {
            throw VinDrError(.argument, "a cache holds frame 0 with MONOCHROME1 inverted")
        }
        if case .jpeg(let q) = format, !(1...100).contains(q) { throw VinDrError(.argument, "JPEG quality \(q) not in 1...100") }
        if format == .raw16 && render.window == .kaggle { throw VinDrError(.argument, "a raw16 cache needs window 'dicom' or 'auto'; 'kaggle' is an 8-bit recipe") }
    }

    /// Why a cache with `self` cannot serve a loader rendering with `loader` (nil when it can).
    func mismatch(with loader: RenderOptions) -> String? {
        let needed = CacheSettings(render: loader, format: format).render
        var diffs: [String] = []
        if render.size != needed.size { diffs.append("size \(render.size) vs \(needed.size)") }
        if render.aspect != needed.aspect { diffs.append("aspect \(render.aspect) vs \(needed.aspect)") }
        if render.window != needed.window { diffs.append("window \(render.window) vs \(needed.window)") }
        if render.decode != needed.decode { diffs.append("decode \(render.decode.rawValue) vs \(needed.decode.rawValue)") }
        if render.frame != needed.frame || render.invertMonochrome1 != needed.invertMonochrome1 {
            diffs.append("frame 0 with MONOCHROME1 inverted vs frame \(needed.frame), invert \(needed.invertMonochrome1)")
        }
        return diffs.isEmpty ? nil : "cache built with " + diffs.joined(separator: ", ")
    }
}

/// A record's "settings": height, width, letterbox, pad, window ("dicom", "auto", "kaggle"),
/// format ("jpeg", "raw", "raw16"), quality (0 unless jpeg), and decode ("exact", "fast").
extension CacheSettings: Codable {
    private enum Key: String, CodingKey { case height, width, letterbox, pad, window, format, quality, decode }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let windowName = try c.decode(String.self, forKey: .window)
        let formatName = try c.decode(String.self, forKey: .format)
        let decodeName = try c.decode(String.self, forKey: .decode)
        let quality = try c.decode(Int.self, forKey: .quality)
        guard let window = WindowChoice(name: windowName), let decode = DecodeMode(rawValue: decodeName),
              let format = CacheFormat(name: formatName, quality: quality) else {
            throw VinDrError(.format, "cache settings: window '\(windowName)', format '\(formatName)' or decode '\(decodeName)' unknown")
        }
        let pad = try c.decode(Double.self, forKey: .pad)
        let render = RenderOptions(size: .exact(height: try c.decode(Int.self, forKey: .height), width: try c.decode(Int.self, forKey: .width)),
                                   aspect: try c.decode(Bool.self, forKey: .letterbox) ? .letterbox(pad: pad) : .stretch,
                                   window: window, decode: decode)
        self.init(render: render, format: format)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(height, forKey: .height)
        try c.encode(width, forKey: .width)
        if case .letterbox(let pad) = render.aspect {
            try c.encode(true, forKey: .letterbox)
            try c.encode(pad, forKey: .pad)
        } else {
            try c.encode(false, forKey: .letterbox)
            try c.encode(0.0, forKey: .pad)
        }
        try c.encode(render.window.name ?? "", forKey: .window)
        try c.encode(format.name, forKey: .format)
        if case .jpeg(let q) = format { try c.encode(q, forKey: .quality) } else { try c.encode(0, forKey: .quality) }
        try c.encode(render.decode.rawValue, forKey: .decode)
    }
}


/// The `{key}.json` member of a cached sample: where the image came from, how it was rendered,
/// and its targets, so a WebDataset reader needs nothing else. Boxes are in output pixels
/// (x_min, y_min, x_max, y_max); `transform` (scale_x, scale_y, offset_x, offset_y) maps source
/// pixels to them.
public struct CacheRecord: Codable, Equatable, Sendable {
    /// One reader's boxes (output pixels), class indices and id.
    public struct Reader: Codable, Equatable, Sendable {
        public var boxes: [[Double]]
        public var labels: [Int64]
        public var reader: String?
    }

    /// The window a raw16 image is read with: a PS3.3 C.11.2 window (`function` LINEAR,
    /// LINEAR_EXACT or SIGMOID) or a linear range (`low`, `high`), in modality values.
    public struct Window: Codable, Equatable, Sendable {
        public var center: Double?
        public var width: Double?
        public var function: String?
        public var low: Double?
        public var high: Double?
    }

    public var imageID: String
    public var source: String
    /// Source file size, modification time (seconds) and CRC-32 when rendered.
    public var sourceSize: Int64
    public var sourceModified: Double
    public var sourceCRC32: UInt32
    public var sourceWidth: Int
    public var sourceHeight: Int
    /// CRC-32 of the image member's bytes, checked on every read.
    public var crc32: UInt32
    public var transform: [Double]
    public var boxes: [[Double]]
    public var labels: [Int64]
    public var globalLabels: [Float]
    public var readers: [Reader]
    /// The radiologists who read the image (rad_id).
    public var readerIDs: [String]
    public var settings: CacheSettings
    /// raw16: the modality values of 0 and 65535 (linear between), the image's own window, and
    /// whether it is MONOCHROME1 (displayed inverted).
    public var values: [Double]?
    public var window: Window?
    public var invert: Bool?

    enum CodingKeys: String, CodingKey {
        case imageID = "image_id", source, sourceSize = "source_size", sourceModified = "source_mtime"
        case sourceCRC32 = "source_crc32", sourceWidth = "source_width", sourceHeight = "source_height", crc32, transform
        case boxes, labels, globalLabels = "global_labels", readers, readerIDs = "reader_ids", settings, values, window, invert
    }

    /// Whether the source size is a DICOM one (1...65535 a side) and the transform places a
    /// content rectangle inside the output: scales in (0, 65535], offsets within the output.
    var hasValidGeometry: Bool {
        let t = transform
        guard t.count == 4, t.allSatisfy(\.isFinite), (1...65535).contains(sourceWidth), (1...65535).contains(sourceHeight) else { return false }
        return t[0] > 0 && t[0] <= 65535 && t[1] > 0 && t[1] <= 65535
            && t[2] >= 0 && t[2] <= Double(settings.width) && t[3] >= 0 && t[3] <= Double(settings.height)
    }

    var geometry: RenderGeometry {
        RenderGeometry(outputWidth: settings.width, outputHeight: settings.height, scaleX: transform[0], scaleY: transform[1],
                       offsetX: transform[2], offsetY: transform[3], sourceWidth: sourceWidth, sourceHeight: sourceHeight)
    }

    /// The display transform of a raw16 image: its uint16 values to modality values, its window.
    var raw16Transform: DisplayTransform? {
        guard let values, values.count == 2, let window, let invert else { return nil }
        let voi: DisplayTransform.VOI
        if let c = window.center, let w = window.width, let f = window.function.flatMap(VOIFunction.init(rawValue:)) {
            voi = .window(center: c, width: w, function: f)
        } else if let lo = window.low, let hi = window.high {
            voi = .range(low: lo, high: hi)
        } else {
            return nil
        }
        return DisplayTransform(modality: .rescale(slope: (values[1] - values[0]) / 65535, intercept: values[0]), voi: voi, invert: invert)
    }

    /// The record in member `m` of the mapped shard `file` (a format error names `path`).
    static func read(_ file: MappedFile, _ m: TarArchive.Member, path: String) throws -> CacheRecord {
        do { return try JSONDecoder().decode(CacheRecord.self, from: Data(UnsafeRawBufferPointer(rebasing: file.bytes[m.offset..<(m.offset + m.size)]))) } catch {
            throw VinDrError(.format, path, "\(m.name) is not a vindr cache record (\(error))")
        }
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }
}

/// NumPy's .npy header (format 1.0) of a C-order `height` x `width` array of `dtype` ("|u1",
/// "<u2"), padded so the data starts 128 bytes in: 64-byte aligned inside a tar member.
func npyHeader(dtype: String, height: Int, width: Int) -> [UInt8] {
    var dict = "{'descr': '\(dtype)', 'fortran_order': False, 'shape': (\(height), \(width)), }"
    while (10 + dict.utf8.count + 1) % 128 != 0 { dict += " " }
    dict += "\n"
    let n = dict.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xff), UInt8(n >> 8)] + Array(dict.utf8)
}

/// The cache's manifest (index.json): settings, shards in order and their sample counts. Written
/// atomically at the end of a build or by `CacheBuilder.merge`; a directory without it is read
/// from its shard files.
public struct CacheIndex: Codable, Sendable {
    public static let fileName = "index.json"
    public static let version = 2

    public struct Shard: Codable, Sendable, Equatable {
        public var name: String
        public var samples: Int
        public var bytes: Int64
    }

    public var version = CacheIndex.version
    public var format = "webdataset"
    public var settings: CacheSettings
    public var samples: Int
    public var shards: [Shard]

    public static func load(_ directory: String) throws -> CacheIndex {
        let path = FileSystem.joined(directory, fileName)
        let bytes = try FileSystem.readAll(path)
        struct Version: Decodable { var version: Int }
        if let v = try? JSONDecoder().decode(Version.self, from: Data(bytes)), v.version != version {
            throw VinDrError(.format, path, "cache format version \(v.version) (shard-*.bin, before 0.6); rebuild it with this version")
        }
        do { return try JSONDecoder().decode(CacheIndex.self, from: Data(bytes)) } catch { throw VinDrError(.format, path, "malformed cache index (\(error))") }
    }

    func save(_ directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(try encoder.encode(self), to: FileSystem.joined(directory, Self.fileName))
    }

    /// "shard-00042.tar".
    public static func shardName(_ n: Int) -> String {
        let digits = String(n)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".tar"
    }

    /// The shard number of a file named like `shardName`, else nil.
    static func shardNumber(_ name: String) -> Int? {
        guard name.hasPrefix("shard-"), name.hasSuffix(".tar") else { return nil }
        return Int(name.dropFirst(6).dropLast(4))
    }
}

/// One sample found in a shard: its record and where its image member lies.
struct CachedSample {
    var record: CacheRecord
    var shard: Int
    var offset: Int
    var length: Int
}

/// Reads a cache: WebDataset shards mapped read-only, samples looked up by image id. `location`
/// is a cache directory (its index.json's shards, else every shard-*.tar in it), one .tar file, or
/// several paths separated by newlines. Every record must carry the same settings.
final class CacheReader: @unchecked Sendable {
    let settings: CacheSettings
    private let shards: [MappedFile]
    private let byID: [String: CachedSample]
    /// The .npy header every raw (uint8) or raw16 (uint16) member starts with.
    private let npy: [UInt8]

    init(location: String) throws {
        let paths = try CacheReader.shardPaths(location)
        guard !paths.isEmpty else { throw VinDrError(.io, location, "no cache shards (shard-*.tar) found") }
        var mapped: [MappedFile] = []
        var samples: [String: CachedSample] = [:]
        var first: CacheSettings?
        for (n, path) in paths.enumerated() {
            let file = try MappedFile(path)
            mapped.append(file)
            let members = try TarArchive.members(file.bytes, source: path)
            var images: [String: TarArchive.Member] = [:]
            var records: [(String, TarArchive.Member)] = []
            for m in members {
                let name = FileSystem.lastComponent(m.name)
                guard let dot = name.firstIndex(of: ".") else { continue }
                let key = String(name[..<dot]), ext = name[name.index(after: dot)...]
                if ext == "json" { records.append((key, m)) } else if ext == "jpg" || ext == "npy" { images[key] = m }
            }
            for (key, m) in records {
                let record = try CacheRecord.read(file, m, path: path)
                guard let image = images[key], record.imageID == key, record.hasValidGeometry else {
                    throw VinDrError(.format, path, "sample \(key): record malformed or image member missing")
                }
                if let first, first != record.settings {
                    throw VinDrError(.format, path, "sample \(key) was rendered with other settings than the rest of the cache")
                }
                if first == nil {
                    do { try record.settings.validate() } catch let e as VinDrError {
                        throw VinDrError(.format, path, "cache settings are not valid: \(e.message)")
                    }
                    first = record.settings
                }
                if record.settings.format == .raw16 && record.raw16Transform == nil {
                    throw VinDrError(.format, path, "sample \(key): raw16 record without its values and window")
                }
                if let other = samples[key] { throw VinDrError(.format, path, "sample \(key) is also in \(paths[other.shard])") }
                samples[key] = CachedSample(record: record, shard: n, offset: image.offset, length: image.size)
            }
        }
        guard let first else { throw VinDrError(.format, location, "the cache shards hold no samples") }
        settings = first
        shards = mapped
        byID = samples
        npy = npyHeader(dtype: first.format == .raw16 ? "<u2" : "|u1", height: first.height, width: first.width)
    }

    /// The shard files `location` names (see the type's comment).
    static func shardPaths(_ location: String) throws -> [String] {
        let parts = location.split(separator: "\n").map(String.init)
        if parts.count > 1 { return parts }
        guard let isDirectory = FileSystem.isDirectory(location) else { throw VinDrError(.io, location, "no such cache directory or shard") }
        guard isDirectory else { return [location] }
        if FileSystem.isDirectory(FileSystem.joined(location, CacheIndex.fileName)) == false {
            return try CacheIndex.load(location).shards.map { FileSystem.joined(location, $0.name) }
        }
        return try CacheBuilder.topLevelFiles(location).filter { CacheIndex.shardNumber(FileSystem.lastComponent($0)) != nil }
    }

    func entry(_ imageID: String) -> CachedSample? { byID[imageID] }

    /// Every cached sample, in no particular order.
    var samples: Dictionary<String, CachedSample>.Values { byID.values }

    /// The image member's bytes after checking its CRC-32.
    func imageBytes(_ e: CachedSample) throws -> UnsafeRawBufferPointer {
        let bytes = UnsafeRawBufferPointer(rebasing: shards[e.shard].bytes[e.offset..<(e.offset + e.length)])
        guard crc32Checksum(bytes) == e.record.crc32 else { throw VinDrError(.format, "cache sample \(e.record.imageID) fails its CRC-32 check") }
        return bytes
    }

    /// Decodes a jpeg or raw cached image into `slot` (height x width uint8).
    func read(_ e: CachedSample, into slot: UnsafeMutableRawPointer, codec: GrayJPEG?) throws {
        let s = settings
        let bytes = try imageBytes(e)
        switch s.format {
        case .raw:
            guard bytes.count == npy.count + s.height * s.width, bytes.prefix(npy.count).elementsEqual(npy), let base = bytes.baseAddress else {
                throw VinDrError(.format, "cache sample \(e.record.imageID) is not a \(s.height)x\(s.width) uint8 array")
            }
            slot.copyMemory(from: base + npy.count, byteCount: s.height * s.width)
        case .jpeg:
            guard let codec else { throw VinDrError(.internal, "no JPEG decoder") }
            try codec.decode(bytes, width: s.width, height: s.height, into: slot)
        case .raw16:
            throw VinDrError(.internal, "raw16 samples are read with readRaw16")
        }
    }

    /// Windows a raw16 cached image into `slot` as uint8 (`float` false) or float32 display
    /// values: the record's window, adjusted by `adjustment`, then MONOCHROME1 inversion; the
    /// letterbox padding is `pad`.
    func readRaw16(_ e: CachedSample, adjustment: WindowAdjustment, into slot: UnsafeMutableRawPointer, float: Bool) throws {
        let s = settings
        let bytes = try imageBytes(e)
        let plane = s.height * s.width
        guard bytes.count == npy.count + 2 * plane, bytes.prefix(npy.count).elementsEqual(npy), let base = bytes.baseAddress,
              let transform = e.record.raw16Transform?.adjusted(by: adjustment) else {
            throw VinDrError(.format, "cache sample \(e.record.imageID) is not a \(s.height)x\(s.width) uint16 array with its window")
        }
        let map = CacheReader.raw16Map(transform)
        let values = (base + npy.count).assumingMemoryBound(to: UInt16.self)
        let pad: Float
        if case .letterbox(let p) = s.render.aspect { pad = Float(p) } else { pad = 0 }
        let g = e.record.geometry
        let (x0, y0) = (Int(g.offsetX), Int(g.offsetY))
        let (x1, y1) = (min(s.width, x0 + g.contentWidth), min(s.height, y0 + g.contentHeight))
        if float {
            fill(slot.assumingMemoryBound(to: Float.self), width: s.width, height: s.height, content: (x0, y0, x1, y1), pad: pad,
                 values: values, map: map) { $0 }
        } else {
            // Display values to bytes rounded, as the renderer's uint8 output.
            fill(slot.assumingMemoryBound(to: UInt8.self), width: s.width, height: s.height, content: (x0, y0, x1, y1),
                 pad: UInt8(min(max(pad, 0), 1) * 255 + 0.5), values: values, map: map) { UInt8($0 * 255 + 0.5) }
        }
    }

    /// Writes the padding and, inside `content` (x0, y0, x1, y1), each value's display value
    /// converted by `convert`.
    @inline(__always)
    private func fill<T>(_ out: UnsafeMutablePointer<T>, width: Int, height: Int, content: (Int, Int, Int, Int), pad: T,
                         values: UnsafePointer<UInt16>, map: Raw16Map, convert: (Float) -> T) {
        let (x0, y0, x1, y1) = content
        for y in 0..<height {
            let row = out + y * width, src = values + y * width
            guard y >= y0 && y < y1 else { row.update(repeating: pad, count: width); continue }
            row.update(repeating: pad, count: x0)
            (row + x1).update(repeating: pad, count: width - x1)
            switch map {
            case .affine(let a, let b):
                for x in x0..<x1 { row[x] = convert(min(1, max(0, a * Float(UInt16(littleEndian: src[x])) + b))) }
            case .table(let t):
                t.withUnsafeBufferPointer { lut in
                    for x in x0..<x1 { row[x] = convert(min(1, max(0, lut[Int(UInt16(littleEndian: src[x]))]))) }
                }
            }
        }
    }
}

/// How a raw16 value becomes a display value: clamp(a q + b), or a table of 65536 entries.
enum Raw16Map {
    case affine(Float, Float)
    case table([Float])
}

extension CacheReader {
    /// The display mapping of uint16 values. A LINEAR or LINEAR_EXACT window (PS3.3 C.11.2.1.2.1,
    /// C.11.2.1.3.2) or a range is affine between its clamps, so with a rescale (and MONOCHROME1's
    /// 1 - y) it is clamp(a q + b); other transforms use their own table.
    static func raw16Map(_ t: DisplayTransform) -> Raw16Map {
        guard case .rescale(let k, let lo) = t.modality, t.outputAdjustment.isIdentity else { return .table(t.table(format: .uint16, bitsStored: 16)) }
        let a: Double, b: Double
        switch t.voi {
        case .window(let c, let w, .linear) where w > 1: (a, b) = (1 / (w - 1), 0.5 - (c - 0.5) / (w - 1))
        case .window(let c, let w, .linearExact) where w > 0: (a, b) = (1 / w, 0.5 - c / w)
        case .range(let l, let h) where h > l: (a, b) = (1 / (h - l), -l / (h - l))
        default: return .table(t.table(format: .uint16, bitsStored: 16))
        }
        let (slope, intercept) = (a * k, a * lo + b)
        return t.invert ? .affine(Float(-slope), Float(1 - intercept)) : .affine(Float(slope), Float(intercept))
    }
}

/// CRC-32 (ISO 3309, zlib's polynomial) of a cache entry, computed by zlib.
func crc32Checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
    var crc = UInt(seed)
    var offset = 0
    while offset < bytes.count {  // zlib's length is 32-bit
        let n = min(bytes.count - offset, 1 << 30)
        crc = crc32(crc, base.assumingMemoryBound(to: Bytef.self) + offset, uInt(n))
        offset += n
    }
    return UInt32(crc)
}
