/// A malformed CSV file: names the file, the 1-based line and, where known, the column.
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
        if let column { return "\(file):\(line): column \(column): \(reason)" }
        return "\(file):\(line): \(reason)"
    }
}
