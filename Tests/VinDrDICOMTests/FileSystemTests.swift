import Dispatch
import Glibc
import XCTest
@testable import VinDrDICOM

final class FileSystemTests: XCTestCase {
    /// Several threads removing the same tree at once (as the parts of a split cache build clear
    /// the same stale index.json): each call succeeds, though the others remove entries between
    /// its look and its removal.
    func testConcurrentRemovalsOfTheSameTreeAllSucceed() throws {
        var template = Array("/tmp/vindr-removetree-XXXXXX".utf8CString)
        guard let base = mkdtemp(&template).map({ String(cString: $0) }) else { throw XCTSkip("mkdtemp failed") }
        defer { try? FileSystem.removeTree(base) }
        let tree = base + "/tree"
        let lock = Lock()
        for round in 0..<100 {
            try FileSystem.createDirectories(tree + "/a/b")
            try FileSystem.createDirectories(tree + "/c")
            for i in 0..<20 { try FileSystem.writeAtomically(Array("x".utf8), to: tree + (i % 2 == 0 ? "/a/b" : "/c") + "/f\(i)") }
            try FileSystem.writeAtomically(Array("{}".utf8), to: tree + "/index.json")
            var failures: [String] = []
            let group = DispatchGroup()
            for _ in 0..<4 {
                group.enter()
                try startThread {
                    do { try FileSystem.removeTree(tree) } catch { lock.withLock { failures.append("round \(round): \(error)") } }
                    group.leave()
                }
            }
            group.wait()
            XCTAssertEqual(failures, [])
            XCTAssertNil(FileSystem.isDirectory(tree))
        }
    }
}
