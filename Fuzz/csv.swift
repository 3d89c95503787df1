// libFuzzer target: the CSV readers on arbitrary bytes (annotation and image-label files through
// AnnotationIndex, read whole and in two halves in parallel, which must agree; submissions; the
// in-memory reader), then the computations over what was read.
@testable import VinDrAnnotations
import VinDrBoxes
#if canImport(Glibc)
import Glibc
#endif

private let path = "/tmp/vindr-fuzz-csv-\(getpid()).csv"

private func write(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let f = fopen(path, "wb")!
    if size > 0 { fwrite(data, 1, size, f) }
    fclose(f)
}

private struct Outcome: Equatable {
    var error: String?
    var layout: String?
    var images: [String]
    var readers: [String]
}

private func read(parallelThreshold: Int, chunkSize: Int) -> (AnnotationIndex, Outcome) {
    let index = AnnotationIndex()
    var o = Outcome(images: [], readers: [])
    do { o.layout = "\(try index.add(path: path, parallelThreshold: parallelThreshold, chunkSize: chunkSize))" } catch {
        o.error = "\(error)"
    }
    o.images = index.images.map { "\($0.id) \($0.readings.count)" }
    o.readers = index.readerIDs
    return (index, o)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    write(data, size)
    defer { unlink(path) }
    let (index, whole) = read(parallelThreshold: Int.max, chunkSize: 1 << 16)
    let (_, halves) = read(parallelThreshold: 1, chunkSize: 7)
    if whole != halves {
        fatalError("whole-file and two-halves reads differ:\n\(whole)\n\(halves)")
    }
    _ = index.statistics()
    _ = index.qualityIssues()
    for image in index.images {
        _ = image.consensusLabels()
        _ = try? image.consensusBoxes(.all)
        _ = try? image.consensusBoxes(.fused(iouThreshold: 0.4, confidenceType: .avg))
        if let r = index.readerIDs.first { _ = image.consensusLabels(filter: ReaderFilter(reader: r)) }
    }
    if let submission = try? Submission(path: path) {
        _ = try? index.evaluate(submission, missing: .empty)
        _ = try? index.evaluate(submission, readers: .fused(iouThreshold: 0.5), interpolation: .coco101)
    }
    try? CSVReader.forEachRow(bytes: UnsafeBufferPointer(start: data, count: size), name: "fuzz") { row in
        for i in 0..<row.count { _ = row.double(i); _ = row.isBlank(i) }
    }
    return 0
}
