import Dispatch
import VinDrDICOM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The batches of one epoch as an AsyncSequence:
///
///     for try await batch in loader.batches(epoch: 3) { train(batch) }
///
/// Each batch's images stay valid until the next iteration step. Leaving the loop early (break,
/// throw, task cancellation) stops the workers.
public struct LoaderBatches: AsyncSequence, Sendable {
    public typealias Element = Batch
    let loader: Loader
    let epoch: Int
    let step: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(state: IteratorState(loader: loader, epoch: epoch, step: step))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let state: IteratorState

        public mutating func next() async throws -> Batch? {
            let state = self.state
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Batch?, Error>) in
                    // EpochRun.next() blocks until a batch is ready: wait off the cooperative pool.
                    DispatchQueue.global().async { c.resume(with: Result { try state.next() }) }
                }
            } onCancel: {
                state.close()
            }
        }
    }

    /// Owns the epoch run; closing it when the iterator is dropped stops the workers.
    public final class IteratorState: @unchecked Sendable {
        let loader: Loader
        let epoch: Int
        let step: Int
        private let lock = Lock()
        private var run: EpochRun?
        private var closed = false

        init(loader: Loader, epoch: Int, step: Int) {
            self.loader = loader
            self.epoch = epoch
            self.step = step
        }

        func next() throws -> Batch? {
            lock.lock()
            if closed {
                lock.unlock()
                return nil
            }
            if run == nil {
                do { run = try loader.start(epoch: epoch, step: step) } catch {
                    lock.unlock()
                    throw error
                }
            }
            let current = run
            lock.unlock()
            return try current?.next()  // blocks without the lock, so close() can interrupt it
        }

        func close() {
            lock.lock()
            closed = true
            let current = run
            lock.unlock()
            current?.close()
        }

        deinit { run?.close() }
    }
}

extension Loader {
    /// The batches of `epoch` from `step`, as an AsyncSequence.
    public func batches(epoch: Int, step: Int = 0) -> LoaderBatches {
        LoaderBatches(loader: self, epoch: epoch, step: step)
    }
}
