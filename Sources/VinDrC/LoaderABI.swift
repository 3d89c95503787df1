#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVinDrHandles
import VinDrAnnotations
import VinDrDICOM
import VinDrImaging
import VinDrLoader

// vdr_samples: a list of images with their targets (source pixels) to build a loader from.
// vdr_loader: renders epochs of batches on native threads. vdr_batch: one batch; its image
// memory is valid until the next vdr_loader_next or vdr_loader_stop on the same loader, its
// targets until vdr_batch_destroy. Thread safety: one consumer thread per loader.
//
// fork(): see the note on the loader options below (copied into vindr.h); the mechanism is
// `forkGeneration` and the `acrossFork` locks in Sources/VinDrDICOM/Threads.swift.

/// Loader (vdr_samples_*, vdr_loader_*, vdr_batch_*) and fork(): a child process may stop,
/// start and destroy a loader it inherited, even one forked mid-epoch (the parent's worker
/// threads are not waited for); new epochs run on new threads in the child, as in DataLoader
/// worker processes. vdr_loader_next on the inherited epoch is VDR_ERR_ARGUMENT until
/// vdr_loader_start.
/// Loader options (vdr_loader_options_set). How images are rendered (size, aspect, window,
/// decode mode) is set with vdr_loader_options_set_render; keys 1-4, 18 and 20 are retired.
/// VDR_DTYPE_UINT8 (default), VDR_DTYPE_FLOAT16 or VDR_DTYPE_FLOAT32.
public let VDR_LOPT_DTYPE: Int32 = 5
/// VDR_IMAGE_LAYOUT_NCHW (default) or VDR_IMAGE_LAYOUT_NHWC.
public let VDR_LOPT_LAYOUT: Int32 = 6
/// 1 (default) or 3 channels (grey replicated).
public let VDR_LOPT_CHANNELS: Int32 = 7
/// Images per batch, 1...65536 (default 16).
public let VDR_LOPT_BATCH_SIZE: Int32 = 8
/// 1 (default): shuffle each epoch with the seed; 0: file order.
public let VDR_LOPT_SHUFFLE: Int32 = 9
/// Seed of the shuffle, flips and reader draws, 0...2^53 (default 0).
public let VDR_LOPT_SEED: Int32 = 10
/// 1: drop the last incomplete batch; 0 (default): keep it.
public let VDR_LOPT_DROP_LAST: Int32 = 11
/// This process's rank for sharding, 0...65535 and below the world size (default 0;
/// torch.distributed semantics: every rank gets the same number of batches).
public let VDR_LOPT_RANK: Int32 = 12
/// Number of ranks sharing the samples, 1...65536 (default 1).
public let VDR_LOPT_WORLD_SIZE: Int32 = 13
/// Worker threads in 0...256; 0 (default) means one per online core, as everywhere in the SDK.
public let VDR_LOPT_WORKERS: Int32 = 14
/// Batches rendered ahead of the consumer, 1...64 (default 2).
public let VDR_LOPT_PREFETCH: Int32 = 15
/// Probability in [0, 1] of a horizontal flip per sample, boxes following (default 0).
public let VDR_LOPT_FLIP_PROBABILITY: Int32 = 16
/// VDR_ON_ERROR_RAISE (default) or VDR_ON_ERROR_SKIP.
public let VDR_LOPT_ON_ERROR: Int32 = 17
/// Memory budget of the batch buffers in bytes, >= 1 (default 4 GiB = 4294967296): vdr_loader_create
/// fails with VDR_ERR_ARGUMENT when (prefetch + 1) x batch size x height x width x channels x
/// bytes per sample exceeds it.
public let VDR_LOPT_MAX_BATCH_BYTES: Int32 = 19
/// Window jitter in [0, 0.5] (default 0: none): per sample, the width scaled by a factor uniform
/// in [1 - j, 1 + j] and the center moved by up to j/2 widths (vdr_batch_window_adjustments gives
/// each draw). Jittered samples are rendered from their DICOMs, never from a cache.
public let VDR_LOPT_WINDOW_JITTER: Int32 = 21

public let VDR_DTYPE_FLOAT16: Int32 = 6
public let VDR_IMAGE_LAYOUT_NCHW: Int32 = 0
public let VDR_IMAGE_LAYOUT_NHWC: Int32 = 1
public let VDR_ON_ERROR_RAISE: Int32 = 0
public let VDR_ON_ERROR_SKIP: Int32 = 1

final class SamplesBox {
    var samples: [LoaderSample] = []
    /// Image ids vdr_samples_from_dataset left out (VDR_MISSING_SKIP).
    var skipped: [String] = []
}

final class LoaderBox {
    let loader: Loader
    var run: EpochRun?
    init(loader: Loader) { self.loader = loader }
}

final class LoaderOptionsBox {
    var options = LoaderOptions()
}

/// Creates an empty sample list.
@c public func vdr_samples_create(_ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_samples>?>?) -> Int32 {
    abiCall { try store(SamplesBox(), to: out) }
}

/// Releases a sample list; NULL is accepted.
@c public func vdr_samples_destroy(_ samples: UnsafeMutablePointer<vdr_samples>?) {
    SamplesBox.destroy(samples)
}

/// Appends an image: `boxes` holds `box_count` x (x_min, y_min, x_max, y_max) in source pixels,
/// `labels` its class indices, `global_labels` a multi-hot vector of `global_count` values (the
/// same length for every sample).
@c public func vdr_samples_add(_ samples: UnsafeMutablePointer<vdr_samples>?, _ image_id: UnsafePointer<CChar>?, _ path: UnsafePointer<CChar>?,
                               _ boxes: UnsafePointer<Float>?, _ labels: UnsafePointer<Int64>?, _ box_count: UInt,
                               _ global_labels: UnsafePointer<Float>?, _ global_count: UInt) -> Int32 {
    abiCall {
        let box = try SamplesBox.from(samples)
        let id = try requireString(image_id, "image_id"), p = try requireString(path, "path")
        let b = try array(boxes, count: box_count, stride: 4, limit: 1 << 24, "boxes")
        guard b.allSatisfy(\.isFinite) else { throw VinDrError(.argument, "image \(id): box coordinates must be finite") }
        let l = try array(labels, count: box_count, limit: 1 << 24, "labels")
        let g = try array(global_labels, count: global_count, limit: 1 << 16, "global_labels")
        box.samples.append(LoaderSample(imageID: id, path: p, boxes: b, labels: l, globalLabels: g))
    }
}

/// Number of samples in the list.
@c public func vdr_samples_count(_ samples: UnsafeMutablePointer<vdr_samples>?, _ out_count: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall { try require(out_count, "out_count").pointee = UInt(try SamplesBox.from(samples).samples.count) }
}

/// The annotated images vdr_samples_from_dataset skipped because their DICOM is absent:
/// `out_count` receives how many, `out_ids` (may be NULL) their ids in index order separated by
/// '\n' (release with vdr_string_destroy). 0 and "" for other lists.
@c public func vdr_samples_skipped(_ samples: UnsafeMutablePointer<vdr_samples>?, _ out_count: UnsafeMutablePointer<UInt>?,
                                   _ out_ids: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let skipped = try SamplesBox.from(samples).skipped
        let count = try require(out_count, "out_count")
        if let out_ids { try store(skipped.joined(separator: "\n"), to: out_ids) }
        count.pointee = UInt(skipped.count)
    }
}

/// Creates loader options with the defaults (1024 x 1024 letterboxed uint8, batch 16, shuffle,
/// seed 0, one worker per core, prefetch 2).
@c public func vdr_loader_options_create(_ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_loader_options>?>?) -> Int32 {
    abiCall { try store(LoaderOptionsBox(), to: out) }
}

/// Releases loader options; NULL is accepted.
@c public func vdr_loader_options_destroy(_ options: UnsafeMutablePointer<vdr_loader_options>?) {
    LoaderOptionsBox.destroy(options)
}

/// Sets how the loader renders each image to a copy of `render` (vdr_render_options_*): its size
/// must be VDR_SIZE_EXACT (a batch has one shape), 1...16384 a side; aspect, window, frame,
/// MONOCHROME1 inversion and decode mode apply as in vdr_dicom_render. The default is 1024 x 1024,
/// VDR_ASPECT_LETTERBOX with pad 0, VDR_WINDOW_DICOM, VDR_DECODE_EXACT. The loader's dtype and one
/// thread per image replace the render options' output type and threads. A cache (vdr_cache_build)
/// takes VDR_WINDOW_DICOM, _AUTO or _KAGGLE, frame 0 and inversion on, and serves only loaders
/// rendering as it was built. Invalid options leave the loader options unchanged.
@c public func vdr_loader_options_set_render(_ options: UnsafeMutablePointer<vdr_loader_options>?,
                                             _ render: UnsafeMutablePointer<vdr_render_options>?) -> Int32 {
    abiCall {
        let box = try LoaderOptionsBox.from(options)
        var o = box.options
        o.render = try RenderOptionsBox.from(render).options
        try o.validateFields()
        box.options = o
    }
}

/// Sets option `key` (VDR_LOPT_*, ranges stated with each); integer options take integral values.
/// An invalid value leaves the options unchanged.
@c public func vdr_loader_options_set(_ options: UnsafeMutablePointer<vdr_loader_options>?, _ key: Int32, _ value: Double) -> Int32 {
    abiCall {
        let box = try LoaderOptionsBox.from(options)
        // The value travels as a double: integers must be exact (|value| <= 2^53).
        func int() throws -> Int {
            guard value.isFinite, value == value.rounded(), abs(value) <= 0x1p53 else {
                throw VinDrError(.argument, "loader option \(key) = \(value) is not an integer within +-2^53")
            }
            return Int(value)
        }
        func flag() throws -> Bool {
            guard value == 0 || value == 1 else { throw VinDrError(.argument, "loader option \(key) takes 0 or 1, got \(value)") }
            return value == 1
        }
        var o = box.options
        switch key {
        case VDR_LOPT_DTYPE:
            switch Int32(clamping: try int()) {
            case VDR_DTYPE_UINT8: o.dtype = .uint8
            case VDR_DTYPE_FLOAT16: o.dtype = .float16
            case VDR_DTYPE_FLOAT32: o.dtype = .float32
            default: throw VinDrError(.argument, "loader dtype \(value) is not VDR_DTYPE_UINT8, _FLOAT16 or _FLOAT32")
            }
        case VDR_LOPT_LAYOUT: o.layout = try flag() ? .nhwc : .nchw
        case VDR_LOPT_CHANNELS: o.channels = try int()
        case VDR_LOPT_BATCH_SIZE: o.batchSize = try int()
        case VDR_LOPT_SHUFFLE: o.shuffle = try flag()
        case VDR_LOPT_SEED:
            let seed = try int()
            guard seed >= 0 else { throw VinDrError(.argument, "seed \(seed) is negative") }
            o.seed = UInt64(seed)
        case VDR_LOPT_DROP_LAST: o.dropLast = try flag()
        case VDR_LOPT_RANK: o.rank = try int()
        case VDR_LOPT_WORLD_SIZE: o.worldSize = try int()
        case VDR_LOPT_WORKERS: o.workers = try int()
        case VDR_LOPT_PREFETCH: o.prefetch = try int()
        case VDR_LOPT_MAX_BATCH_BYTES: o.maxBatchBytes = try int()
        case VDR_LOPT_WINDOW_JITTER: o.windowJitter = value
        case VDR_LOPT_FLIP_PROBABILITY: o.flipProbability = value
        case VDR_LOPT_ON_ERROR: o.errorPolicy = try flag() ? .skip : .raise
        default: throw VinDrError(.argument, "unknown loader option \(key)")
        }
        try o.validateFields()
        box.options = o
    }
}

/// Creates a loader over a copy of `samples` with `options`; options whose batch buffers exceed
/// VDR_LOPT_MAX_BATCH_BYTES are VDR_ERR_ARGUMENT. A forked child may use an inherited loader:
/// it can stop, start and destroy it (see the fork() note on the loader options).
@c public func vdr_loader_create(_ samples: UnsafeMutablePointer<vdr_samples>?, _ options: UnsafeMutablePointer<vdr_loader_options>?,
                                 _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_loader>?>?) -> Int32 {
    abiCall {
        let s = try SamplesBox.from(samples).samples
        let o = try LoaderOptionsBox.from(options).options
        let out = try require(out, "out")
        try store(LoaderBox(loader: try Loader(samples: s, options: o)), to: out)
    }
}

/// Stops the loader's workers and releases it; NULL is accepted. Batches already handed out
/// keep their targets; their image memory is gone.
@c public func vdr_loader_destroy(_ loader: UnsafeMutablePointer<vdr_loader>?) {
    guard let box = try? LoaderBox.from(loader) else { return }
    box.run?.close()
    LoaderBox.destroy(loader)
}

/// Batches per epoch on this rank, and bytes per image.
@c public func vdr_loader_shape(_ loader: UnsafeMutablePointer<vdr_loader>?, _ batches: UnsafeMutablePointer<UInt>?,
                                _ image_bytes: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let l = try LoaderBox.from(loader).loader
        try require(batches, "batches").pointee = UInt(l.batchesPerEpoch)
        try require(image_bytes, "image_bytes").pointee = UInt(l.imageBytes)
    }
}

/// Starts (or restarts) rendering `epoch` from batch `step`; a running epoch is stopped first.
@c public func vdr_loader_start(_ loader: UnsafeMutablePointer<vdr_loader>?, _ epoch: Int64, _ step: Int64) -> Int32 {
    abiCall {
        let box = try LoaderBox.from(loader)
        guard epoch >= 0, epoch < 1 << 40, step >= 0, step < 1 << 40 else {
            throw VinDrError(.argument, "epoch and step must be non-negative")
        }
        box.run?.close()
        box.run = nil
        box.run = try box.loader.start(epoch: Int(epoch), step: Int(step))
    }
}

/// Waits for the next batch. `*out` is the batch (release it with vdr_batch_destroy), or NULL at
/// the end of the epoch. The previous batch's image memory is recycled by this call. A failed
/// image under VDR_ON_ERROR_RAISE returns that image's own status (VDR_ERR_IO for a missing file,
/// VDR_ERR_FORMAT for a malformed one, ...) with a message naming it.
@c public func vdr_loader_next(_ loader: UnsafeMutablePointer<vdr_loader>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_batch>?>?) -> Int32 {
    abiCall {
        let box = try LoaderBox.from(loader)
        let out = try require(out, "out")
        guard let run = box.run else { throw VinDrError(.argument, "vdr_loader_start was not called") }
        guard !run.startedBeforeFork else {
            throw VinDrError(.argument, "the epoch was started before fork(); call vdr_loader_start in this process")
        }
        out.pointee = try run.next().map { $0.retainedHandle }
    }
}

/// Stops the running epoch at once (workers finish the image they are on); the loader can be
/// started again.
@c public func vdr_loader_stop(_ loader: UnsafeMutablePointer<vdr_loader>?) -> Int32 {
    abiCall {
        let box = try LoaderBox.from(loader)
        box.run?.close()
        box.run = nil
    }
}

/// Releases a batch handle; NULL is accepted.
@c public func vdr_batch_destroy(_ batch: UnsafeMutablePointer<vdr_batch>?) {
    Batch.destroy(batch)
}

/// Counts of a batch: images, boxes (all images), skipped images; epoch and step.
@c public func vdr_batch_counts(_ batch: UnsafeMutablePointer<vdr_batch>?, _ images: UnsafeMutablePointer<UInt>?,
                                _ boxes: UnsafeMutablePointer<UInt>?, _ skipped: UnsafeMutablePointer<UInt>?,
                                _ epoch: UnsafeMutablePointer<Int64>?, _ step: UnsafeMutablePointer<Int64>?) -> Int32 {
    abiCall {
        let b = try Batch.from(batch)
        try require(images, "images").pointee = UInt(b.count)
        try require(boxes, "boxes").pointee = UInt(b.labels.count)
        try require(skipped, "skipped").pointee = UInt(b.skipped.count)
        try require(epoch, "epoch").pointee = Int64(b.epoch)
        try require(step, "step").pointee = Int64(b.step)
    }
}

/// Borrowed pointers to the batch's arrays: images (count x image bytes), boxes (float[boxes][4],
/// output pixels, xyxy), labels (int64[boxes]), box offsets (int64[count + 1]), global labels
/// (float[count][global_count]), transforms (double[count][5]: scale_x, scale_y, offset_x,
/// offset_y, flipped). Any output pointer may be NULL.
@c public func vdr_batch_arrays(_ batch: UnsafeMutablePointer<vdr_batch>?, _ images: UnsafeMutablePointer<UnsafeRawPointer?>?,
                                _ boxes: UnsafeMutablePointer<UnsafePointer<Float>?>?, _ labels: UnsafeMutablePointer<UnsafePointer<Int64>?>?,
                                _ offsets: UnsafeMutablePointer<UnsafePointer<Int64>?>?,
                                _ global_labels: UnsafeMutablePointer<UnsafePointer<Float>?>?,
                                _ transforms: UnsafeMutablePointer<UnsafePointer<Double>?>?) -> Int32 {
    abiCall {
        let b = try Batch.from(batch)
        images?.pointee = UnsafeRawPointer(b.images.baseAddress)
        boxes?.pointee = b.boxes.withUnsafeBufferPointer { $0.baseAddress }
        labels?.pointee = b.labels.withUnsafeBufferPointer { $0.baseAddress }
        offsets?.pointee = b.boxOffsets.withUnsafeBufferPointer { $0.baseAddress }
        global_labels?.pointee = b.globalLabels.withUnsafeBufferPointer { $0.baseAddress }
        transforms?.pointee = b.transforms.withUnsafeBufferPointer { $0.baseAddress }
    }
}

/// Borrowed pointer to the window adjustment each image of the batch was rendered with
/// (double[count][2]: width scale, center shift; 1, 0 without VDR_LOPT_WINDOW_JITTER).
@c public func vdr_batch_window_adjustments(_ batch: UnsafeMutablePointer<vdr_batch>?,
                                            _ out: UnsafeMutablePointer<UnsafePointer<Double>?>?) -> Int32 {
    abiCall {
        let b = try Batch.from(batch)
        try require(out, "out").pointee = b.windowAdjustments.withUnsafeBufferPointer { $0.baseAddress }
    }
}

/// Image id of image `index` of the batch (*out: release with vdr_string_destroy).
@c public func vdr_batch_image_id(_ batch: UnsafeMutablePointer<vdr_batch>?, _ index: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let b = try Batch.from(batch)
        guard index < UInt(b.count) else { throw VinDrError(.argument, "image index \(index) outside 0..<\(b.count)") }
        try store(b.imageIDs[Int(index)], to: out)
    }
}

/// Image id of skipped image `index` (VDR_ON_ERROR_SKIP) and why it was skipped (*out_id and
/// *out_reason: release each with vdr_string_destroy).
@c public func vdr_batch_skipped(_ batch: UnsafeMutablePointer<vdr_batch>?, _ index: UInt, _ out_id: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ out_reason: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let b = try Batch.from(batch)
        guard index < UInt(b.skipped.count) else { throw VinDrError(.argument, "skipped index \(index) outside 0..<\(b.skipped.count)") }
        let (id, reason) = b.skipped[Int(index)]
        let out_reason = try require(out_reason, "out_reason")
        try store(id, to: out_id)
        do { try store(reason, to: out_reason) } catch {  // outputs are written only on success
            free(out_id?.pointee)
            out_id?.pointee = nil
            throw error
        }
    }
}

/// Cache formats (vdr_cache_build): greyscale JPEG, raw uint8, raw16 (modality values as uint16,
/// windowed when read, so VDR_LOPT_WINDOW_JITTER is served from the cache).
public let VDR_CACHE_JPEG: Int32 = 0
public let VDR_CACHE_RAW: Int32 = 1
public let VDR_CACHE_RAW16: Int32 = 2

/// Reads images from a cache (built by vdr_cache_build): its directory, one shard (.tar), or
/// several shard paths separated by '\n'; used when its settings match the other options. NULL
/// clears it. vdr_loader_cache_status tells whether it is used and why.
@c public func vdr_loader_options_set_cache(_ options: UnsafeMutablePointer<vdr_loader_options>?, _ dir: UnsafePointer<CChar>?) -> Int32 {
    abiCall { try LoaderOptionsBox.from(options).options.cache = dir.map { String(cString: $0) } }
}

/// Whether the loader reads from its cache, and if not, why (empty without a cache).
@c public func vdr_loader_cache_status(_ loader: UnsafeMutablePointer<vdr_loader>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { try store(try LoaderBox.from(loader).loader.cacheStatus, to: out) }
}

func cacheSettings(_ o: LoaderOptions, _ format: Int32, _ quality: Int32) throws -> CacheSettings {
    let f: CacheFormat
    switch format {
    case VDR_CACHE_JPEG: f = .jpeg(quality: Int(quality))
    case VDR_CACHE_RAW: f = .raw
    case VDR_CACHE_RAW16: f = .raw16
    default: throw VinDrError(.argument, "unknown cache format \(format)")
    }
    return CacheSettings(render: o.render, format: f)
}

/// Renders samples once into WebDataset shards in `dir` (shard-NNNNN.tar of `shard_size` samples
/// each, in sample order: `{image_id}.jpg|.npy` plus `{image_id}.json`) with the loader options'
/// render options (window VDR_WINDOW_DICOM, _AUTO or _KAGGLE), as VDR_CACHE_JPEG at `quality`,
/// VDR_CACHE_RAW or VDR_CACHE_RAW16, on `workers` threads. Only shards numbered
/// `part_index` modulo `part_count` are built (0 and 1: all, then index.json is written; else run
/// vdr_cache_merge once every part is done). Resumable: complete, unchanged shards are kept.
/// `progress(done, total, user)` is called from this thread (may be NULL). `rendered`, `reused`,
/// `failed` receive the counts; failed images are left out (vdr_last_error is not set for them).
@c public func vdr_cache_build(_ samples: UnsafeMutablePointer<vdr_samples>?, _ options: UnsafeMutablePointer<vdr_loader_options>?, _ dir: UnsafePointer<CChar>?,
                               _ format: Int32, _ quality: Int32, _ shard_size: UInt, _ part_index: UInt, _ part_count: UInt,
                               _ progress: (@convention(c) (UInt, UInt, UnsafeMutableRawPointer?) -> Void)?,
                               _ user: UnsafeMutableRawPointer?, _ rendered: UnsafeMutablePointer<UInt>?,
                               _ reused: UnsafeMutablePointer<UInt>?, _ failed: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let s = try SamplesBox.from(samples).samples
        let o = try LoaderOptionsBox.from(options).options
        let directory = try requireString(dir, "dir")
        let part = CacheBuilder.Part(index: try count(part_index, "part_index"), count: try count(part_count, "part_count"))
        let report = try CacheBuilder.build(samples: s, directory: directory, settings: try cacheSettings(o, format, quality), workers: o.workers,
                                            shardSize: try count(shard_size, "shard_size"), part: part) { done, total in
            progress?(UInt(done), UInt(total), user)
        }
        rendered?.pointee = UInt(report.rendered)
        reused?.pointee = UInt(report.reused)
        failed?.pointee = UInt(report.failures.count)
    }
}

/// Checks the shards of a cache built in parts (every part finished, no shard missing, one set
/// of settings) and writes its index.json; `samples` (may be NULL) receives the sample count.
@c public func vdr_cache_merge(_ dir: UnsafePointer<CChar>?, _ samples: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let index = try CacheBuilder.merge(directory: try requireString(dir, "dir"))
        samples?.pointee = UInt(index.samples)
    }
}

/// Renders sample `index` as a cache build would: its JSON record (released with
/// vdr_string_destroy) and its image member bytes into `image` (`capacity` bytes; `image_size`
/// receives the size; 2 x height x width + 16 x (height + width) + 65664 bytes always suffice,
/// TurboJPEG's bound included). Nothing is written
/// on error; a too small buffer is VDR_ERR_BUFFER_TOO_SMALL with `image_size` set.
@c public func vdr_cache_sample(_ samples: UnsafeMutablePointer<vdr_samples>?, _ options: UnsafeMutablePointer<vdr_loader_options>?, _ index: UInt,
                                _ format: Int32, _ quality: Int32, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ image: UnsafeMutableRawPointer?, _ capacity: UInt, _ image_size: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let s = try SamplesBox.from(samples).samples
        let o = try LoaderOptionsBox.from(options).options
        let i = try count(index, "index")
        guard i < s.count else { throw VinDrError(.argument, "sample index \(i) outside 0..<\(s.count)") }
        _ = try require(json, "json")
        let image_size = try require(image_size, "image_size")
        let capacity = try count(capacity, "capacity")
        let out = try CacheBuilder.sample(s[i], settings: try cacheSettings(o, format, quality))
        image_size.pointee = UInt(out.image.count)
        guard out.image.count <= capacity else { throw VinDrError(.bufferTooSmall, "image of \(out.image.count) bytes, buffer of \(capacity)") }
        let image = try require(image, "image")
        try store(String(decoding: out.json, as: UTF8.self), to: json)
        out.image.withUnsafeBytes { if let b = $0.baseAddress { image.copyMemory(from: b, byteCount: $0.count) } }
    }
}

/// Box policies (vdr_samples_from_dataset).
public let VDR_POLICY_UNION: Int32 = 0
public let VDR_POLICY_FUSED: Int32 = 1
public let VDR_POLICY_MAJORITY: Int32 = 2
public let VDR_POLICY_READER: Int32 = 3
public let VDR_POLICY_RANDOM_READER: Int32 = 4
/// Class spaces of box labels.
public let VDR_CLASSES_TAXONOMY: Int32 = 0
public let VDR_CLASSES_KAGGLE: Int32 = 1

/// A new sample list holding the samples of `samples` whose image_id is one of `image_ids`
/// ('\n'-separated), in their order: for example one fold of vdr_annotations_split. Release it with
/// vdr_samples_destroy.
@c public func vdr_samples_select(_ samples: UnsafeMutablePointer<vdr_samples>?, _ image_ids: UnsafePointer<CChar>?,
                                  _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_samples>?>?) -> Int32 {
    abiCall {
        let source = try SamplesBox.from(samples)
        let ids = try requireString(image_ids, "image_ids").split(separator: "\n").map(String.init)
        let selected = SamplesBox()
        selected.samples = Dataset.select(source.samples, imageIDs: Set(ids))
        try store(selected, to: out)
    }
}

/// Builds samples for every image of an annotation index whose DICOM is found under `root`
/// (PhysioNet `train/`/`test/`, Kaggle `train/`, or any tree of `<image_id>.dicom`/`.dcm`).
/// Boxes follow `policy` (VDR_POLICY_*; `iou_thr` for FUSED and MAJORITY, `min_readers` for MAJORITY,
/// `reader` for READER); labels are in `classes` (VDR_CLASSES_*); readers listed in
/// `excluded` (comma-separated, may be NULL) are left out; global labels are a 28-long multi-hot
/// vector of the labels that hold under the consensus rules with `global_min_votes` (as in
/// vdr_annotations_labels; fused policies keep only those labels' boxes). `missing` chooses what an
/// annotated image whose DICOM is absent does: VDR_MISSING_ERROR fails naming the first few ids
/// and their count; VDR_MISSING_SKIP leaves it out, and vdr_samples_skipped lists it.
@c public func vdr_samples_from_dataset(_ root: UnsafePointer<CChar>?, _ index: UnsafeMutablePointer<vdr_annotations>?, _ policy: Int32, _ iou_thr: Double,
                                        _ min_readers: Int32, _ reader: UnsafePointer<CChar>?, _ classes: Int32,
                                        _ excluded: UnsafePointer<CChar>?, _ global_min_votes: Int32, _ missing: Int32,
                                        _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_samples>?>?) -> Int32 {
    abiCall {
        let root = try requireString(root, "root")
        let annotations = try AnnotationIndex.from(index)
        let out = try require(out, "out")
        guard iou_thr > 0, iou_thr <= 1 || policy == VDR_POLICY_UNION || policy == VDR_POLICY_READER || policy == VDR_POLICY_RANDOM_READER else {
            throw VinDrError(.argument, "iou_thr \(iou_thr) not in (0, 1]")
        }
        var options = DatasetOptions()
        switch policy {
        case VDR_POLICY_UNION: options.policy = .union
        case VDR_POLICY_FUSED: options.policy = .fused(iouThreshold: iou_thr)
        case VDR_POLICY_MAJORITY:
            guard min_readers >= 1 else { throw VinDrError(.argument, "min_readers must be at least 1") }
            options.policy = .majority(iouThreshold: iou_thr, minimumReaders: Int(min_readers))
        case VDR_POLICY_READER: options.policy = .reader(try requireString(reader, "reader"))
        case VDR_POLICY_RANDOM_READER: options.policy = .randomReader
        default: throw VinDrError(.argument, "unknown box policy \(policy)")
        }
        switch classes {
        case VDR_CLASSES_TAXONOMY: options.classes = .taxonomy
        case VDR_CLASSES_KAGGLE: options.classes = .kaggle
        default: throw VinDrError(.argument, "unknown class space \(classes)")
        }
        options.globalMinimumVotes = Int(global_min_votes)
        options.excludedReaders = readerFilter(nil, excluded).excluded
        options.missing = try missingImages(missing)
        try options.validate()
        let box = SamplesBox()
        (box.samples, box.skipped) = try Dataset.samples(root: root, index: annotations, options: options)
        out.pointee = box.retainedHandle
    }
}

/// Sets the size of every image of the index whose DICOM is found under `root`, from its header
/// (only the header is read). `joined` receives how many were set, `failed` how many headers
/// could not be read.
@c public func vdr_annotations_join_image_sizes(_ index: UnsafeMutablePointer<vdr_annotations>?, _ root: UnsafePointer<CChar>?,
                                                _ joined: UnsafeMutablePointer<UInt>?, _ failed: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let annotations = try AnnotationIndex.from(index)
        let root = try requireString(root, "root")
        let r = try Dataset.joinImageSizes(root: root, index: annotations)
        joined?.pointee = UInt(r.joined)
        failed?.pointee = UInt(r.failures.count)
    }
}

/// Renders the index's images found under `dicom_root` and writes a dataset folder `out_dir`
/// that detectors train from (`TrainingExport`): `format` VDR_EXPORT_YOLO (ultralytics layout:
/// images/ and labels/ per split, data.yaml) or VDR_EXPORT_COCO (images/ and annotations.json,
/// category ids from 1). Boxes: `mode`, `iou_thr`, `classes`, `min_votes`, `reader` and `exclude` as
/// in vdr_annotations_export, moved with the pixels. Images are rendered with `render` (size,
/// aspect, window, decode mode, as in vdr_dicom_render; the default options keep each image's own
/// size) to 8-bit PNGs; `workers` threads (0: one per core).
/// `val_ids` (NULL or comma-separated image ids) go to the validation split; without them
/// everything is train (YOLO's data.yaml then names train as val). `missing` VDR_MISSING_ERROR or
/// _SKIP decides about annotated images without a DICOM. `out_dir` must be absent or empty; it is
/// written under a temporary name and renamed at the end, so an error leaves nothing. Writes the
/// train, validation and skipped image counts to the optional `out_train`, `out_val`, `out_skipped`.
@c public func vdr_annotations_export_rendered(_ h: UnsafeMutablePointer<vdr_annotations>?, _ format: Int32, _ dicom_root: UnsafePointer<CChar>?,
                                               _ out_dir: UnsafePointer<CChar>?, _ mode: Int32, _ iou_thr: Double, _ classes: Int32,
                                               _ min_votes: Int32, _ reader: UnsafePointer<CChar>?, _ exclude: UnsafePointer<CChar>?,
                                               _ render: UnsafeMutablePointer<vdr_render_options>?,
                                               _ workers: UInt, _ val_ids: UnsafePointer<CChar>?, _ missing: Int32,
                                               _ out_train: UnsafeMutablePointer<UInt>?, _ out_val: UnsafeMutablePointer<UInt>?,
                                               _ out_skipped: UnsafeMutablePointer<UInt>?) -> Int32 {
    abiCall {
        let index = try AnnotationIndex.from(h)
        let root = try requireString(dicom_root, "dicom_root")
        let out = try requireString(out_dir, "out_dir")
        let targets = try exportOptions(mode, iou_thr, classes, min_votes, reader, exclude)
        let kind: TrainingExport.Format
        switch format {
        case VDR_EXPORT_YOLO: kind = .yolo
        case VDR_EXPORT_COCO: kind = .coco
        default: throw VinDrError(.argument, "format \(format) is not VDR_EXPORT_YOLO or VDR_EXPORT_COCO")
        }
        var options = TrainingExport.Options(format: kind, targets: targets, render: try RenderOptionsBox.from(render).options,
                                             workers: try count(workers, "workers"), missing: try missingImages(missing))
        if let val_ids { options.validation = Set(commaList(String(cString: val_ids))) }
        let r = try TrainingExport.write(index, dicomRoot: root, to: out, options: options)
        out_train?.pointee = UInt(r.train)
        out_val?.pointee = UInt(r.val)
        out_skipped?.pointee = UInt(r.skipped.count)
    }
}
