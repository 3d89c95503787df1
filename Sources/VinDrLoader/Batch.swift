#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrCore

/// Memory for one batch of images, reused from batch to batch and epoch to epoch. Not zeroed:
/// every image slot handed out is fully written by its renderer first.
final class BatchBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) throws {
        bytes = try allocateBytes(byteCount, alignment: 64, for: "a batch buffer")
    }

    deinit { free(bytes.baseAddress) }
}

/// `count` bytes aligned to `alignment` (release them with free()), or a VinDrError when the
/// system refuses them: Swift's own allocation would abort the process instead.
func allocateBytes(_ count: Int, alignment: Int, for what: String) throws -> UnsafeMutableRawBufferPointer {
    var p: UnsafeMutableRawPointer?
    guard count >= 0, posix_memalign(&p, alignment, max(count, 1)) == 0, let p else {
        throw VinDrError(.noMemory, "cannot allocate \(count) bytes for \(what): out of memory")
    }
    return UnsafeMutableRawBufferPointer(start: p, count: count)
}

/// One batch: a contiguous image array and per-image targets in output pixels.
///
/// `images` is borrowed from the loader's buffer pool: it stays valid until the next call to
/// `EpochRun.next()` or `close()` (copy it to keep it).
public final class Batch: @unchecked Sendable {
    public let epoch: Int
    public let step: Int
    /// Images in this batch (fewer than the batch size for a short last batch or skipped images).
    public internal(set) var count = 0
    public internal(set) var imageIDs: [String] = []
    /// Indices of the samples in the loader's sample list.
    public internal(set) var sampleIndices: [Int] = []
    /// count x (channels, height, width) or (height, width, channels) samples of the dtype.
    public var images: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<(count * imageBytes)]) }
    /// Boxes of all images, x_min, y_min, x_max, y_max in output pixels, 4 values per box.
    public internal(set) var boxes: [Float] = []
    public internal(set) var labels: [Int64] = []
    /// Image i owns boxes boxOffsets[i] ..< boxOffsets[i + 1] (count + 1 entries).
    public internal(set) var boxOffsets: [Int64] = [0]
    /// count x globalLabelCount multi-hot values.
    public internal(set) var globalLabels: [Float] = []
    /// Per image: scale_x, scale_y, offset_x, offset_y (output = source * scale + offset, before
    /// any flip) and 1.0 when flipped horizontally, else 0.0: 5 values per image.
    public internal(set) var transforms: [Double] = []
    /// Per image: the window adjustment it was rendered with (`LoaderOptions.windowJitter`),
    /// width scale and center shift: 2 values per image (1, 0 without jitter).
    public internal(set) var windowAdjustments: [Double] = []
    /// Images left out under ErrorPolicy.skip: (image id, reason).
    public internal(set) var skipped: [(String, String)] = []

    let buffer: BatchBuffer
    let imageBytes: Int

    init(epoch: Int, step: Int, buffer: BatchBuffer, imageBytes: Int) {
        self.epoch = epoch
        self.step = step
        self.buffer = buffer
        self.imageBytes = imageBytes
    }
}
