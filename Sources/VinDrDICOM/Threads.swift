#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Threads and locks over pthreads, so the library modules need no Foundation.

/// A mutual-exclusion lock over a pthread mutex.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let acrossFork: Bool

    /// `acrossFork`: usable in a child forked while other threads hold it (see `forkGeneration`).
    public init(acrossFork: Bool = false) {
        pthread_mutex_init(mutex, nil)
        self.acrossFork = acrossFork
        if acrossFork { ForkRegistry.add(mutex, nil) }
    }

    deinit {
        if acrossFork { ForkRegistry.remove(mutex) }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A lock with a condition variable: `wait()` (with the lock held) sleeps until `broadcast()`.
public final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let acrossFork: Bool

    /// `acrossFork`: usable in a child forked while other threads hold or wait on it (see
    /// `forkGeneration`).
    public init(acrossFork: Bool = false) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        self.acrossFork = acrossFork
        if acrossFork { ForkRegistry.add(mutex, cond) }
    }

    deinit {
        if acrossFork { ForkRegistry.remove(mutex) }
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    public func wait() { pthread_cond_wait(cond, mutex) }
    public func broadcast() { pthread_cond_broadcast(cond) }
}

// MARK: - fork()
//
// POSIX fork() copies only the calling thread: in the child, locks held by other threads stay
// locked forever and condition variables keep waiters that do not exist (POSIX.1-2017, fork(),
// "Application Usage"; pthread_atfork()). Locks and conditions made with `acrossFork: true` are
// taken by the forking thread before fork() (so the state they guard is consistent), released
// in the parent and re-initialised in the child. Never create or release such a lock while
// holding another one: the fork handlers take the registry first, then every registered lock.

/// Number of fork() calls between the process that loaded the library and this one (0 there,
/// 1 in its children, ...). Threads started before it last changed do not exist in this process:
/// code that waits for its threads compares the value it saw when starting them.
public var forkGeneration: Int { ForkRegistry.generation }

/// The `acrossFork` locks and conditions, with the pthread_atfork handlers that keep them usable.
enum ForkRegistry {
    nonisolated(unsafe) static var generation = 0
    /// Mutex -> its condition variable (nil for a plain Lock). Guarded by `mutex`.
    nonisolated(unsafe) private static var entries: [UnsafeMutablePointer<pthread_mutex_t>: UnsafeMutablePointer<pthread_cond_t>?] = [:]
    /// Installs the handlers the first time a lock registers.
    private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        pthread_atfork(prepare, parent, child)
        return m
    }()

    static func add(_ m: UnsafeMutablePointer<pthread_mutex_t>, _ c: UnsafeMutablePointer<pthread_cond_t>?) {
        pthread_mutex_lock(mutex)
        entries[m] = c
        pthread_mutex_unlock(mutex)
    }

    static func remove(_ m: UnsafeMutablePointer<pthread_mutex_t>) {
        pthread_mutex_lock(mutex)
        entries[m] = nil
        pthread_mutex_unlock(mutex)
    }

    private static let prepare: @convention(c) () -> Void = {
        pthread_mutex_lock(ForkRegistry.mutex)
        for m in ForkRegistry.entries.keys { pthread_mutex_lock(m) }
    }

    private static let parent: @convention(c) () -> Void = {
        for m in ForkRegistry.entries.keys { pthread_mutex_unlock(m) }
        pthread_mutex_unlock(ForkRegistry.mutex)
    }

    /// The child is single-threaded: every registered lock is made new (unlocked, no waiters).
    private static let child: @convention(c) () -> Void = {
        for (m, c) in ForkRegistry.entries {
            pthread_mutex_init(m, nil)
            if let c { pthread_cond_init(c, nil) }
        }
        pthread_mutex_init(ForkRegistry.mutex, nil)
        ForkRegistry.generation += 1
    }
}

/// Online processor cores (at least 1): what a worker count of 0 means everywhere.
public func onlineCores() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Starts `body` on a new detached thread with a stack of `stackSize` bytes.
public func startThread(stackSize: Int = 1 << 20, _ body: @escaping () -> Void) throws {
    final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    defer { pthread_attr_destroy(&attr) }
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    pthread_attr_setstacksize(&attr, stackSize)
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attr, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        throw VinDrError(.argument, "", "cannot start a thread: \(String(cString: strerror(rc)))")
    }
}
