/// Invalid input to a box function (shape, NaN, unknown option). The C ABI maps it to
/// VDR_ERR_ARGUMENT; the message says which argument and why.
public struct BoxError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
