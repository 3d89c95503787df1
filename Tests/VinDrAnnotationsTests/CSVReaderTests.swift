import XCTest
import VinDrBoxes
@testable import VinDrAnnotations

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, name: String = "test.csv") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vindr-ann-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    XCTAssertTrue(FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8)), "cannot write \(url.path)")
    return url.path
}

final class CSVReaderTests: XCTestCase {
    func rows(_ text: String) throws -> [[String]] {
        var out = [[String]]()
        try CSVReader.forEachRow(text: text, name: "mem.csv") { row in out.append((0..<row.count).map { row.string($0) }) }
        return out
    }

    func testQuotesCRLFBOMAndBlankLines() throws {
        let text = "\u{FEFF}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\r\n\r\n1,\"multi\nline\",3\n"
        XCTAssertEqual(try rows(text), [["a", "b", "c"], ["x, y", "say \"hi\"", ""], ["1", "multi\nline", "3"]])
    }

    func testLineNumbersCountPhysicalLines() throws {
        var lines = [Int]()
        try CSVReader.forEachRow(text: "h\n\"a\nb\"\n\nc\n", name: "m") { lines.append($0.line) }
        XCTAssertEqual(lines, [1, 2, 5])
    }

    func testMalformedQuotesNameTheLine() {
        XCTAssertThrowsError(try rows("a,b\n\"x\"y,1\n")) { e in
            XCTAssertEqual((e as? VinDrError)?.line, 2)
        }
        XCTAssertThrowsError(try rows("a\n\"open\n")) { e in
            XCTAssertEqual((e as? VinDrError)?.message, "unterminated quoted field")
        }
    }

    func testNumberParsingMatchesStrtod() throws {
        for s in ["691", "-0.5", "1234.5678", "0.1", "1e3", "2.5E-3", " 7 ", "12345678901234567890.5", "0.30000000000000004"] {
            var v: Double?
            try CSVReader.forEachRow(text: s, name: "m") { v = $0.double(0) }
            XCTAssertEqual(v, strtod(s, nil), s)
        }
        for s in ["", "abc", "1.2.3", "nan", "inf", "1e999"] {
            var v: Double? = 0
            try CSVReader.forEachRow(text: "\(s),x", name: "m") { v = $0.double(0) }
            XCTAssertNil(v, s)
        }
    }
}

final class NumberParsingTests: XCTestCase {
    /// Random decimal strings (signs, leading and trailing zeros, lone points, 1-20 digits,
    /// exponents, padding, junk) parse exactly as strtod parses the whole field, or not at all.
    func testRandomDecimalsMatchStrtod() {
        var state: UInt64 = 0x1234_5678_9ABC_DEF1
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        func digits(_ n: Int) -> String { String((0..<n).map { _ in Character(String(next(10))) }) }
        for _ in 0..<200_000 {
            var s = ["", "", "", "-", "+", " "][next(6)] + digits(next(12))
            if next(3) > 0 { s += "." + digits(next(10)) + String(repeating: "0", count: next(3)) }
            if next(10) == 0 { s += ["e", "E"][next(2)] + ["", "-", "+"][next(3)] + digits(next(3)) }
            if next(20) == 0 { s += ["x", ".", " ", "\t", "1"][next(5)] }
            let expected: Double? = s.withCString { c in
                var end: UnsafeMutablePointer<CChar>? = nil
                let v = strtod(c, &end)
                var rest = end!
                while rest.pointee == 0x20 || rest.pointee == 0x09 { rest += 1 }
                return end! != UnsafeMutablePointer(mutating: c) && rest.pointee == 0 && v.isFinite ? v : nil
            }
            let got = Array(s.utf8).withUnsafeBufferPointer { parseDouble($0) }
            guard got?.bitPattern == expected?.bitPattern else {
                XCTFail("\"\(s)\": \(String(describing: got)) vs strtod \(String(describing: expected))")
                return
            }
        }
    }
}

final class AnnotationIndexTests: XCTestCase {
    let kaggle = """
        image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
        img1,Cardiomegaly,3,R8,100,200,300,400
        img1,Cardiomegaly,3,R9,110,210,310,410
        img1,No finding,14,R10,,,,
        img1,Aortic enlargement,0,R9,10,10,20,20
        img2,No finding,14,R8,,,,
        img2,No finding,14,R9,,,,
        img2,No finding,14,R10,,,,
        """

    func testLayoutDetection() throws {
        let index = AnnotationIndex()
        XCTAssertEqual(try index.add(path: temporaryFile(kaggle)), .kaggleTrain)
        XCTAssertEqual(try index.add(path: temporaryFile("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nimg3,R1,Nodule/Mass,1,2,3,4\n")), .annotations)
        XCTAssertEqual(try index.add(path: temporaryFile("image_id,class_name,x_min,y_min,x_max,y_max\nimg4,No finding,,,,\n")), .consensusAnnotations)
        let labels = (["image_id"] + Taxonomy.labels.map(\.name).map { $0 == "Other diseases" ? "Other disease" : $0 }).joined(separator: ",")
        let row = "img4," + Taxonomy.labels.map { $0.name == "No finding" ? "1" : "0" }.joined(separator: ",")
        XCTAssertEqual(try index.add(path: temporaryFile(labels + "\n" + row + "\n")), .consensusImageLabels)
        XCTAssertEqual(index.images.map(\.id), ["img1", "img2", "img3", "img4"])
        XCTAssertEqual(index.image("img4")?.readings.count, 1)
        XCTAssertNil(index.image("img4")?.readings[0].reader)
        XCTAssertTrue(index.image("img4")?.readings[0].labels.contains(Taxonomy.noFinding.index) == true)
    }

    func testErrorsNameFileLineAndColumn() {
        let path = temporaryFile("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nimg,R1,Cardiomegaly,1,2,3,4\nimg,R1,Cardiomegaly,1,x,3,4\n")
        XCTAssertThrowsError(try AnnotationIndex(paths: [path])) { e in
            let err = e as? VinDrError
            XCTAssertEqual(err?.source, path)
            XCTAssertEqual(err?.kind, .csv)
            XCTAssertEqual(err?.line, 3)
            XCTAssertEqual(err?.column, "y_min")
        }
        let partial = temporaryFile("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nimg,R1,Cardiomegaly,1,,3,4\n")
        XCTAssertThrowsError(try AnnotationIndex(paths: [partial])) { e in XCTAssertEqual((e as? VinDrError)?.column, "y_min") }
        let unknown = temporaryFile("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nimg,R1,Fracture,1,2,3,4\n")
        XCTAssertThrowsError(try AnnotationIndex(paths: [unknown])) { e in XCTAssertEqual((e as? VinDrError)?.column, "class_name") }
        let mismatch = temporaryFile("image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\nimg,ILD,4,R1,1,2,3,4\n")
        XCTAssertThrowsError(try AnnotationIndex(paths: [mismatch])) { e in XCTAssertEqual((e as? VinDrError)?.column, "class_id") }
    }

    func testConsensusMajorityUnionReaderAndFusion() throws {
        let index = try AnnotationIndex(paths: [temporaryFile(kaggle)])
        guard let img1 = index.image("img1") else { return XCTFail("img1 missing") }
        let cardio = Taxonomy.label(named: "Cardiomegaly")!.index
        let aortic = Taxonomy.label(named: "Aortic enlargement")!.index
        XCTAssertEqual(Array(img1.consensusLabels()), [cardio])
        // "No finding" needs a strict majority whatever the votes: R10 alone does not make it.
        XCTAssertEqual(Set(img1.consensusLabels(minimumVotes: 1)), [aortic, cardio])
        XCTAssertEqual(Array(img1.consensusLabels(minimumVotes: 1, filter: ReaderFilter(reader: "R8"))), [cardio])
        XCTAssertEqual(Array(img1.consensusLabels(filter: ReaderFilter(excluded: ["R9"]))), [])
        XCTAssertEqual(try img1.consensusBoxes(.all).count, 3)
        let fused = try img1.consensusBoxes(.fused(iouThreshold: 0.4, confidenceType: .avg))
        // Two readers agree on cardiomegaly out of three: score 2/3, box the mean of theirs (in
        // Double); R9's lone aortic enlargement has one vote and is left out.
        XCTAssertEqual(fused.labels, [cardio])
        XCTAssertEqual(fused.scores, [2.0 / 3.0])
        XCTAssertEqual(fused.boxes, [Box(x1: 105, y1: 205, x2: 305, y2: 405)])
        let any = try img1.consensusBoxes(.fused(iouThreshold: 0.4, confidenceType: .avg), minimumVotes: 1)
        XCTAssertEqual(any.labels, [cardio, aortic])
        XCTAssertEqual(any.boxes[1], Box(x1: 10, y1: 10, x2: 20, y2: 20))
    }

    func testQualityRules() throws {
        let text = """
            image_id,rad_id,class_name,x_min,y_min,x_max,y_max
            a,R1,No finding,,,,
            a,R1,Nodule/Mass,5,5,10,10
            a,R2,Nodule/Mass,10,5,5,10
            a,R2,Nodule/Mass,-1,5,5,5
            a,R2,Nodule/Mass,-1,5,5,5
            a,R3,Cardiomegaly,,,,
            a,R3,COPD,1,2,3,4
            """
        let path = temporaryFile(text)
        let issues = try AnnotationIndex(paths: [path]).qualityIssues()
        func lines(_ rule: QCRule) -> [[Int]] { issues.filter { $0.rule == rule }.map { $0.locations.map(\.line) } }
        XCTAssertEqual(lines(.lesionWithNoFinding), [[2, 3]])
        XCTAssertEqual(lines(.reversedCorners), [[4]])
        XCTAssertEqual(lines(.degenerateBox), [[5], [6]])
        XCTAssertEqual(lines(.outOfImage), [[5], [6]])
        XCTAssertEqual(lines(.duplicateRow), [[5, 6]])
        XCTAssertEqual(lines(.missingBox), [[7]])
        XCTAssertEqual(lines(.boxOnGlobalLabel), [[8]])
    }

    func testLabelingRulesOfThePaperAndTheDatasetShape() throws {
        let boxes = temporaryFile("""
            image_id,rad_id,class_name,x_min,y_min,x_max,y_max
            a,R1,Cardiomegaly,1,1,5,5
            a,R2,Cardiomegaly,1,1,5,5
            a,R3,No finding,,,,
            b,R1,No finding,,,,
            b,R2,No finding,,,,
            """)
        func row(_ image: String, _ reader: String, _ on: Set<String>) -> String {
            "\(image),\(reader)," + Taxonomy.labels.map { on.contains($0.name) ? "1" : "0" }.joined(separator: ",")
        }
        let labels = temporaryFile((["image_id,rad_id," + Taxonomy.labels.map(\.name).joined(separator: ","),
                                     row("a", "R1", ["Cardiomegaly", "Other diseases"]), row("a", "R2", ["Cardiomegaly"]),
                                     row("a", "R3", ["No finding"]), row("b", "R1", ["No finding"]),
                                     row("b", "R2", ["No finding"])]).joined(separator: "\n"))
        let consensus = temporaryFile("image_id,class_name,x_min,y_min,x_max,y_max\nb,No finding,,,,\n")
        let index = try AnnotationIndex(paths: [boxes, labels, consensus])
        let issues = index.qualityIssues()
        XCTAssertEqual(issues.map(\.rule), [.noGlobalLabel, .testReadingCount])
        XCTAssertEqual(issues.map(\.imageID), ["a", "b"])
        XCTAssertEqual(issues[0].reader, "R2")
        XCTAssertEqual(issues[0].locations.map(\.line), [3, 3])
        XCTAssertEqual(index.sortedReaderIDs, ["R1", "R2", "R3"])
        // Without image_labels, global labels are unknown: only the dataset's shape is checked.
        let shape = try AnnotationIndex(paths: [boxes]).qualityIssues()
        XCTAssertEqual(shape.map(\.rule), [.trainReaderCount])
        XCTAssertEqual(shape.first?.message, "2 readers (R1, R2); a training image has 3")
        XCTAssertTrue(QCRule.trainReaderCount.isImageLevel && !QCRule.noGlobalLabel.isImageLevel)
    }

    func testTargetTableColumnsAndNaturalReaderOrder() throws {
        let csv = temporaryFile("""
            image_id,rad_id,class_name,x_min,y_min,x_max,y_max
            a,R10,Cardiomegaly,10,20,30,40
            a,R2,Nodule/Mass,1,2,3,4
            b,R2,No finding,,,,
            """)
        let index = try AnnotationIndex(paths: [csv])
        XCTAssertEqual(index.sortedReaderIDs, ["R2", "R10"])
        let t = try index.targetTable(.all)
        XCTAssertEqual(t.count, 2)
        XCTAssertEqual(t.image, [0, 0])
        XCTAssertEqual(t.boxes, [10, 20, 30, 40, 1, 2, 3, 4])
        XCTAssertEqual(t.labels.map { Taxonomy.labels[Int($0)].name }, ["Cardiomegaly", "Nodule/Mass"])
        XCTAssertEqual(t.readers, [1, 0])
        XCTAssertEqual(t.scores, [1, 1])
        // One reader per label on image a: nothing holds by 2 votes, both boxes with 1.
        XCTAssertEqual(try index.targetTable(.fused(iouThreshold: 0.5)).count, 0)
        let fused = try index.targetTable(.fused(iouThreshold: 0.5, minimumVotes: 1))
        XCTAssertEqual(fused.readers, [-1, -1])
        XCTAssertEqual(fused.scores, [0.5, 0.5])
        XCTAssertThrowsError(try index.targetTable(.fused(iouThreshold: 1.5)))
    }

    func testStatisticsCountsAndKappa() throws {
        let index = try AnnotationIndex(paths: [temporaryFile(kaggle)])
        let s = index.statistics()
        let cardio = s.labels.first { $0.label.name == "Cardiomegaly" }
        XCTAssertEqual(s.images, 2)
        XCTAssertEqual(cardio?.majority, 1)
        XCTAssertEqual(cardio?.any, 1)
        XCTAssertEqual(cardio?.boxes, 2)
        // Pairs: R8-R9 overlap with IoU 190*190 / (2*200*200 - 190*190) > 0.4, one match of 2 boxes;
        // R8-R10 and R9-R10 match nothing of 1 box each. Pooled F1 = 2 * 1 / (2 + 1 + 1).
        XCTAssertEqual(cardio?.boxF1 ?? -1, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.rows, 7)
        XCTAssertEqual(s.readers.map(\.reader), ["R8", "R9", "R10"])
        // Fleiss' kappa, by hand: cardiomegaly ratings (2 of 3, 0 of 3). P1 = (4+1-3)/6 = 1/3,
        // P2 = 1, Pbar = 2/3; p = 2/6, Pe = 1/9 + 4/9 = 5/9; kappa = (2/3 - 5/9) / (4/9) = 1/4.
        XCTAssertEqual(cardio?.fleissKappa ?? -1, 0.25, accuracy: 1e-12)
    }
}

/// Everything an index holds, as text: images in order, readings, boxes, label rows with their
/// lines, readers and row counts.
func signature(_ index: AnnotationIndex) -> [String] {
    index.images.map { im in
        im.id + ":" + im.readings.map { r in
            (r.reader ?? "-") + r.boxes.map { "\($0.label)@\($0.box)#\($0.location.line)" }.joined(separator: ";")
                + r.labelRows.map { "\($0.label)#\($0.location.line)" }.joined(separator: ";")
        }.joined(separator: "|")
    } + [index.readerIDs.joined(separator: ","), "\(index.rowCounts)"]
}

final class CSVStreamingTests: XCTestCase {
    /// Rows that straddle the reader's 1 MiB chunks (quoted newlines, "" escapes, CRLF split
    /// between chunks) come out exactly as written.
    func testRecordsAcrossChunkBoundaries() throws {
        var expected = [[String]]()
        var text = "\u{FEFF}id,note,value\r\n"
        var k = 0
        while text.utf8.count < 3 * CSVReader.chunkSize {
            let note = k % 7 == 0 ? "multi\nline \"quoted\", \(k)" : "plain \(k)"
            expected.append([String(k), note, String(Double(k) / 8)])
            let field = note.contains(where: { $0 == "\n" || $0 == "\"" || $0 == "," })
                ? "\"" + note.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : note
            text += "\(k),\(field),\(Double(k) / 8)\r\n"
            k += 1
        }
        let path = temporaryFile(text)
        var rows = [[String]]()
        try CSVReader.forEachRow(path: path) { row in rows.append((0..<row.count).map { row.string($0) }) }
        XCTAssertEqual(rows.first, ["id", "note", "value"])
        XCTAssertEqual(Array(rows.dropFirst()), expected)
    }

    /// Every split point of a small file: BOM, CRLF, quotes and "" escapes cut between chunks.
    func testTinyChunks() throws {
        let text = "\u{FEFF}a,b\r\n\"x\r\ny\",\"say \"\"hi\"\"\"\r\n\r\n1,\r\n2,3"
        let path = temporaryFile(text)
        for chunk in 1...8 {
            var rows = [[String]]()
            try CSVReader.forEachRow(path: path, chunkSize: chunk) { row in rows.append((0..<row.count).map { row.string($0) }) }
            XCTAssertEqual(rows, [["a", "b"], ["x\r\ny", "say \"hi\""], ["1", ""], ["2", "3"]], "chunk \(chunk)")
        }
    }

    /// Large files are parsed in two halves at once: ids, order, rows, line numbers and errors
    /// must equal a row-by-row read, including images and readers seen in both halves, CRLF and
    /// blank lines, and a bad row in the second half.
    func testHalvesEqualSequentialRead() throws {
        var text = "image_id,rad_id,class_name,x_min,y_min,x_max,y_max\r\n"
        var k = 0
        while text.utf8.count < 300_000 {
            let image = "img\((k * 7919) % 1500)", reader = "R\(k % 5 + 1)"
            text += k % 3 == 0 ? "\(image),\(reader),No finding,,,,\r\n" : "\(image),\(reader),ILD,\(k % 90),2,\(k % 90 + 10),40\r\n"
            if k % 1000 == 0 { text += "\r\n" }
            if k % 1777 == 0 { text += "img\(k),R\r9,No finding,,,,\r\n" }  // a lone CR is data
            k += 1
        }
        let good = temporaryFile(text)
        let halves = AnnotationIndex(), sequential = AnnotationIndex()
        try halves.add(path: good, parallelThreshold: 1)
        try sequential.add(path: good, parallelThreshold: .max)
        XCTAssertTrue(signature(halves) == signature(sequential), "the two reads differ")
        XCTAssertGreaterThan(halves.images.count, 1000)

        // A quote in the second half: the file is read row by row after all, into an index that
        // already holds a file, and the first half's interning must not leak into it.
        var quotedLines = text.replacingOccurrences(of: "img", with: "pic").components(separatedBy: "\r\n")
        quotedLines[quotedLines.count * 3 / 4] = "\"img-quoted\",R1,No finding,,,,"
        let quoted = temporaryFile(quotedLines.joined(separator: "\r\n"))
        let labelsFirst = AnnotationIndex(), labelsFirstSequential = AnnotationIndex()
        try labelsFirst.add(path: good, parallelThreshold: 1)
        try labelsFirst.add(path: quoted, parallelThreshold: 1)
        try labelsFirstSequential.add(path: good, parallelThreshold: .max)
        try labelsFirstSequential.add(path: quoted, parallelThreshold: .max)
        XCTAssertTrue(signature(labelsFirst) == signature(labelsFirstSequential), "the reads of a quoted file differ")
        XCTAssertNotNil(labelsFirst.image("img-quoted"))

        // image_labels layout: 30 fields per record.
        let names = Taxonomy.labels.map(\.name)
        var labels = "image_id,rad_id," + names.joined(separator: ",") + "\n"
        for k in 0..<4000 {
            labels += "img\(k % 900),R\(k % 3 + 1)," + names.indices.map { ($0 * 7 + k) % 5 == 0 ? "1" : "0" }.joined(separator: ",") + "\n"
        }
        let labelsFile = temporaryFile(labels)
        let labelHalves = AnnotationIndex(), labelSequential = AnnotationIndex()
        try labelHalves.add(path: labelsFile, parallelThreshold: 1)
        try labelSequential.add(path: labelsFile, parallelThreshold: .max)
        let labelSignature = { (index: AnnotationIndex) in
            index.images.map { im in im.id + im.readings.map { "\($0.reader ?? "-")\($0.labels.bits)\($0.imageLabelRows.map(\.line))" }.joined() }
        }
        XCTAssertTrue(labelSignature(labelHalves) == labelSignature(labelSequential), "the two image-label reads differ")
        XCTAssertEqual(labelHalves.images.count, 900)

        var lines = text.components(separatedBy: "\r\n")
        lines[lines.count * 3 / 4] = "img1,R1,ILD,1,2,oops,4"
        let bad = temporaryFile(lines.joined(separator: "\r\n"))
        var messages = [String]()
        for (index, threshold) in [(AnnotationIndex(), 1), (AnnotationIndex(), Int.max)] {
            XCTAssertThrowsError(try index.add(path: bad, parallelThreshold: threshold)) { messages.append("\($0)") }
            messages.append(signature(index).joined(separator: "\n"))
        }
        XCTAssertEqual(messages.count, 4)
        XCTAssertTrue(messages[0].contains(":\(lines.count * 3 / 4 + 1): column x_max"), messages[0])
        XCTAssertEqual(messages[0], messages[2])
        XCTAssertTrue(messages[1] == messages[3], "the rows kept before the error differ")
    }

    /// Random files of valid and broken rows, blank lines, CR, CRLF, padding and a BOM: the
    /// two-halves reads and the row-by-row read give the same index and the same error.
    func testHalvesEqualSequentialReadOnRandomFiles() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {  // a small LCG: reproducible across runs
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let fragments = [
            { "img\(next(40)),R\(next(4) + 1),Nodule/Mass,\(next(50)),\(next(50)),\(50 + next(50)),\(50 + next(50))" },
            { "img\(next(40)),R\(next(4) + 1),No finding,,,," },
            { "img\(next(40)), R\(next(4) + 1) ,ILD, \(next(9)).5 ,1,20,30 " },
            { "img\(next(40)),R\r\(next(3)),Other lesion,1,2,3,4" },
            { "" },
            { "   " },
            { "img\(next(40)),R1,ILD,1,2,oops,4" },
            { "img\(next(40)),R1,ILD,1,2" },
        ]
        var checked = 0
        for trial in 0..<60 {
            var text = (trial % 4 == 0 ? "\u{FEFF}" : "") + "image_id,rad_id,class_name,x_min,y_min,x_max,y_max"
            let rows = 20 + next(200)
            let broken = trial % 3 == 0  // a third of the files may hold a broken row
            for _ in 0..<rows {
                text += next(2) == 0 ? "\n" : "\r\n"
                text += fragments[next(broken ? fragments.count : 4)]()
            }
            if next(2) == 0 { text += "\n" }
            let path = temporaryFile(text)
            var results = [String]()
            // Halves read through the usual buffer, halves read through a 5-byte one (every line
            // outgrows it and is carried over), and row by row.
            for (threshold, chunk) in [(1, 1 << 16), (1, 5), (Int.max, 1 << 16)] {
                let index = AnnotationIndex()
                var outcome = "ok"
                do { try index.add(path: path, parallelThreshold: threshold, chunkSize: chunk) } catch { outcome = "\(error)" }
                results.append(outcome + "\n" + signature(index).joined(separator: "\n"))
            }
            for k in [1, 2] {
                XCTAssertTrue(results[0] == results[k], "trial \(trial): reads 0 and \(k) differ:\n\(results[0].prefix(300))\n---\n\(results[k].prefix(300))")
            }
            checked += 1
        }
        XCTAssertEqual(checked, 60)
    }
}
