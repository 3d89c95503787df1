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

/// What a cache holds: every image rendered once at one size and window, so epochs read small
/// encoded images instead of decoding DICOMs.
public struct CacheSettings: Codable, Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var letterbox: Bool
    public var pad: Double
    /// "dicom", "auto" or "kaggle" (`WindowChoice.name`).
    public var window: String
    /// "jpeg" (TurboJPEG, greyscale) or "raw" (uint8 pixels).
    public var format: String
    public var quality: Int
    /// "exact" or "fast" (`DecodeMode`); absent in caches built before 0.4, whose renders used
    /// the then-default reduced-resolution decoding, so absent reads as "fast".
    public var decode: String?

    public init(height: Int, width: Int, letterbox: Bool, pad: Double, window: String, format: String, quality: Int,
                decode: DecodeMode = .exact) {
        self.height = height
        self.width = width
        self.letterbox = letterbox
        self.pad = pad
        self.window = window
        self.format = format
        self.quality = quality
        self.decode = decode.rawValue
    }

    /// The decode mode the cache's images were rendered with.
    public var decodeMode: DecodeMode { DecodeMode(rawValue: decode ?? DecodeMode.fast.rawValue) ?? .fast }

    /// The settings a loader with `options` would need; nil (with the reason) when no cache can
    /// serve it.
    public static func required(by o: LoaderOptions) -> (CacheSettings?, String?) {
        guard let window = o.window.name else { return (nil, "the loader's window is not 'dicom', 'auto' or 'kaggle'") }
        return (CacheSettings(height: o.height, width: o.width, letterbox: o.letterbox, pad: o.pad, window: window, format: "", quality: 0,
                              decode: o.decode), nil)
    }

    /// Why `self` cannot serve a loader needing `other` (nil when it can).
    func mismatch(with other: CacheSettings) -> String? {
        var diffs: [String] = []
        if height != other.height || width != other.width { diffs.append("size \(height)x\(width) vs \(other.height)x\(other.width)") }
        if letterbox != other.letterbox { diffs.append("letterbox \(letterbox) vs \(other.letterbox)") }
        if pad != other.pad { diffs.append("pad \(pad) vs \(other.pad)") }
        if window != other.window { diffs.append("window \(window) vs \(other.window)") }
        if decodeMode != other.decodeMode { diffs.append("decode \(decodeMode.rawValue) vs \(other.decodeMode.rawValue)") }
        return diffs.isEmpty ? nil : "cache built with " + diffs.joined(separator: ", ")
    }

    var windowChoice: WindowChoice { WindowChoice(name: window) ?? .dicom }
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
        do { bytes = try FileSystem.readAll(path) } catch { throw LoaderError("\(path): cannot read the cache index (\(error))") }
        do { return try JSONDecoder().decode(CacheIndex.self, from: Data(bytes)) } catch { throw LoaderError("\(path): malformed cache index (\(error))") }
    }

    func save(_ directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do { try FileSystem.writeAtomically(try encoder.encode(self), to: FileSystem.joined(directory, Self.fileName)) } catch let e as DICOMError {
            throw LoaderError(e.description)
        }
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
        guard (1...16384).contains(s.height), (1...16384).contains(s.width), s.format == "jpeg" || s.format == "raw",
              s.decode.map({ DecodeMode(rawValue: $0) != nil }) ?? true else {
            throw LoaderError("\(directory): cache settings \(s.height)x\(s.width) \(s.format) are not valid")
        }
        for e in index.entries {
            guard e.transform.count == 4, e.transform.allSatisfy(\.isFinite), e.shard >= 0, e.shard < 100_000, e.offset >= 0,
                  e.length >= 0, e.sourceWidth >= 1, e.sourceHeight >= 1 else {
                throw LoaderError("\(directory): cache entry of \(e.imageID) is malformed")
            }
        }
        let count = (index.entries.map(\.shard).max() ?? -1) + 1
        shards = try (0..<count).map { n in
            let path = FileSystem.joined(directory, CacheIndex.shardName(n))
            do { return try MappedFile(path) } catch { throw LoaderError("cannot map cache shard: \(error)") }
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
            throw LoaderError("cache entry of \(e.imageID) points outside shard \(e.shard)")
        }
        let shard = shards[e.shard]
        let bytes = UnsafeRawBufferPointer(rebasing: shard.bytes[Int(e.offset)..<(Int(e.offset) + e.length)])
        guard crc32Checksum(bytes) == e.crc32 else { throw LoaderError("cache entry of \(e.imageID) fails its CRC-32 check") }
        if s.format == "raw" {
            guard e.length == s.height * s.width else { throw LoaderError("cache entry of \(e.imageID) has \(e.length) bytes") }
            slot.copyMemory(from: bytes.baseAddress!, byteCount: e.length)
        } else {
            guard let codec else { throw LoaderError("no JPEG decoder") }
            try codec.decode(bytes, width: s.width, height: s.height, into: slot)
        }
    }
}

/// CRC-32 (ISO 3309, zlib's polynomial) of a cache entry, computed by zlib.
func crc32Checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
    return UInt32(crc32(0, base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
}
