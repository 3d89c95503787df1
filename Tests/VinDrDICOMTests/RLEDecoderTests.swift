import XCTest
@testable import VinDrDICOM

final class RLEDecoderTests: XCTestCase {
    /// Builds an RLE frame (PS3.5 G.3/G.5) from already PackBits-encoded segments.
    func frame(_ segments: [[UInt8]]) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 64)
        func put(_ v: Int, at i: Int) { for b in 0..<4 { header[i + b] = UInt8((v >> (8 * b)) & 0xFF) } }
        put(segments.count, at: 0)
        var offset = 64
        for (i, s) in segments.enumerated() {
            put(offset, at: 4 + 4 * i)
            offset += s.count
        }
        return header + segments.flatMap { $0 }
    }

    func testLiteralRunAndReplicateRun16Bit() throws {
        // Values 0x0102, 0x0304, 0x0505, 0x0505: high bytes [1,3,5,5], low bytes [2,4,5,5].
        let high: [UInt8] = [1, 1, 3, 0xFF, 5]  // literal of 2, then replicate 5 twice
        let low: [UInt8] = [1, 2, 4, 0x80, 0xFF, 5]  // literal of 2, a no-op, replicate 5 twice
        let p = try RLEDecoder.decode(frame([high, low]), width: 2, height: 2, format: .uint16, source: "t")
        XCTAssertEqual((0..<4).map { p.value(row: $0 / 2, column: $0 % 2, bitsStored: 16) }, [0x0102, 0x0304, 0x0505, 0x0505])
    }

    func testShortSegmentIsAnError() {
        XCTAssertThrowsError(try RLEDecoder.decode(frame([[0, 7]]), width: 2, height: 1, format: .uint8, source: "f.dcm")) {
            XCTAssertTrue(String(describing: $0).contains("f.dcm"))
        }
    }

    func testWrongSegmentCountAndBadOffsets() {
        XCTAssertThrowsError(try RLEDecoder.decode(frame([[0, 7]]), width: 1, height: 1, format: .uint16, source: "f"))
        var bad = frame([[0, 7]])
        bad[4] = 200  // offset past the end
        XCTAssertThrowsError(try RLEDecoder.decode(bad, width: 1, height: 1, format: .uint8, source: "f"))
        XCTAssertThrowsError(try RLEDecoder.decode([1, 2, 3], width: 1, height: 1, format: .uint8, source: "f"))
    }

    /// A segment PackBits cannot expand to the frame (at most 64x, PS3.5 G.3.1) is rejected
    /// before the output is allocated.
    func testSegmentTooShortForTheFrameIsRejectedBeforeDecoding() {
        XCTAssertThrowsError(try RLEDecoder.decode(frame([[0x81, 7]]), width: 4096, height: 4096, format: .uint8, source: "f.dcm")) {
            XCTAssertTrue(String(describing: $0).contains("at most 64x"), "\($0)")
        }
        // 2 bytes -> 128 samples is the limit, and decodes.
        XCTAssertNoThrow(try RLEDecoder.decode(frame([[0x81, 7]]), width: 16, height: 8, format: .uint8, source: "f.dcm"))
    }
}
