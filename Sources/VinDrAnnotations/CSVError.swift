/// A malformed CSV file: names the file, the 1-based line and, where known, the column.
/// Line 0 means the file as a whole (it could not be opened or read).
public struct CSVError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: String?
    public let reason: String

    public init(file: String, line: Int, column: String? = nil, reason: String) {
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        if line == 0 { return "\(file): \(reason)" }
        if let column { return "\(file):\(line): column \(column): \(reason)" }
        return "\(file):\(line): \(reason)"
    }
}
