@_exported import VinDrCore
import CGDCM

/// A parsed DICOM file: its image attributes (PS3.3 C.7.6.3 Image Pixel, C.11 LUTs) and access to
/// the stored pixel values of any frame, for every transfer syntax GDCM, OpenJPEG or OpenJPH decodes.
///
/// Opening parses the data set (and keeps the Pixel Data bytes) but decodes nothing. A
/// `DICOMFile` may be read from several threads; each decode call is independent.
public final class DICOMFile: @unchecked Sendable {
    /// The path the file was opened from, or "<memory>".
    public let source: String
    public let metadata: DICOMMetadata
    let handle: OpaquePointer

    /// Opens a DICOM file from disk.
    public convenience init(path: String) throws {
        var h: OpaquePointer?
        let rc = cgdcm_open_path(path, &h)
        try self.init(handle: h, status: rc, source: path)
    }

    /// Opens a DICOM file held in memory (the bytes are copied).
    public convenience init(bytes: UnsafeRawBufferPointer, source: String = "<memory>") throws {
        var h: OpaquePointer?
        let rc = cgdcm_open_memory(bytes.baseAddress, bytes.count, &h)
        try self.init(handle: h, status: rc, source: source)
    }

    /// Opens a DICOM file held in memory (the bytes are copied).
    public convenience init(bytes: [UInt8], source: String = "<memory>") throws {
        var h: OpaquePointer?
        let rc = bytes.withUnsafeBytes { cgdcm_open_memory($0.baseAddress, $0.count, &h) }
        try self.init(handle: h, status: rc, source: source)
    }

    private init(handle: OpaquePointer?, status: Int32, source: String) throws {
        guard status == CGDCM_OK, let handle else {
            throw VinDrError(shimErrorKind(status), source, shimMessage())
        }
        self.source = source
        self.handle = handle
        do {
            metadata = try DICOMMetadata(reading: handle, source: source)
        } catch {
            cgdcm_close(handle)
            throw error
        }
    }

    deinit { cgdcm_close(handle) }
}

/// The shim's thread-local message for the last failure.
func shimMessage() -> String {
    String(cString: cgdcm_last_error())
}

/// The error kind of a failed shim call: I/O, an unsupported feature (a transfer syntax GDCM does
/// not know), else a malformed file.
func shimErrorKind(_ status: Int32) -> VinDrError.Kind {
    switch status {
    case CGDCM_ERR_IO: return .io
    case CGDCM_ERR_UNSUPPORTED: return .unsupported
    default: return .format
    }
}

extension DICOMFile {
    /// Rows and Columns of the file at `path`, reading only its header (up to Pixel Data).
    public static func imageSize(path: String) throws -> (rows: Int, columns: Int) {
        var rows: UInt32 = 0, columns: UInt32 = 0
        let rc = cgdcm_image_size(path, &rows, &columns)
        guard rc == CGDCM_OK else { throw VinDrError(shimErrorKind(rc), path, shimMessage()) }
        return (Int(rows), Int(columns))
    }
}

/// The header attributes the dataset's collection statistics need (paper, Table 2): Rows and
/// Columns (0028,0010)/(0028,0011), Patient's Sex (0010,0040) and Patient's Age (0010,1010).
public struct DICOMHeaderSummary: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    /// The value as stored, trailing spaces removed; nil when the attribute is absent.
    public var patientSex: String?
    public var patientAge: String?
}

extension DICOMFile {
    /// `DICOMHeaderSummary` of the file at `path`, reading only its header (up to Pixel Data).
    public static func headerSummary(path: String) throws -> DICOMHeaderSummary {
        var h = cgdcm_header()
        let rc = cgdcm_read_header(path, &h)
        guard rc == CGDCM_OK else { throw VinDrError(shimErrorKind(rc), path, shimMessage()) }
        func text<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return DICOMHeaderSummary(rows: Int(h.rows), columns: Int(h.columns),
                                  patientSex: h.has_sex != 0 ? text(h.sex) : nil,
                                  patientAge: h.has_age != 0 ? text(h.age) : nil)
    }

    /// Throws a `.format` error "not a DICOM file (no DICM prefix at byte 128)" when the first
    /// bytes of the file at `path` show it is no DICOM file: no "DICM" after the 128-byte
    /// preamble (PS3.10 7.1) and no raw data set start (first tag in an even group up to 0008).
    /// Passing says nothing about the rest of the file.
    public static func probe(path: String) throws {
        let rc = cgdcm_probe_path(path)
        guard rc == CGDCM_OK else { throw VinDrError(shimErrorKind(rc), path, shimMessage()) }
    }
}
