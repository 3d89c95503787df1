#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM
import VinDrImaging
import VinDrLoader

// Status codes of the C ABI. Values are explicit and never reused; 0 is success.

public let VDR_OK: Int32 = 0
/// A null pointer, out-of-range value or unknown option/key was passed.
public let VDR_ERR_ARGUMENT: Int32 = 1
/// A file could not be opened, read or written.
public let VDR_ERR_IO: Int32 = 2
/// The input is not DICOM, is truncated, or is malformed.
public let VDR_ERR_FORMAT: Int32 = 3
/// The DICOM file has no Pixel Data (7FE0,0010).
public let VDR_ERR_NO_PIXEL_DATA: Int32 = 4
/// The file uses a feature the SDK does not support (e.g. colour images).
public let VDR_ERR_UNSUPPORTED: Int32 = 5
/// The pixel data could not be decoded.
public let VDR_ERR_DECODE: Int32 = 6
/// The caller's buffer is smaller than the size the query call reported.
public let VDR_ERR_BUFFER_TOO_SMALL: Int32 = 7
/// A CSV file is malformed (the message names the file, line and column).
public let VDR_ERR_CSV: Int32 = 8
/// An unexpected internal failure (a bug: please report the message).
public let VDR_ERR_INTERNAL: Int32 = 9
/// A buffer the call needs (a decoded frame, a rendered image) could not be allocated; nothing
/// was written and the process is unharmed.
public let VDR_ERR_NO_MEMORY: Int32 = 10

/// Human-readable name of a status code (static storage, never freed).
@c public func vdr_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    let text: StaticString
    switch status {
    case VDR_OK: text = "ok"
    case VDR_ERR_ARGUMENT: text = "invalid argument"
    case VDR_ERR_IO: text = "I/O error"
    case VDR_ERR_FORMAT: text = "malformed input"
    case VDR_ERR_NO_PIXEL_DATA: text = "no pixel data"
    case VDR_ERR_UNSUPPORTED: text = "unsupported"
    case VDR_ERR_DECODE: text = "decode error"
    case VDR_ERR_BUFFER_TOO_SMALL: text = "buffer too small"
    case VDR_ERR_CSV: text = "CSV error"
    case VDR_ERR_INTERNAL: text = "internal error"
    case VDR_ERR_NO_MEMORY: text = "out of memory"
    default: text = "unknown status"
    }
    return cString(text)
}

/// The message of the last failed call on this thread ("" when none); valid until the next
/// failing call on the same thread.
@c public func vdr_last_error() -> UnsafePointer<CChar> {
    LastError.current
}

/// Releases a string the library returned (vdr_dicom_get_string, vdr_annotations_stats_json,
/// ...); NULL is accepted. Static text (vdr_status_string, vdr_version, label names) and
/// vdr_last_error are borrowed and never released.
@c public func vdr_string_destroy(_ s: UnsafeMutablePointer<CChar>?) {
    free(s)
}

/// A C view of a string literal (static storage).
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Thread-local last-error text, kept as a malloc'ed C string per thread.
enum LastError {
    nonisolated(unsafe) private static var key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { free($0) }
        return k
    }()
    static var current: UnsafePointer<CChar> {
        guard let p = pthread_getspecific(key) else { return cString("") }
        return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
    }

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, strdup(message))
        free(old)
    }
}

/// Runs `body` and turns any thrown error into a status code plus a thread-local message.
/// Every `@c` entry point that can fail goes through here.
func abiCall(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return VDR_OK
    } catch {
        let (status, message) = statusAndMessage(of: error)
        LastError.set(message)
        return status
    }
}

/// The one mapping from the core's error to a status code and message.
func statusAndMessage(of error: Error) -> (Int32, String) {
    switch error {
    case let e as VinDrError: return (status(of: e.kind), e.description)
    default: return (VDR_ERR_INTERNAL, String(describing: error))
    }
}

func status(of kind: VinDrError.Kind) -> Int32 {
    switch kind {
    case .argument: return VDR_ERR_ARGUMENT
    case .io: return VDR_ERR_IO
    case .format: return VDR_ERR_FORMAT
    case .noPixelData: return VDR_ERR_NO_PIXEL_DATA
    case .unsupported: return VDR_ERR_UNSUPPORTED
    case .decode: return VDR_ERR_DECODE
    case .bufferTooSmall: return VDR_ERR_BUFFER_TOO_SMALL
    case .csv: return VDR_ERR_CSV
    case .noMemory: return VDR_ERR_NO_MEMORY
    case .internal: return VDR_ERR_INTERNAL
    }
}
