import Foundation

/// Progress of long work on standard error: a redrawn bar on a terminal, a plain line every
/// 10% otherwise (logs, CI).
final class Progress {
    let label: String
    let total: Int
    private let start = Date()
    private let terminal = isatty(STDERR_FILENO) == 1
    private var lastDecile = -1

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    func update(_ done: Int) {
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        if terminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write("\r\(label) [\(bar)] \(done)/\(total) \(String(format: "%.1f", rate))/s".data(using: .utf8)!)
            if done >= total { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else {
            let decile = total > 0 ? 10 * done / total : 10
            if decile != lastDecile {
                lastDecile = decile
                FileHandle.standardError.write("\(label): \(done)/\(total) (\(String(format: "%.1f", rate))/s)\n".data(using: .utf8)!)
            }
        }
    }
}
