import Foundation
import XCTest
import VinDrTestSupport
@testable import VinDrDICOM

final class DeidentificationTests: XCTestCase {
    func testMD5MatchesRFC1321Vectors() {
        XCTAssertEqual(MD5.hex(""), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(MD5.hex("abc"), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(MD5.hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
                       "57edf4a22be3c955ac49da2e2107b67a")
    }

    func testDerivedUIDsAreValidStableAndSalted() {
        let uid = "1.2.840.113619.2.55.3.604688119.971.1328177226.1"
        let a = derivedUID(uid, salt: "k")
        XCTAssertEqual(a, derivedUID(uid, salt: "k"))
        XCTAssertNotEqual(a, derivedUID(uid, salt: "other"))
        XCTAssertNotEqual(a, derivedUID(uid + "0", salt: "k"))
        XCTAssertTrue(a.hasPrefix("2.25."))
        XCTAssertLessThanOrEqual(a.count, 64)
        let digits = a.dropFirst(5)
        XCTAssertTrue(digits.allSatisfy(\.isNumber) && digits.first != "0")  // PS3.5 9.1: no leading zero
    }

    func testVindrProfileIsTheTwentyFiveAttributesOfTable4() {
        // Paper Table 4, row by row (typed from the paper, not from the profile).
        let table4: Set<DICOMTag> = [
            0x0010_0040, 0x0010_1010, 0x0010_1020, 0x0010_1030, 0x0028_0010, 0x0028_0011, 0x0028_0030,
            0x0028_0034, 0x0028_0100, 0x0028_0101, 0x0028_0102, 0x0028_0103, 0x0028_0106, 0x0028_0107,
            0x0028_1050, 0x0028_1051, 0x0028_1052, 0x0028_1053, 0x7FE0_0010, 0x0028_0004, 0x0028_2110,
            0x0028_2114, 0x0028_2112, 0x0028_0002, 0x0028_0008,
        ]
        XCTAssertEqual(table4.count, 25)
        XCTAssertEqual(Set(DeidentificationProfile.vindr.actions.keys), table4)
        XCTAssertNil(DeidentificationProfile.vindr.actions[0x0028_0006])  // Planar Configuration
        XCTAssertNil(DeidentificationProfile.vindr.actions[0x0028_1054])  // Rescale Type
        // The basic profile still keeps them (PS3.15 Table E.1-1 does not remove them).
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0028_0006], .keep)
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0028_1054], .keep)
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0028_0030], .keep)
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0028_0008], .keep)
        XCTAssertEqual(DeidentificationProfile.vindr.actions.count, 25)
        XCTAssertTrue(DeidentificationProfile.vindr.actions.values.allSatisfy { $0 == .keep })
        XCTAssertEqual(DeidentificationProfile.vindr.actions[0x7FE0_0010], .keep)
        XCTAssertNil(DeidentificationProfile.vindr.actions[0x0010_0010])
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0010_0010], .empty)
        XCTAssertEqual(DeidentificationProfile.basic.actions[0x0020_000D], .replaceUID)
    }

    func testScreeningReasons() {
        var a = ScreenedAttributes()
        a.photometricInterpretation = "MONOCHROME2"
        a.rows = 2500
        a.columns = 2000
        let rules = ScreeningRules()
        XCTAssertNil(rules.rejection(a))
        var b = a; b.bodyPartExamined = "ABDOMEN"
        XCTAssertTrue(rules.rejection(b)?.hasPrefix("not chest") == true)
        var c = a; c.viewPosition = "LATERAL"
        XCTAssertTrue(rules.rejection(c)?.hasPrefix("lateral") == true)
        var d = a; d.patientAge = "017Y"
        XCTAssertTrue(rules.rejection(d)?.hasPrefix("paediatric") == true)
        d.patientAge = "018Y"
        XCTAssertNil(rules.rejection(d))
        var e = a; e.photometricInterpretation = "RGB"
        XCTAssertTrue(rules.rejection(e)?.hasPrefix("not monochrome") == true)
        var f = a; f.columns = 800
        XCTAssertTrue(rules.rejection(f)?.hasPrefix("too small") == true)
    }

    /// Writes `bytes` as dir/in.dcm under a new temporary dir, de-identifies it into dir/out with
    /// the vindr profile (no size screening), and returns the summary and dir.
    func deidentify(_ bytes: [UInt8]) throws -> (DeidentificationSummary, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.dcm")
        try Data(bytes).write(to: input)
        var options = DeidentificationOptions()
        options.screening.minimumRows = 1
        options.screening.minimumColumns = 1
        return (try Deidentifier.run(input: input.path, output: dir.appendingPathComponent("out").path, options: options), dir)
    }

    func testVindrProfileOnAFileKeepsPixelBytesAndNamesByMD5() throws {
        let pixels = TestDICOM.le16([1, 2, 3, 4, 5, 6])
        let bytes = TestDICOM.file(rows: 2, columns: 3, pixels: pixels, extra: [
            TestDICOM.text(0x0010, 0x0010, "PN", "DOE^JOHN"), TestDICOM.text(0x0010, 0x0040, "CS", "M"),
        ])
        let (summary, dir) = try deidentify(bytes)
        XCTAssertEqual(summary.written, 1, "\(summary.records)")
        let id = MD5.hex("1.2.3.4")
        XCTAssertEqual(summary.records.first?.newID, id)
        let out = try Data(contentsOf: dir.appendingPathComponent("out/\(id).dicom"))
        XCTAssertNil(out.range(of: Data("DOE^JOHN".utf8)))
        XCTAssertNotNil(out.range(of: Data(id.utf8)))
        XCTAssertEqual(Array(out.suffix(pixels.count)), pixels)
        let file = try DICOMFile(bytes: Array(out))
        XCTAssertEqual(file.metadata.rows, 2)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("in.dcm")), Data(bytes))
        XCTAssertNotNil(out.range(of: Data(Implementation.classUID.utf8)))
        XCTAssertNotNil(out.range(of: Data(Implementation.versionName.utf8)))
    }

    func testVindrImageIDIsTheDataSetsSOPInstanceUIDWhenTheMetaDisagrees() throws {
        let bytes = TestDICOM.file(rows: 2, columns: 2, pixels: TestDICOM.le16([1, 2, 3, 4]), extra: [
            TestDICOM.text(0x0008, 0x0018, "UI", "1.2.3.5"),  // the meta says 1.2.3.4
        ])
        let (summary, _) = try deidentify(bytes)
        XCTAssertEqual(summary.records.first?.newID, MD5.hex("1.2.3.5"), "\(summary.records)")
        XCTAssertEqual(summary.records.first?.originalUID, "1.2.3.5")
    }
}
