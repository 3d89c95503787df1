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

/// How cached images are stored: greyscale JPEG (TurboJPEG) at a quality of 1...100, or raw uint8.
public enum CacheFormat: Equatable, Sendable {
    case jpeg(quality: Int)
    case raw

    /// "jpeg" or "raw", as index.json and the CLI spell it.
    public var name: String {
        switch self {
        case .jpeg: return "jpeg"
        case .raw: return "raw"
        }
    }
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
    /// with MONOCHROME1 inverted (what index.json records), and a JPEG quality of 1...100.
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

/// index.json's "settings": height, width, letterbox, pad, window ("dicom", "auto", "kaggle"),
/// format ("jpeg", "raw"), quality, and decode ("exact", "fast"; absent in caches built before
/// 0.4, whose renders used the then-default reduced-resolution decoding, so absent reads as "fast").
extension CacheSettings: Codable {
    private enum Key: String, CodingKey { case height, width, letterbox, pad, window, format, quality, decode }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let windowName = try c.decode(String.self, forKey: .window)
        let formatName = try c.decode(String.self, forKey: .format)
        let decodeName = try c.decodeIfPresent(String.self, forKey: .decode) ?? DecodeMode.fast.rawValue
        guard let window = WindowChoice(name: windowName), let decode = DecodeMode(rawValue: decodeName),
              formatName == "jpeg" || formatName == "raw" else {
            throw VinDrError(.format, "cache settings: window '\(windowName)', format '\(formatName)' or decode '\(decodeName)' unknown")
        }
        let pad = try c.decode(Double.self, forKey: .pad)
        let render = RenderOptions(size: .exact(height: try c.decode(Int.self, forKey: .height), width: try c.decode(Int.self, forKey: .width)),
                                   aspect: try c.decode(Bool.self, forKey: .letterbox) ? .letterbox(pad: pad) : .stretch,
                                   window: window, decode: decode)
        self.init(render: render, format: formatName == "raw" ? .raw : .jpeg(quality: try c.decode(Int.self, forKey: .quality)))
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

/// One cached image: where its bytes are, their checksum, and the render geometry.
public struct CacheEntry: Codable, Equatable, Sendable {
    public var imageID: String
    public var source: String
    /// Source file size and modification time (seconds) when rendered: a changed file is re-rendered.
    public var sourceSize: Int64
    public var sourceModified: Double
    public var shard: Int
    public var offset: Int64
    public var length: Int
    public var crc32: UInt32
    /// scale_x, scale_y, offset_x, offset_y of the render.
    public var transform: [Double]
    /// Source image size (width, height) in pixels.
    public var sourceWidth: Int
    public var sourceHeight: Int
}

/// The cache's index file (index.json): settings plus entries, rewritten atomically.
public struct CacheIndex: Codable, Sendable {
    public static let fileName = "index.json"
    public var version = 1
    public var settings: CacheSettings
    public var entries: [CacheEntry]

    public static func load(_ directory: String) throws -> CacheIndex {
        let path = FileSystem.joined(directory, fileName)
        let bytes: [UInt8]
        bytes = try FileSystem.readAll(path)
        do { return try JSONDecoder().decode(CacheIndex.self, from: Data(bytes)) } catch { throw VinDrError(.format, path, "malformed cache index (\(error))") }
    }

    func save(_ directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileSystem.writeAtomically(try encoder.encode(self), to: FileSystem.joined(directory, Self.fileName))
    }

    static func shardName(_ n: Int) -> String {
        let digits = String(n)
        return "shard-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits + ".bin"
    }
}

/// Reads cached images (shards mapped read-only; entries looked up by image id).
final class CacheReader: @unchecked Sendable {
    let index: CacheIndex
    private let shards: [MappedFile]
    private let byID: [String: Int]

    init(directory: String) throws {
        index = try CacheIndex.load(directory)
        let s = index.settings
        do { try s.validate() } catch let e as VinDrError {
            throw VinDrError(.format, directory, "cache settings are not valid: \(e.message)")
        }
        for e in index.entries {
            guard e.transform.count == 4, e.transform.allSatisfy(\.isFinite), e.shard >= 0, e.shard < 100_000, e.offset >= 0,
                  e.length >= 0, e.sourceWidth >= 1, e.sourceHeight >= 1 else {
                throw VinDrError(.format, "\(directory): cache entry of \(e.imageID) is malformed")
            }
        }
        let count = (index.entries.map(\.shard).max() ?? -1) + 1
        shards = try (0..<count).map { n in
            let path = FileSystem.joined(directory, CacheIndex.shardName(n))
            return try MappedFile(path)
        }
        var m: [String: Int] = [:]
        for (i, e) in index.entries.enumerated() { m[e.imageID] = i }
        byID = m
    }

    func entry(_ imageID: String) -> CacheEntry? { byID[imageID].map { index.entries[$0] } }

    /// Decodes the cached image into `slot` (height x width uint8), verifying its checksum.
    func read(_ e: CacheEntry, into slot: UnsafeMutableRawPointer, codec: GrayJPEG?) throws {
        let s = index.settings
        guard e.shard < shards.count, e.offset >= 0, e.offset <= Int64(shards[e.shard].bytes.count),
              e.length <= shards[e.shard].bytes.count - Int(e.offset) else {
            throw VinDrError(.format, "cache entry of \(e.imageID) points outside shard \(e.shard)")
        }
        let shard = shards[e.shard]
        let bytes = UnsafeRawBufferPointer(rebasing: shard.bytes[Int(e.offset)..<(Int(e.offset) + e.length)])
        guard crc32Checksum(bytes) == e.crc32 else { throw VinDrError(.format, "cache entry of \(e.imageID) fails its CRC-32 check") }
        if s.format == .raw {
            guard e.length == s.height * s.width else { throw VinDrError(.format, "cache entry of \(e.imageID) has \(e.length) bytes") }
            slot.copyMemory(from: bytes.baseAddress!, byteCount: e.length)
        } else {
            guard let codec else { throw VinDrError(.internal, "no JPEG decoder") }
            try codec.decode(bytes, width: s.width, height: s.height, into: slot)
        }
    }
}

/// CRC-32 (ISO 3309, zlib's polynomial) of a cache entry, computed by zlib.
func crc32Checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    return UInt32(crc32(0, base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
}
