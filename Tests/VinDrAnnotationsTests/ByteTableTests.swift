import XCTest
@testable import VinDrAnnotations

final class ByteTableTests: XCTestCase {
    /// Random keys of every length from 0 to 40 over a small alphabet (so keys share prefixes,
    /// lengths and word-sized chunks), checked against a Dictionary through several growths.
    func testMatchesDictionary() {
        var rng = SystemRandomNumberGenerator()
        var table = ByteTable()
        var reference = [[UInt8]: Int]()
        for _ in 0..<20_000 {
            let key = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            let (id, isNew) = key.withUnsafeBufferPointer { table.intern($0) }
            if let known = reference[key] {
                XCTAssertEqual(id, known, "\(key)")
                XCTAssertFalse(isNew)
            } else {
                XCTAssertTrue(isNew)
                XCTAssertEqual(id, reference.count)
                reference[key] = id
            }
            let probe = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            XCTAssertEqual(probe.withUnsafeBufferPointer { table.find($0) }, reference[probe], "\(probe)")
        }
        XCTAssertEqual(table.count, reference.count)
        // A zero byte at the end is part of the key, not padding.
        var small = ByteTable()
        let a = [UInt8]([1, 2]).withUnsafeBufferPointer { small.intern($0) }
        let b = [UInt8]([1, 2, 0]).withUnsafeBufferPointer { small.intern($0) }
        XCTAssertEqual([a.id, b.id], [0, 1])
        XCTAssertTrue(a.isNew && b.isNew)
        for (key, id) in reference { XCTAssertEqual(key.withUnsafeBufferPointer { table.find($0) }, id) }
    }
}
