#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrDICOM
import VinDrImaging

/// Streams batches of decoded, windowed, resized images with their targets, rendered by a pool
/// of native threads. The order of samples in an epoch depends only on the seed, epoch, rank and
/// world size (never on the number of workers); an epoch can start at any step (resume).
///
/// fork(): a child process may close or release a loader (and an epoch it inherited mid-run)
/// and start new epochs, which get their own threads; an inherited epoch cannot deliver batches
/// there, since its workers stayed in the parent (`forkGeneration`).
public final class Loader: @unchecked Sendable {
    public let samples: [LoaderSample]
    public let options: LoaderOptions
    public let sampler: Sampler
    /// Length of every sample's global label vector.
    public let globalLabelCount: Int
    /// Whether images come from the cache, and if not, why ("" when no cache was given).
    public let cacheStatus: String
    let cache: CacheReader?
    /// Batch buffers kept between epochs (prefetch + 1 of them at most).
    private let poolLock = Lock(acrossFork: true)
    private var pool: [BatchBuffer] = []

    func takeBuffers() throws -> [BatchBuffer] {
        poolLock.lock()
        defer { poolLock.unlock() }
        let bytes = imageBytes * options.batchSize
        var out = pool
        pool = []
        while out.count < options.prefetch + 1 { out.append(try BatchBuffer(byteCount: bytes)) }
        return out
    }

    func returnBuffers(_ buffers: [BatchBuffer]) {
        poolLock.lock()
        pool = Array(buffers.prefix(options.prefetch + 1))
        poolLock.unlock()
    }

    public init(samples: [LoaderSample], options: LoaderOptions) throws {
        try options.validate()
        self.samples = samples
        self.options = options
        sampler = try Sampler(count: samples.count, batchSize: options.batchSize, shuffle: options.shuffle, seed: options.seed,
                              dropLast: options.dropLast, rank: options.rank, worldSize: options.worldSize)
        globalLabelCount = samples.first?.globalLabels.count ?? 0
        (cache, cacheStatus) = try Loader.openCache(options: options, samples: samples)
        for s in samples {
            for t in [ReaderTargets(boxes: s.boxes, labels: s.labels)] + s.readerTargets {
                guard t.boxes.count % 4 == 0, t.boxes.count / 4 == t.labels.count else {
                    throw VinDrError(.argument, "image \(s.imageID): \(t.boxes.count) box values for \(t.labels.count) labels")
                }
            }
            guard s.globalLabels.count == globalLabelCount else {
                throw VinDrError(.argument, "image \(s.imageID): \(s.globalLabels.count) global labels, others have \(globalLabelCount)")
            }
        }
    }

    /// The cache when its settings match the options (else nil and the reason). Window jitter
    /// needs a raw16 cache, whose values are windowed per sample; 8-bit caches are not used then.
    static func openCache(options: LoaderOptions, samples: [LoaderSample]) throws -> (CacheReader?, String) {
        guard let location = options.cache else { return (nil, "") }
        let reader = try CacheReader(location: location)
        let name = location.contains("\n") ? "\(location.split(separator: "\n").count) shards" : location
        if options.windowJitter > 0 && reader.settings.format != .raw16 {
            return (nil, "not using cache \(name): window jitter needs a raw16 cache, so each sample is rendered from its DICOM")
        }
        if let mismatch = reader.settings.mismatch(with: options.render) { return (nil, "not using cache \(name): \(mismatch)") }
        let hits = samples.filter { reader.entry($0.imageID) != nil }.count
        return (reader, "using cache \(name): \(hits) of \(samples.count) images cached (\(reader.settings.format.name))")
    }

    /// Number of batches per epoch on this rank.
    public var batchesPerEpoch: Int { sampler.batches(epoch: 0).count }

    /// Bytes of one image in a batch.
    public var imageBytes: Int { options.height * options.width * options.channels * options.dtype.bytesPerSample }

    /// Starts rendering `epoch` from batch `step` on the worker threads.
    public func start(epoch: Int, step: Int = 0) throws -> EpochRun {
        let plan = sampler.batches(epoch: epoch)
        guard step >= 0, step <= plan.count else { throw VinDrError(.argument, "step \(step) not in 0...\(plan.count)") }
        return try EpochRun(loader: self, epoch: epoch, plan: plan, firstStep: step)
    }
}

/// One epoch being rendered. `next()` blocks until the following batch is ready; `close()`
/// stops the workers at once. Not for concurrent use by several consumers.
///
/// Workers take samples, not batches: each takes the next unclaimed sample of the oldest open
/// batch, or opens the next batch (a free buffer and at most `prefetch` batches ahead of the
/// consumer) when every sample of the open ones is taken. Each sample renders into its own slot
/// of its batch, so a batch's order and content never depend on the number of workers; the
/// worker finishing a batch's last sample assembles it (targets in sample order, images left
/// out under `.skip` closed up).
public final class EpochRun: @unchecked Sendable {
    let loader: Loader
    public let epoch: Int
    let plan: [[Int]]
    private let lock = Condition(acrossFork: true)
    /// `forkGeneration` when the workers started: they do not exist in a child forked since.
    private let generation = forkGeneration
    /// Next batch to open.
    private var nextToOpen: Int
    private var nextToDeliver: Int
    /// Batches with samples still to claim or in flight, oldest first.
    private var open: [OpenBatch] = []
    private var ready: [Int: Result<Batch, Error>] = [:]
    private var free: [BatchBuffer]
    private var held: Batch?
    private var cancelled = false
    private var running = 0

    /// A batch being rendered: its buffer, the next position to claim, and each position's
    /// outcome. Mutated only under the run's lock (the buffer's slots are each written by the
    /// one worker that claimed them).
    private final class OpenBatch {
        let step: Int
        let buffer: BatchBuffer
        var claimed = 0
        var finished = 0
        var outcomes: [SampleOutcome?]

        init(step: Int, buffer: BatchBuffer, count: Int) {
            self.step = step
            self.buffer = buffer
            outcomes = Array(repeating: nil, count: count)
        }
    }

    private enum SampleOutcome {
        case rendered(targets: ReaderTargets, geometry: RenderGeometry, flip: Bool, window: WindowAdjustment)
        case skipped(String)
        case failed(Error)
        case cancelled
    }

    init(loader: Loader, epoch: Int, plan: [[Int]], firstStep: Int) throws {
        self.loader = loader
        self.epoch = epoch
        self.plan = plan
        nextToOpen = firstStep
        nextToDeliver = firstStep
        free = try loader.takeBuffers()
        let samplesLeft = plan[firstStep...].reduce(0) { $0 + $1.count }
        let workers = min(loader.options.workerCount, max(samplesLeft, 1))
        running = workers
        for started in 0..<workers {
            do {
                try startThread { [unowned self] in self.work() }
            } catch {
                // Fewer workers than asked for still finish the epoch; none at all cannot.
                lock.lock()
                running -= workers - started
                lock.unlock()
                if started == 0 { throw error }
                break
            }
        }
    }

    deinit { close() }

    /// Whether this process was forked from the one that started the epoch (its workers are not
    /// here: `next()` throws; `close()` returns at once).
    public var startedBeforeFork: Bool { generation != forkGeneration }

    /// Batches still to be delivered in this epoch.
    public var remaining: Int {
        lock.lock()
        defer { lock.unlock() }
        return plan.count - nextToDeliver
    }

    /// The next batch, or nil at the end of the epoch. The previous batch's images are recycled.
    public func next() throws -> Batch? {
        lock.lock()
        defer { lock.unlock() }
        guard !startedBeforeFork else {
            throw VinDrError(.argument, "epoch \(epoch) was started before fork(): its workers are not in this process; start it again here")
        }
        if let h = held {
            free.append(h.buffer)
            held = nil
            lock.broadcast()
        }
        while !cancelled && nextToDeliver < plan.count && ready[nextToDeliver] == nil { lock.wait() }
        guard !cancelled, nextToDeliver < plan.count, let result = ready.removeValue(forKey: nextToDeliver) else { return nil }
        nextToDeliver += 1
        lock.broadcast()
        switch result {
        case .success(let b):
            held = b
            return b
        case .failure(let e):
            throw e
        }
    }

    /// Stops the workers (an image being decoded is finished first) and waits for them. The
    /// batch buffers go back to the loader, except the one a delivered batch may still show.
    /// In a child forked since the epoch started there are no workers to wait for.
    public func close() {
        lock.lock()
        let first = !cancelled
        cancelled = true
        lock.broadcast()
        while running > 0 && !startedBeforeFork { lock.wait() }
        let buffers = free + ready.values.compactMap { try? $0.get().buffer } + (startedBeforeFork ? [] : open.map(\.buffer))
        free = []
        ready = [:]
        open = []
        lock.unlock()
        if first { loader.returnBuffers(buffers) }
    }

    /// The next sample to render, as (batch, position), or nil when the epoch has no more work
    /// for this worker (end of the plan, or cancelled). Called with the lock held; may wait.
    private func claim() -> (OpenBatch, Int)? {
        while !cancelled {
            if let b = open.first(where: { $0.claimed < $0.outcomes.count }) {
                b.claimed += 1
                return (b, b.claimed - 1)
            }
            if nextToOpen >= plan.count { return nil }
            if nextToOpen < nextToDeliver + loader.options.prefetch, let buffer = free.popLast() {
                let b = OpenBatch(step: nextToOpen, buffer: buffer, count: plan[nextToOpen].count)
                nextToOpen += 1
                if b.outcomes.isEmpty {
                    ready[b.step] = .success(Batch(epoch: epoch, step: b.step, buffer: buffer, imageBytes: loader.imageBytes))
                    lock.broadcast()
                    continue
                }
                open.append(b)
                continue
            }
            lock.wait()
        }
        return nil
    }

    private func work() {
        let workspace = RenderWorkspace()
        let codec = loader.cache.map { $0.settings.format.fileExtension == "jpg" } == true ? try? GrayJPEG() : nil
        let renderer = SampleRenderer(options: loader.options, workspace: workspace, cache: loader.cache, codec: codec)
        lock.lock()
        while let job = claim() {
            let (batch, position) = job
            lock.unlock()
            let outcome = render(position: position, of: batch, renderer: renderer)
            lock.lock()
            batch.outcomes[position] = outcome
            batch.finished += 1
            guard batch.finished == batch.outcomes.count else { continue }
            open.removeAll { $0 === batch }
            lock.unlock()
            let result = assemble(batch)
            lock.lock()
            if case .failure = result { free.append(batch.buffer) }
            ready[batch.step] = result
            lock.broadcast()
        }
        running -= 1
        lock.broadcast()
        lock.unlock()
    }

    private var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    /// Renders sample `position` of `batch` into its slot (position x image bytes).
    private func render(position: Int, of batch: OpenBatch, renderer: SampleRenderer) -> SampleOutcome {
        if isCancelled { return .cancelled }
        let index = plan[batch.step][position]
        let sample = loader.samples[index]
        let slot = batch.buffer.bytes.baseAddress! + position * loader.imageBytes
        let o = loader.options
        let flip = o.flipProbability > 0 && loader.sampler.coin(epoch: epoch, sample: index, salt: 0x666C6970) < o.flipProbability
        var window = o.render.windowAdjustment
        if o.windowJitter > 0 {
            // Width scale uniform in [1 - j, 1 + j], center shift uniform in [-j/2, j/2] widths.
            let j = o.windowJitter
            window.widthScale *= 1 + j * (2 * loader.sampler.coin(epoch: epoch, sample: index, salt: 0x7769_6477) - 1)
            window.centerShift += j * (loader.sampler.coin(epoch: epoch, sample: index, salt: 0x6365_6E74) - 0.5)
        }
        do {
            let g = try renderer.render(sample, into: slot, flip: flip, window: window)
            var targets = ReaderTargets(boxes: sample.boxes, labels: sample.labels)
            if !sample.readerTargets.isEmpty {
                let draw = loader.sampler.coin(epoch: epoch, sample: index, salt: 0x7265_6164)
                targets = sample.readerTargets[min(Int(draw * Double(sample.readerTargets.count)), sample.readerTargets.count - 1)]
            }
            return .rendered(targets: targets, geometry: g, flip: flip, window: window)
        } catch {
            // Under .raise the image's own kind (io for a missing file, format, ...) reaches the caller.
            if o.errorPolicy == .raise {
                let own = error as? VinDrError ?? VinDrError(.internal, "\(error)")
                return .failed(own.prefixed("image \(sample.imageID) (\(sample.path)): "))
            }
            return .skipped(String(describing: error))
        }
    }

    /// The finished batch in sample order: the first failure (in sample order) under `.raise`,
    /// else the rendered images closed up over skipped ones, with their targets.
    private func assemble(_ b: OpenBatch) -> Result<Batch, Error> {
        let batch = Batch(epoch: epoch, step: b.step, buffer: b.buffer, imageBytes: loader.imageBytes)
        let base = b.buffer.bytes.baseAddress!
        let size = loader.imageBytes
        for (position, outcome) in b.outcomes.enumerated() {
            let index = plan[b.step][position]
            let sample = loader.samples[index]
            switch outcome {
            case .rendered(let targets, let g, let flip, let window)?:
                if batch.count != position { (base + batch.count * size).copyMemory(from: base + position * size, byteCount: size) }
                batch.append(sample: sample, targets: targets, index: index, geometry: g, flip: flip, window: window,
                             width: loader.options.width)
            case .skipped(let reason)?:
                batch.skipped.append((sample.imageID, reason))
            case .failed(let e)?:
                return .failure(e)
            case .cancelled?, nil:
                return .failure(VinDrError(.argument, "epoch \(epoch) was closed"))
            }
        }
        return .success(batch)
    }
}

extension Batch {
    /// Records a rendered image's targets: boxes mapped through the render geometry, then
    /// mirrored (x -> width - x, min and max swapped) when flipped.
    func append(sample: LoaderSample, targets t: ReaderTargets, index: Int, geometry g: RenderGeometry, flip: Bool,
                window: WindowAdjustment, width: Int) {
        count += 1
        imageIDs.append(sample.imageID)
        sampleIndices.append(index)
        let w = Float(width)
        for i in 0..<t.labels.count {
            var x0 = Float(Double(t.boxes[4 * i]) * g.scaleX + g.offsetX)
            let y0 = Float(Double(t.boxes[4 * i + 1]) * g.scaleY + g.offsetY)
            var x1 = Float(Double(t.boxes[4 * i + 2]) * g.scaleX + g.offsetX)
            let y1 = Float(Double(t.boxes[4 * i + 3]) * g.scaleY + g.offsetY)
            if flip { (x0, x1) = (w - x1, w - x0) }
            boxes += [x0, y0, x1, y1]
        }
        labels += t.labels
        boxOffsets.append(Int64(labels.count))
        globalLabels += sample.globalLabels
        transforms += [g.scaleX, g.scaleY, g.offsetX, g.offsetY, flip ? 1 : 0]
        windowAdjustments += [window.widthScale, window.centerShift]
    }
}
