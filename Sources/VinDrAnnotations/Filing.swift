#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

extension AnnotationIndex {
    /// Files parsed rows under their images and readers: rows are bucketed by image (counting
    /// sort, which keeps file order within an image), then each part of the image list is filed
    /// into flat storage of its own; large files file their two halves on two threads (records
    /// are independent).
    func apply(_ first: [PendingRow], _ second: [PendingRow], source: Int, readerNames: [String]) {
        let total = first.count + second.count
        rowCounts[source] = total
        // Rows per image, and how many of them are boxes and image-label rows (so that filing
        // can size its arrays without reading the rows in image order twice).
        var counts = [Int](repeating: 0, count: images.count + 1)
        var boxRows = [Int32](repeating: 0, count: images.count), tickRows = boxRows
        for rows in [first, second] {
            for r in rows {
                counts[Int(r.image) + 1] += 1
                if r.kind == .box { boxRows[Int(r.image)] += 1 } else if r.kind == .imageLabels { tickRows[Int(r.image)] += 1 }
            }
        }
        for i in 0..<images.count { counts[i + 1] += counts[i] }
        let start = counts
        var order = [Int](repeating: 0, count: total)
        for (k, r) in first.enumerated() {
            order[counts[Int(r.image)]] = k
            counts[Int(r.image)] += 1
        }
        for (k, r) in second.enumerated() {
            order[counts[Int(r.image)]] = first.count + k
            counts[Int(r.image)] += 1
        }
        let parts = total >= 20_000 && sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 ? 2 : 1
        // Image ranges holding about the same number of rows.
        var bounds = [0]
        for p in 1..<parts { bounds.append(start.firstIndex { $0 >= total * p / parts } ?? images.count) }
        bounds.append(images.count)
        // The workers read plain buffers: shared arrays would bounce reference counts between cores.
        first.withUnsafeBufferPointer { first in
        second.withUnsafeBufferPointer { second in
        start.withUnsafeBufferPointer { start in
        order.withUnsafeBufferPointer { order in
        boxRows.withUnsafeBufferPointer { boxRows in
        tickRows.withUnsafeBufferPointer { tickRows in
        images.withUnsafeMutableBufferPointer { images in
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let names = readerNames.map { String(decoding: Array($0.utf8), as: UTF8.self) }
                Self.file(PendingRows(first: first, second: second), order: order, start: start,
                          kinds: (boxRows, tickRows), into: images, bounds[part]..<bounds[part + 1],
                          source: source, readerNames: names)
            }
        }
        }
        }
        }
        }
        }
        }
    }

    /// Two runs of parsed rows read as one (the halves of a file, without copying them together).
    struct PendingRows {
        let first: UnsafeBufferPointer<PendingRow>
        let second: UnsafeBufferPointer<PendingRow>

        subscript(k: Int) -> PendingRow { k < first.count ? first[k] : second[k - first.count] }
    }

    /// Files the rows of the images in `range` (`order[start[p]..<start[p + 1]]` are image p's
    /// rows, in file order): an image's readings are its earlier ones, in order, then new readers
    /// in order of their first row, each with its earlier rows then the new ones. All rows go
    /// into one `RowStore` and all readings into one array, which the records see runs of.
    static func file(_ rows: PendingRows, order: UnsafeBufferPointer<Int>, start: UnsafeBufferPointer<Int>,
                             kinds: (boxes: UnsafeBufferPointer<Int32>, ticks: UnsafeBufferPointer<Int32>),
                             into images: UnsafeMutableBufferPointer<ImageRecord>,
                             _ range: Range<Int>, source: Int, readerNames: [String]) {
        var boxCount = 0, labelRowCount = 0, imageLabelRowCount = 0, readingBound = 0
        for p in range where start[p] < start[p + 1] {
            for r in images[p].readings {
                boxCount += r.boxes.count
                labelRowCount += r.labelRows.count
                imageLabelRowCount += r.imageLabelRows.count
            }
            readingBound += images[p].readings.count + start[p + 1] - start[p]
            boxCount += Int(kinds.boxes[p])
            imageLabelRowCount += Int(kinds.ticks[p])
            labelRowCount += start[p + 1] - start[p] - Int(kinds.boxes[p]) - Int(kinds.ticks[p])
        }
        var boxes = [BoxAnnotation](), labelRows = [LabelRow](), imageLabelRows = [RowLocation]()
        boxes.reserveCapacity(boxCount)
        labelRows.reserveCapacity(labelRowCount)
        imageLabelRows.reserveCapacity(imageLabelRowCount)
        let store = RowStore()
        var readings = [Reading]()
        readings.reserveCapacity(readingBound)
        var imageSpans = [(image: Int, readings: Range<Int>)]()
        imageSpans.reserveCapacity(range.count)
        var keys = [Int]()
        var local = [PendingRow]()  // the image's rows, gathered once from their scattered places
        for p in range where start[p] < start[p + 1] {
            let earlier = images[p].readings
            local.removeAll(keepingCapacity: true)
            for k in start[p]..<start[p + 1] { local.append(rows[order[k]]) }
            keys.removeAll(keepingCapacity: true)
            for r in earlier { keys.append(Int(r.key)) }
            for r in local where !keys.contains(Int(r.reader)) { keys.append(Int(r.reader)) }
            let first = readings.count
            for (j, key) in keys.enumerated() {
                let (b, l, i) = (boxes.count, labelRows.count, imageLabelRows.count)
                var reader = key < 0 ? nil : readerNames[key]
                var labels = LabelSet()
                if j < earlier.count {
                    let r = earlier[j]
                    (reader, labels) = (r.reader, r.labels)
                    boxes.append(contentsOf: r.boxes)
                    labelRows.append(contentsOf: r.labelRows)
                    imageLabelRows.append(contentsOf: r.imageLabelRows)
                }
                for r in local where Int(r.reader) == key {
                    let location = RowLocation(source: source, line: Int(r.line))
                    switch r.kind {
                    case .imageLabels:
                        imageLabelRows.append(location)
                        labels.bits |= r.labels.bits
                    case .box:
                        labels.insert(Int(r.label))
                        boxes.append(BoxAnnotation(label: Int(r.label), box: r.box, score: r.score,
                                                   hadReversedCorners: r.reversed, location: location))
                    case .labelOnly:
                        labels.insert(Int(r.label))
                        labelRows.append(LabelRow(label: Int(r.label), location: location,
                                                  ignoredBox: r.ignoredBox, missingBox: r.missingBox))
                    }
                }
                readings.append(Reading(reader: reader, labels: labels, key: key, rows: store,
                                        boxes: b..<boxes.count, labelRows: l..<labelRows.count,
                                        imageLabelRows: i..<imageLabelRows.count))
            }
            imageSpans.append((p, first..<readings.count))
        }
        (store.boxes, store.labelRows, store.imageLabelRows) = (boxes, labelRows, imageLabelRows)
        for (p, span) in imageSpans { images[p].readings = FlatSlice(readings, span) }
    }
}
