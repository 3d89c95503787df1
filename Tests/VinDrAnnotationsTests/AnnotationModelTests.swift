import VinDrBoxes
import XCTest
@testable import VinDrAnnotations

final class AnnotationModelTests: XCTestCase {
    func testFlatSliceIsZeroBasedAndReadOnly() {
        let storage = Array(10..<20)
        let run = FlatSlice(storage, 3..<7)
        XCTAssertEqual(run.startIndex, 0)
        XCTAssertEqual(run.count, 4)
        XCTAssertEqual(Array(run), [13, 14, 15, 16])
        XCTAssertEqual(run[0], 13)
        XCTAssertEqual(run.last, 16)
        XCTAssertEqual(Array(run.reversed()), [16, 15, 14, 13])
        XCTAssertTrue(FlatSlice<Int>().isEmpty)
        XCTAssertEqual(Array(FlatSlice([1, 2])), [1, 2])
    }

    func testHandBuiltRecordsWorkWithConsensus() throws {
        let here = RowLocation(source: 0, line: 2)
        let box = BoxAnnotation(label: 0, box: Box(x1: 10, y1: 10, x2: 50, y2: 50), location: here)
        let image = ImageRecord(id: "x", readings: [
            Reading(reader: "R1", boxes: [box], labels: LabelSet(bits: 1)),
            Reading(reader: "R2", boxes: [box], labels: LabelSet(bits: 1)),
            Reading(reader: "R3", labelRows: [LabelRow(label: 27, location: here)], labels: LabelSet(bits: 1 << 27)),
        ])
        XCTAssertEqual(image.readings.count, 3)
        XCTAssertEqual(image.consensusLabels().bits, 1)
        XCTAssertEqual(try image.consensusBoxes(.all).count, 2)
        XCTAssertEqual(image.readings[2].labelRows.first?.label, 27)
    }

    /// Several files added to one index (annotations with and without rad_id, image labels; large
    /// ones parsed in halves and filed in two parts) against a reference built in the test from
    /// the rows themselves: images and readers in order of first appearance across the files,
    /// each reading's rows in file order, earlier files' rows first.
    func testFilingAcrossFilesMatchesReference() throws {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let names = Taxonomy.labels.map(\.name)
        struct Row { var image: String; var reader: String?; var text: String }
        func annotationRow(_ withReader: Bool) -> (row: [String], fields: String) {
            let image = "img\(next(700))", reader = "R\(next(6) + 1)"
            let label = names[next(names.count)]
            let box = next(4) == 0 ? ",,," : "\(next(900)),\(next(900)),\(next(900)),\(next(900))"
            return ([image, withReader ? reader : "", label], (withReader ? "\(image),\(reader)," : "\(image),") + "\(label),\(box)")
        }
        var files = [String]()
        var texts = [String]()
        for (k, rows) in [25_000, 300, 4_000, 1_500].enumerated() {
            var text: String
            switch k {
            case 2:  // image labels
                text = "image_id,rad_id," + names.joined(separator: ",") + "\n"
                for _ in 0..<rows {
                    text += "img\(next(800)),R\(next(6) + 1)," + names.map { _ in next(6) == 0 ? "1" : "0" }.joined(separator: ",") + "\n"
                }
            case 3:  // consensus (test split layout)
                text = "image_id,class_name,x_min,y_min,x_max,y_max\n"
                for _ in 0..<rows { text += annotationRow(false).fields + "\n" }
            default:
                text = "image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"
                for _ in 0..<rows { text += annotationRow(true).fields + "\n" }
            }
            texts.append(text)
            files.append(temporaryFile(text))
        }
        let index = AnnotationIndex()
        for f in files { try index.add(path: f, parallelThreshold: 1) }

        // The reference: a plain walk over every row.
        struct RefReading { var reader: String?; var labels: UInt32 = 0; var rows: [String] = [] }
        var order = [String](), readings = [String: [RefReading]]()
        for (source, text) in texts.enumerated() {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let header = lines[0].split(separator: ",").map(String.init)
            for (n, line) in lines.enumerated().dropFirst() where !line.isEmpty {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let image = f[0]
                let reader = header[1] == "rad_id" ? f[1] : nil
                if readings[image] == nil { order.append(image); readings[image] = [] }
                var rs = readings[image]!
                let j = rs.firstIndex { $0.reader == reader } ?? { rs.append(RefReading(reader: reader)); return rs.count - 1 }()
                let at = "\(source):\(n + 1)"
                if header.count == 30 {
                    for (c, v) in f.dropFirst(2).enumerated() where v == "1" { rs[j].labels |= 1 << UInt32(c) }
                    rs[j].rows.append("labels@\(at)")
                } else {
                    let (label, box) = reader == nil ? (f[1], Array(f[2...5])) : (f[2], Array(f[3...6]))
                    let l = Taxonomy.label(named: label)!
                    rs[j].labels |= 1 << UInt32(l.index)
                    if l.kind == .local, box[0] != "" {
                        let v = box.map { Double($0)! }
                        let b = Box(x1: min(v[0], v[2]), y1: min(v[1], v[3]), x2: max(v[0], v[2]), y2: max(v[1], v[3]))
                        rs[j].rows.append("box \(l.index) \(b)@\(at)")
                    } else {
                        rs[j].rows.append("label \(l.index) ignored=\(box[0] != "") missing=\(l.kind == .local)@\(at)")
                    }
                }
                readings[image] = rs
            }
        }
        let expected = order.map { image in
            image + ": " + readings[image]!.map { r in
                // The index keeps boxes, label rows and image-label rows apart, each in file order.
                let kinds = ["box", "label", "labels"].map { kind in r.rows.filter { $0.hasPrefix(kind + " ") || $0.hasPrefix(kind + "@") } }
                return "\(r.reader ?? "-") \(r.labels) " + kinds.map { $0.joined(separator: ";") }.joined(separator: " | ")
            }.joined(separator: " / ")
        }
        let actual = index.images.map { im in
            im.id + ": " + im.readings.map { r in
                let boxes = r.boxes.map { "box \($0.label) \($0.box)@\($0.location.source):\($0.location.line)" }
                let labels = r.labelRows.map { "label \($0.label) ignored=\($0.ignoredBox) missing=\($0.missingBox)@\($0.location.source):\($0.location.line)" }
                let ticks = r.imageLabelRows.map { "labels@\($0.source):\($0.line)" }
                return "\(r.reader ?? "-") \(r.labels.bits) " + [boxes, labels, ticks].map { $0.joined(separator: ";") }.joined(separator: " | ")
            }.joined(separator: " / ")
        }
        XCTAssertEqual(actual.count, expected.count)
        for (a, e) in zip(actual, expected) where a != e {
            XCTFail("index:     \(a.prefix(400))\nreference: \(e.prefix(400))")
            break
        }
        XCTAssertEqual(index.rowCounts, [25_000, 300, 4_000, 1_500])
    }
}
