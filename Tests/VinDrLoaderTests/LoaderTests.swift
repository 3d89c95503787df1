import Foundation
import XCTest
import VinDrTestSupport
@testable import VinDrLoader
import VinDrImaging

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
        let (dir, samples) = try writeSamples(5, boxes: [0, 0, 10, 20]) { i in
            Data(TestDICOM.file(rows: 20, columns: 10, pixels: TestDICOM.le16((0..<(20 * 10)).map { ($0 * 7 + i) % 4096 })))
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let loader = try Loader(samples: samples, options: LoaderOptions(render: letterboxed(40, 40, window: .auto), batchSize: 2, workers: 2))
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

    /// Workers take samples of the open batches: batches are the same bytes for 1, 2 and 3
    /// workers (skipped images closed up, a short last batch), and closing mid-epoch stops
    /// workers that are spread over several batches.
    func testSampleSchedulingKeepsBatchesIndependentOfWorkers() throws {
        let (dir, samples) = try writeSamples(11, boxes: [1, 2, 10, 20]) { i in
            i % 4 == 3 ? Data([0, 1, 2]) : Data(TestDICOM.file(rows: 30, columns: 20,
                                                               pixels: TestDICOM.le16((0..<600).map { ($0 * 13 + 97 * i) % 4096 })))
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        func epoch(_ workers: Int) throws -> [[UInt8]] {
            let loader = try Loader(samples: samples, options: LoaderOptions(render: letterboxed(24, 16, window: .auto), batchSize: 4,
                                                                             seed: 3, workers: workers, prefetch: 1,
                                                                             flipProbability: 0.5, errorPolicy: .skip))
            let run = try loader.start(epoch: 0)
            var out: [[UInt8]] = []
            while let b = try run.next() {
                out.append(Array(b.images) + b.imageIDs.joined(separator: ",").utf8 + b.skipped.map(\.0).joined().utf8
                           + b.boxes.flatMap { withUnsafeBytes(of: $0, Array.init) })
            }
            return out
        }
        let one = try epoch(1)
        XCTAssertEqual(one.count, 3)
        XCTAssertEqual(try epoch(2), one)
        XCTAssertEqual(try epoch(3), one)
        let loader = try Loader(samples: samples, options: LoaderOptions(render: letterboxed(24, 16), batchSize: 2, workers: 3, prefetch: 2,
                                                                         errorPolicy: .skip))
        let run = try loader.start(epoch: 0)
        _ = try run.next()
        run.close()
        XCTAssertNil(try run.next())
    }

    /// `count` files made by `contents(i)` in a new temporary directory, as samples img0... with
    /// `boxes` and label i.
    private func writeSamples(_ count: Int, boxes: [Float], contents: (Int) -> Data) throws -> (URL, [LoaderSample]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vindr-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let samples = (0..<count).map { i in
            let path = dir.appendingPathComponent("\(i).dcm").path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: contents(i)))
            return LoaderSample(imageID: "img\(i)", path: path, boxes: boxes, labels: [Int64(i)])
        }
        return (dir, samples)
    }
}

/// The loader's render options at height x width, letterboxed with pad 0.
private func letterboxed(_ height: Int, _ width: Int, window: WindowChoice = .dicom) -> RenderOptions {
    RenderOptions(size: .exact(height: height, width: width), aspect: .letterbox(pad: 0), window: window)
}
