/// A DICOM file that cannot be read or decoded. `description` names the file and, where one is
/// at fault, the attribute tag.
public struct DICOMError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case io, format, noPixelData, unsupported, decode, argument
        /// A buffer the file or the call needs cannot be allocated (see `reserveMemory`).
        case noMemory
    }

    public let kind: Kind
    public let source: String
    public let message: String

    public init(_ kind: Kind, _ source: String, _ message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}
