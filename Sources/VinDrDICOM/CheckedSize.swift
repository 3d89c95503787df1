/// Sizes derived from a file's header (Rows, Columns, Number of Frames, Bits Allocated: PS3.3
/// C.7.6.3) or from a caller's arguments are multiplied only through these functions. Swift
/// traps on integer overflow, so an unchecked product of header values is a way to take the
/// host process down; here a negative factor or a product beyond Int.max is an error instead.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks that `bytes` can be allocated before a buffer that size is made: Swift traps when an
/// allocation fails, so the address space is first asked of the kernel (and given back at once;
/// an mmap, which the optimiser cannot elide as it may a malloc/free pair). Under an
/// address-space limit (RLIMIT_AS, `ulimit -v`, as batch schedulers set) or strict overcommit, a
/// frame too large for it is then a `.noMemory` error naming `what`, not an abort. Decoded
/// frames and rendered outputs are sized through here.
public func reserveMemory(_ bytes: Int, what: @autoclosure () -> String, source: String) throws {
    guard bytes > 0 else { return }
    let probe = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let probe, probe != UnsafeMutableRawPointer(bitPattern: -1) else {
        throw VinDrError(.noMemory, source, "cannot allocate \(bytes) bytes for \(what())")
    }
    munmap(probe, bytes)
}

/// The most memory the decoding of one frame may take, in bytes: `VINDR_DECODE_BUDGET` when set
/// (a decimal number), else half of the machine's physical memory or of the cgroup's memory.max
/// (a container's limit), whichever is less. A codec stream can claim a 65535 x 65535 image in a
/// few bytes (a JPEG 2000 stream of a constant image legitimately does); under overcommit the
/// kernel grants such an allocation and the process is killed when the decoder touches it, so a
/// frame whose decoding needs more than the budget is refused before any allocation.
public let decodeBudget: Int = {
    if let text = getenv("VINDR_DECODE_BUDGET").map({ String(cString: $0) }), let v = Int(text), v > 0 { return v }
    var budget = Int.max
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
    if pages > 0, size > 0, let total = checkedProduct(pages, size) { budget = total / 2 }
    if let bytes = try? FileSystem.readAll("/sys/fs/cgroup/memory.max"),
       let limit = Int(String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }) {
        budget = min(budget, limit / 2)
    }
    return budget
}()

/// A `.noMemory` error naming `what` and the budget when decoding needs more than `decodeBudget`.
public func checkDecodeBudget(_ bytes: Int, what: @autoclosure () -> String, source: String) throws {
    guard bytes > decodeBudget else { return }
    throw VinDrError(.noMemory, source, "\(what()) needs \(bytes) bytes, more than the decode budget of \(decodeBudget) (VINDR_DECODE_BUDGET; default half the physical or cgroup memory)")
}

/// The product of `factors`, or nil when one is negative or the product overflows Int.
@inlinable public func checkedProduct(_ factors: Int...) -> Int? {
    var product = 1
    for f in factors {
        guard f >= 0 else { return nil }
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        guard !overflow else { return nil }
        product = p
    }
    return product
}

/// The product of `factors`; a VinDrError of `kind` (format by default: the sizes came from the
/// file at `source`) saying what `what` is and what its factors were, when a factor is negative
/// or the product overflows.
public func checkedSize(_ factors: Int..., what: @autoclosure () -> String, source: String,
                        kind: VinDrError.Kind = .format) throws -> Int {
    var product = 1
    for f in factors {
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        guard f >= 0, !overflow else {
            let list = factors.map(String.init).joined(separator: " x ")
            throw VinDrError(kind, source, "\(what()) = \(list) is \(f < 0 ? "negative" : "too large (overflows a 64-bit size)")")
        }
        product = p
    }
    return product
}
