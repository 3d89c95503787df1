#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrCore

// Validation of what crosses the C boundary: every pointer, size and stride is checked here
// before Swift touches it, so a bad call returns VDR_ERR_ARGUMENT instead of trapping the host.

func require<T>(_ p: UnsafeMutablePointer<T>?, _ name: String) throws -> UnsafeMutablePointer<T> {
    guard let p else { throw VinDrError(.argument, "\(name) is NULL") }
    return p
}


func require(_ p: UnsafeMutableRawPointer?, _ name: String) throws -> UnsafeMutableRawPointer {
    guard let p else { throw VinDrError(.argument, "\(name) is NULL") }
    return p
}

func requireString(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let p else { throw VinDrError(.argument, "\(name) is NULL") }
    return String(cString: p)
}

/// Checks a caller buffer of `rows` rows, `rowStride` bytes apart, each `rowBytes` long.
func checkBuffer(size: Int, rowStride: Int, rowBytes: Int, rows: Int, align: Int, base: UnsafeMutableRawPointer) throws {
    guard rowStride >= rowBytes else {
        throw VinDrError(.argument, "row stride \(rowStride) is less than a row's \(rowBytes) bytes")
    }
    guard rowStride % align == 0, Int(bitPattern: base) % align == 0 else {
        throw VinDrError(.argument, "buffer and row stride must be aligned to \(align) bytes")
    }
    let (span, overflow) = rowStride.multipliedReportingOverflow(by: max(rows - 1, 0))
    guard !overflow, size >= 0, span <= Int.max - rowBytes, size >= span + rowBytes else {
        throw VinDrError(.bufferTooSmall, "buffer of \(size) bytes is too small for \(rows) rows of \(rowBytes) bytes with stride \(rowStride)")
    }
}

/// `count` groups of `stride` values from a caller array (NULL only when `count` is 0), with
/// `count` below `limit`.
func array<T>(_ p: UnsafePointer<T>?, count n: UInt, stride: Int = 1, limit: Int, _ name: String) throws -> [T] {
    guard n < UInt(limit) else { throw VinDrError(.argument, "\(name): count \(n) is out of range (limit \(limit))") }
    guard n > 0 else { return [] }
    guard let p else { throw VinDrError(.argument, "\(name) is NULL") }
    let (total, overflow) = Int(n).multipliedReportingOverflow(by: stride)
    guard !overflow else { throw VinDrError(.argument, "\(name): count \(n) x \(stride) overflows") }
    return Array(UnsafeBufferPointer(start: p, count: total))
}

/// A size, count or index from C (size_t) as Int; VDR_ERR_ARGUMENT above Int.max, where a
/// negative number cast to size_t lands.
func count(_ n: UInt, _ name: String) throws -> Int {
    guard n <= UInt(Int.max) else { throw VinDrError(.argument, "\(name) \(n) is out of range (a negative value cast to size_t?)") }
    return Int(n)
}

/// Hands `s` to the caller as a new NUL-terminated string, released with vdr_string_destroy (the
/// ABI's one convention for returned text). Text with a NUL byte inside is an error rather than
/// a silently shortened C string.
func store(_ s: String, to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws {
    guard let out else { throw VinDrError(.argument, "out is NULL") }
    let bytes = Array(s.utf8)
    guard !bytes.contains(0) else { throw VinDrError(.format, "text contains a NUL byte: \(s.debugDescription)") }
    guard let p = malloc(bytes.count + 1)?.assumingMemoryBound(to: CChar.self) else {
        throw VinDrError(.internal, "out of memory for a \(bytes.count)-byte string")
    }
    for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
    p[bytes.count] = 0
    out.pointee = p
}
