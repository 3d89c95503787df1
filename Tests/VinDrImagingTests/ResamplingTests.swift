import XCTest
import VinDrDICOM
import VinDrTestSupport
@testable import VinDrImaging

final class ResamplingTests: XCTestCase {
    func testAreaWeightsCoverEachOutputPixelOnce() {
        for (n, m) in [(2800, 1024), (7, 3), (10, 5), (5, 5)] where m < n {
            let t = AxisTaps(input: n, output: m)
            for j in 0..<m {
                let sum = (0..<t.taps).reduce(Float(0)) { $0 + t.weights[j * t.taps + $1] }
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "\(n)->\(m) output \(j)")
            }
        }
    }

    func testBilinearMatchesHalfPixelCentres() {
        let t = AxisTaps(input: 2, output: 4)
        // Output centres at input coordinates -0.25, 0.25, 0.75, 1.25.
        XCTAssertEqual(t.start, [0, 0, 0, 1])
        XCTAssertEqual(t.weights[2], 0.75, accuracy: 1e-6)
        XCTAssertEqual(t.weights[3], 0.25, accuracy: 1e-6)
    }

    func testLetterboxGeometryCentresTheContent() throws {
        let g = try RenderGeometry.plan(sourceWidth: 2000, sourceHeight: 1000, size: .exact(height: 512, width: 512), aspect: .letterbox(pad: 0))
        XCTAssertEqual(g.contentWidth, 512)
        XCTAssertEqual(g.contentHeight, 256)
        XCTAssertEqual(g.offsetY, 128)
        let b = g.transform(box: (0, 0, 2000, 1000))
        XCTAssertEqual(b.0, 0); XCTAssertEqual(b.1, 128); XCTAssertEqual(b.2, 512); XCTAssertEqual(b.3, 384)
        let back = g.inverse(box: b)
        XCTAssertEqual(back.2, 2000, accuracy: 1e-9)
    }

    func testRenderAveragesAreasAndInvertsMonochrome1() throws {
        // 2x4 image, values 0 and 4095 in 2x2 blocks; auto window; halve to 1x2.
        let v = [0, 0, 4095, 4095, 0, 0, 4095, 4095]
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 2, columns: 4, photometric: "MONOCHROME1", pixels: TestDICOM.le16(v)))
        let (bytes, g) = try Renderer.render(file, options: RenderOptions(size: .exact(height: 1, width: 2), window: .auto, output: .uint8))
        XCTAssertEqual(bytes, [255, 0])
        XCTAssertEqual(g.scaleX, 0.5)
    }

    func testBitsAboveBitsStoredDoNotChangeTheImage() throws {
        let clean = [0, 100, 4095, 2048]
        let dirty = clean.map { $0 | 0xF000 }
        func render(_ v: [Int]) throws -> [UInt8] {
            let file = try DICOMFile(bytes: TestDICOM.file(rows: 2, columns: 2, pixels: TestDICOM.le16(v)))
            return try Renderer.render(file, options: RenderOptions(window: .auto)).bytes
        }
        XCTAssertEqual(try render(dirty), try render(clean))
        XCTAssertEqual(try render(clean), [0, 6, 255, 128])
    }

    func testRenderRejectsBadBuffersWithoutWriting() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 2, columns: 2, pixels: TestDICOM.le16([1, 2, 3, 4])))
        var buf = [UInt8](repeating: 7, count: 3)
        XCTAssertThrowsError(try buf.withUnsafeMutableBytes {
            try Renderer.render(file, options: RenderOptions(), into: $0, rowStride: 2)
        })
        XCTAssertEqual(buf, [7, 7, 7])
    }
}
