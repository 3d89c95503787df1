// Validation of what crosses the C boundary: every pointer, size and stride is checked here
// before Swift touches it, so a bad call returns VDR_ERR_ARGUMENT instead of trapping the host.

func require<T>(_ p: UnsafeMutablePointer<T>?, _ name: String) throws -> UnsafeMutablePointer<T> {
    guard let p else { throw ABIError(status: VDR_ERR_ARGUMENT, message: "\(name) is NULL") }
    return p
}

func require(_ p: UnsafeMutableRawPointer?, _ name: String) throws -> UnsafeMutableRawPointer {
    guard let p else { throw ABIError(status: VDR_ERR_ARGUMENT, message: "\(name) is NULL") }
    return p
}

func requireString(_ p: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let p else { throw ABIError(status: VDR_ERR_ARGUMENT, message: "\(name) is NULL") }
    return String(cString: p)
}

/// Checks a caller buffer of `rows` rows, `rowStride` bytes apart, each `rowBytes` long.
func checkBuffer(size: Int, rowStride: Int, rowBytes: Int, rows: Int, align: Int, base: UnsafeMutableRawPointer) throws {
    guard rowStride >= rowBytes else {
        throw ABIError(status: VDR_ERR_ARGUMENT, message: "row stride \(rowStride) is less than a row's \(rowBytes) bytes")
    }
    guard rowStride % align == 0, Int(bitPattern: base) % align == 0 else {
        throw ABIError(status: VDR_ERR_ARGUMENT, message: "buffer and row stride must be aligned to \(align) bytes")
    }
    let (span, overflow) = rowStride.multipliedReportingOverflow(by: max(rows - 1, 0))
    guard !overflow, size >= 0, span <= Int.max - rowBytes, size >= span + rowBytes else {
        throw ABIError(status: VDR_ERR_BUFFER_TOO_SMALL, message: "buffer of \(size) bytes is too small for \(rows) rows of \(rowBytes) bytes with stride \(rowStride)")
    }
}

/// Copies `s` as a NUL-terminated string into `buf` (truncated to cap-1 bytes); `len` gets
/// the full UTF-8 length. Either pointer may be NULL (a pure length query).
func copyString(_ s: String, into buf: UnsafeMutablePointer<CChar>?, cap: Int, len: UnsafeMutablePointer<Int>?) throws {
    let bytes = Array(s.utf8)
    len?.pointee = bytes.count
    guard let buf, cap > 0 else { return }
    let n = min(bytes.count, cap - 1)
    for i in 0..<n { buf[i] = CChar(bitPattern: bytes[i]) }
    buf[n] = 0
}
