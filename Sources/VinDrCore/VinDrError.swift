/// The SDK's one error type. `kind` says what went wrong (one kind per C status code, mapped in
/// `Sources/VinDrC/Status.swift`); `source` names the file, folder or argument at fault, `line`
/// and `column` the CSV line when there is one; `message` names the DICOM tag as (GGGG,EEEE)
/// where one is at fault.
public struct VinDrError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A caller's value is out of range, unknown or inconsistent (VDR_ERR_ARGUMENT).
        case argument
        /// A file or folder cannot be opened, read or written (VDR_ERR_IO).
        case io
        /// The input is not DICOM, is truncated or malformed (VDR_ERR_FORMAT).
        case format
        /// The DICOM file has no Pixel Data (7FE0,0010) (VDR_ERR_NO_PIXEL_DATA).
        case noPixelData
        /// A feature the SDK does not support, such as a colour image (VDR_ERR_UNSUPPORTED).
        case unsupported
        /// The pixel data cannot be decoded (VDR_ERR_DECODE).
        case decode
        /// The caller's buffer is smaller than the call needs (VDR_ERR_BUFFER_TOO_SMALL).
        case bufferTooSmall
        /// A CSV file is malformed; `line` is its 1-based line (VDR_ERR_CSV).
        case csv
        /// A buffer cannot be allocated (VDR_ERR_NO_MEMORY; see `reserveMemory`).
        case noMemory
        /// A failure that is a bug of the SDK (VDR_ERR_INTERNAL).
        case `internal`
    }

    public let kind: Kind
    /// The file, folder or argument at fault; "" when the message says it all.
    public let source: String
    /// The 1-based CSV line at fault, 0 when none.
    public let line: Int
    /// The CSV column at fault, when known.
    public let column: String?
    public let message: String

    public init(_ kind: Kind, _ source: String, _ message: String) {
        self.kind = kind
        self.source = source
        self.line = 0
        self.column = nil
        self.message = message
    }

    /// An error whose message names what is at fault.
    public init(_ kind: Kind, _ message: String) {
        self.init(kind, "", message)
    }

    /// A CSV error at `line` (1-based) and, where known, `column`; line 0 means the file as a
    /// whole could not be opened or read, which is an `.io` error.
    public init(file: String, line: Int, column: String? = nil, reason: String) {
        kind = line == 0 ? .io : .csv
        source = file
        self.line = line
        self.column = column
        message = reason
    }

    /// The same kind of failure, described as `context` (the image or entry it concerns)
    /// followed by this error's description.
    public func prefixed(_ context: String) -> VinDrError {
        VinDrError(kind, "\(context)\(description)")
    }

    /// The same CSV error with its line moved down by `lines` (a part read on its own, then placed
    /// in its file).
    public func movedDown(by lines: Int) -> VinDrError {
        VinDrError(kind: kind, source: source, line: line + lines, column: column, message: message)
    }

    private init(kind: Kind, source: String, line: Int, column: String?, message: String) {
        self.kind = kind
        self.source = source
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if source.isEmpty { return message }
        if line == 0 { return "\(source): \(message)" }
        if let column { return "\(source):\(line): column \(column): \(message)" }
        return "\(source):\(line): \(message)"
    }
}
