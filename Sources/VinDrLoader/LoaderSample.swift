import VinDrDICOM
import VinDrImaging

/// One image and its training targets, in source pixel coordinates.
public struct LoaderSample: Sendable, Equatable {
    public var imageID: String
    public var path: String
    /// Boxes as x_min, y_min, x_max, y_max in source pixels, 4 values per box.
    public var boxes: [Float]
    /// Class index per box.
    public var labels: [Int64]
    /// Multi-hot vector of image-level labels (may be empty).
    public var globalLabels: [Float]
    /// When not empty, each epoch uses one of these target sets (one per reader), drawn per
    /// (seed, epoch, sample) instead of `boxes`/`labels`.
    public var readerTargets: [ReaderTargets] = []
    /// The radiologists who read the image (empty when unknown or for a consensus).
    public var readerIDs: [String] = []

    public init(imageID: String, path: String, boxes: [Float] = [], labels: [Int64] = [], globalLabels: [Float] = []) {
        self.imageID = imageID
        self.path = path
        self.boxes = boxes
        self.labels = labels
        self.globalLabels = globalLabels
    }
}

/// One reader's boxes (4 values each, source pixels) and class indices.
public struct ReaderTargets: Sendable, Equatable {
    public var boxes: [Float]
    public var labels: [Int64]
    /// The reader's id (rad_id), when known.
    public var reader: String?

    public init(boxes: [Float], labels: [Int64], reader: String? = nil) {
        self.boxes = boxes
        self.labels = labels
        self.reader = reader
    }
}

/// Output sample type of loader images.
public enum LoaderDType: Int, Sendable {
    case uint8 = 1, float16 = 2, float32 = 4

    public var bytesPerSample: Int { rawValue }
}

/// Memory layout of a batch of images with `channels` channels.
public enum LoaderLayout: Sendable {
    case nchw, nhwc
}

/// What happens when an image cannot be read.
public enum ErrorPolicy: Sendable {
    /// The batch fails with an error naming the image and the reason.
    case raise
    /// The image is left out of its batch and reported in `Batch.skipped`.
    case skip
}

/// Loader configuration.
public struct LoaderOptions: Sendable {
    /// How each image is rendered (`Renderer`): `size` must be `.exact(height:width:)` with both
    /// in 1...16384, since a batch has one shape. The default is 1024 x 1024 letterboxed with pad 0,
    /// the file's window (`.dicom`) and exact decoding. The loader renders each image on one worker
    /// thread into its own `dtype`, so `render.output` and `render.threads` are not used.
    public var render: RenderOptions
    public var dtype: LoaderDType
    public var layout: LoaderLayout
    /// 1 (grey) or 3 (grey replicated, for backbones trained on RGB).
    public var channels: Int
    public var batchSize: Int
    public var shuffle: Bool
    public var seed: UInt64
    public var dropLast: Bool
    public var rank: Int
    public var worldSize: Int
    /// Worker threads rendering batches; 0 (the default) means one per online core.
    public var workers: Int
    /// Batches rendered ahead of the consumer (memory is bounded by prefetch + 1 batches).
    public var prefetch: Int
    /// Probability of a horizontal flip per sample (boxes flipped too); 0 disables.
    public var flipProbability: Double
    /// Window jitter j in [0, 0.5] (0, the default, disables): each sample's window (after
    /// `render.windowAdjustment`) is scaled in width by a factor uniform in [1 - j, 1 + j] and
    /// moved by a center shift uniform in [-j/2, j/2] widths, drawn per (seed, epoch, sample)
    /// (`WindowAdjustment`; `Batch.windowAdjustments` records each draw). Jittered samples are
    /// rendered from their DICOMs, never from an 8-bit cache.
    public var windowJitter: Double = 0
    public var errorPolicy: ErrorPolicy
    /// A cache directory (CacheBuilder) to read images from when its settings match.
    public var cache: String?
    /// Memory budget of the batch buffers, in bytes: (prefetch + 1) x batchSize x image bytes
    /// must not exceed it (default `defaultMaxBatchBytes`, 4 GiB), so in-range options that
    /// would need more memory than intended are an error when the loader is made.
    public var maxBatchBytes: Int

    public static let defaultMaxBatchBytes = 4 << 30
    /// 1024 x 1024, letterboxed with pad 0, the file's window, exact decoding.
    public static let defaultRender = RenderOptions(size: .exact(height: 1024, width: 1024), aspect: .letterbox(pad: 0))

    /// The number of worker threads `workers` asks for.
    public var workerCount: Int { workers == 0 ? onlineCores() : workers }
    /// The batch images' height and width (`render.size`; 0 when it is not an exact size).
    public var height: Int { render.exactSize?.height ?? 0 }
    public var width: Int { render.exactSize?.width ?? 0 }

    public init(render: RenderOptions = LoaderOptions.defaultRender, dtype: LoaderDType = .uint8, layout: LoaderLayout = .nchw,
                channels: Int = 1, batchSize: Int = 16, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false, rank: Int = 0,
                worldSize: Int = 1, workers: Int = 0, prefetch: Int = 2, flipProbability: Double = 0, errorPolicy: ErrorPolicy = .raise,
                cache: String? = nil, maxBatchBytes: Int = LoaderOptions.defaultMaxBatchBytes) {
        self.render = render
        self.dtype = dtype
        self.layout = layout
        self.channels = channels
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.rank = rank
        self.worldSize = worldSize
        self.workers = workers
        self.prefetch = prefetch
        self.flipProbability = flipProbability
        self.errorPolicy = errorPolicy
        self.cache = cache
        self.maxBatchBytes = maxBatchBytes
    }

    /// Each field's own range, the one place they are checked (the C setters check one field at
    /// a time with it): the render options' own (`RenderOptions.validate`) with an exact size of
    /// height and width 1...16384, channels 1 or 3, batch size 1...65536,
    /// workers 0...256 (0: one per core), prefetch 1...64, flip probability in [0, 1],
    /// rank 0...65535, world size 1...65536, window jitter in [0, 0.5], max_batch_bytes >= 1.
    public func validateFields() throws {
        try render.validate()
        guard let (height, width) = render.exactSize else {
            throw VinDrError(.argument, "the loader needs an exact output size (height x width): a batch has one shape")
        }
        guard height >= 1, width >= 1, height <= 16384, width <= 16384 else { throw VinDrError(.argument, "image size \(height)x\(width) not in 1...16384") }
        guard channels == 1 || channels == 3 else { throw VinDrError(.argument, "channels must be 1 or 3, got \(channels)") }
        guard batchSize >= 1, batchSize <= 65536 else { throw VinDrError(.argument, "batch size \(batchSize) not in 1...65536") }
        guard workers >= 0, workers <= 256 else { throw VinDrError(.argument, "workers \(workers) not in 0...256 (0: one per core)") }
        guard prefetch >= 1, prefetch <= 64 else { throw VinDrError(.argument, "prefetch \(prefetch) not in 1...64") }
        guard windowJitter >= 0, windowJitter <= 0.5 else { throw VinDrError(.argument, "window jitter \(windowJitter) not in [0, 0.5]") }
        guard flipProbability >= 0, flipProbability <= 1 else { throw VinDrError(.argument, "flip probability \(flipProbability) not in [0, 1]") }
        guard windowJitter >= 0, windowJitter <= 0.5 else { throw VinDrError(.argument, "window jitter \(windowJitter) not in [0, 0.5]") }
        guard rank >= 0, rank <= 65535 else { throw VinDrError(.argument, "rank \(rank) not in 0...65535") }
        guard worldSize >= 1, worldSize <= 65536 else { throw VinDrError(.argument, "world size \(worldSize) not in 1...65536") }
        guard maxBatchBytes >= 1 else { throw VinDrError(.argument, "max_batch_bytes \(maxBatchBytes) must be at least 1") }
    }

    /// The fields, then the memory budget of the batch buffers (when a loader is made).
    func validate() throws {
        try validateFields()
        let needed = checkedProduct(prefetch + 1, batchSize, height, width, channels, dtype.bytesPerSample)
        guard let needed, needed <= maxBatchBytes else {
            let factors = [prefetch + 1, batchSize, height, width, channels, dtype.bytesPerSample].map(String.init)
            throw VinDrError(.argument, "batch buffers need (prefetch + 1) x batch size x height x width x channels x bytes per sample = "
                              + factors.joined(separator: " x ") + " = \(needed.map(String.init) ?? "too many") bytes, "
                              + "over the memory budget max_batch_bytes = \(maxBatchBytes); lower the size, batch size or prefetch, "
                              + "or raise max_batch_bytes")
        }
    }
}
