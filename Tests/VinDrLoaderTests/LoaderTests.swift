import Foundation
import XCTest
import VinDrTestSupport
@testable import VinDrLoader

final class LoaderTests: XCTestCase {
    func testSamplerFollowsDistributedSamplerPadding() throws {
        let shards = try (0..<3).map { try Sampler(count: 10, batchSize: 2, seed: 5, rank: $0, worldSize: 3).indices(epoch: 1) }
        XCTAssertEqual(shards.map(\.count), [4, 4, 4])
        XCTAssertEqual(Set(shards.flatMap { $0 }), Set(0..<10))
        let order = try Sampler(count: 10, batchSize: 2, seed: 5).indices(epoch: 1)
        // Rank r takes positions r, r + 3, ... of the padded permutation (padding repeats its start).
        let padded = order + order.prefix(2)
        XCTAssertEqual(shards[1], stride(from: 1, to: 12, by: 3).map { padded[$0] })
        XCTAssertNotEqual(order, try Sampler(count: 10, batchSize: 2, seed: 5).indices(epoch: 2))
        XCTAssertEqual(try Sampler(count: 10, batchSize: 4, shuffle: false, dropLast: true).batches(epoch: 0), [[0, 1, 2, 3], [4, 5, 6, 7]])
        XCTAssertThrowsError(try Sampler(count: 3, batchSize: 0))
        XCTAssertThrowsError(try Sampler(count: 3, batchSize: 1, rank: 2, worldSize: 2))
    }

    func testAsyncSequenceDeliversEveryImageWithTargets() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vindr-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var samples: [LoaderSample] = []
        for i in 0..<5 {
            let path = dir.appendingPathComponent("\(i).dcm").path
            let pixels = TestDICOM.le16((0..<(20 * 10)).map { ($0 * 7 + i) % 4096 })
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(TestDICOM.file(rows: 20, columns: 10, pixels: pixels))))
            samples.append(LoaderSample(imageID: "img\(i)", path: path, boxes: [0, 0, 10, 20], labels: [Int64(i)]))
        }
        let loader = try Loader(samples: samples, options: LoaderOptions(height: 40, width: 40, window: .auto, batchSize: 2, workers: 2))
        var ids: [String] = []
        var boxes: [Float] = []
        for try await batch in loader.batches(epoch: 0) {
            ids += batch.imageIDs
            boxes += batch.boxes
            XCTAssertEqual(batch.images.count, batch.count * 40 * 40)
        }
        XCTAssertEqual(Set(ids), Set(samples.map(\.imageID)))
        // 10x20 letterboxed into 40x40: scale 2, centred horizontally at x = 10.
        XCTAssertEqual(Array(boxes.prefix(4)), [10, 0, 30, 40])
    }
}
