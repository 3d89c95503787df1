import XCTest
@testable import VinDrAnnotations

/// Table 2's building blocks: the paper's label order, Age Strings, medians, number formats.
final class Table2Tests: XCTestCase {
    func testPaperOrderIsTheTwentyEightLabelsNumberedAsInThePaper() {
        XCTAssertEqual(Taxonomy.paperOrder.count, 28)
        XCTAssertEqual(Set(Taxonomy.paperOrder.map(\.index)).count, 28)
        XCTAssertEqual(Taxonomy.paperOrder[2].name, "Cardiomegaly")   // (3), while the CSV column order has it 4th
        XCTAssertEqual(Taxonomy.paperOrder[21].name, "Other lesion")
        XCTAssertEqual(Taxonomy.paperOrder[22].name, "Lung tumor")
        XCTAssertEqual(Taxonomy.paperOrder[27].name, "No finding")
        XCTAssertTrue(Taxonomy.paperOrder.prefix(22).allSatisfy { $0.kind == .local })
        XCTAssertTrue(Taxonomy.paperOrder.suffix(6).allSatisfy { $0.kind == .global })
    }

    func testAgeStringsInYears() {
        XCTAssertEqual(CollectionStatistics.years(fromAge: "045Y"), 45)
        XCTAssertEqual(CollectionStatistics.years(fromAge: "006M"), 0.5)
        XCTAssertEqual(CollectionStatistics.years(fromAge: "052W") ?? 0, 52 * 7 / 365.25, accuracy: 1e-12)
        XCTAssertEqual(CollectionStatistics.years(fromAge: "365D") ?? 0, 365 / 365.25, accuracy: 1e-12)
        XCTAssertEqual(CollectionStatistics.years(fromAge: "45Y "), 45)
        for bad in ["", "Y", "45", "045y", "0045Y", "4.5Y", "abc"] { XCTAssertNil(CollectionStatistics.years(fromAge: bad), bad) }
    }

    func testCollectionRowsCountMissingAndInvalidValues() {
        let h = [ImageHeaderFacts(bytes: 10, rows: 100, columns: 80, sex: "M", age: "040Y"),
                 ImageHeaderFacts(bytes: 20, rows: 200, columns: 60, sex: "F", age: "030Y"),
                 ImageHeaderFacts(bytes: 30, rows: 300, columns: 70, sex: "O", age: nil),
                 ImageHeaderFacts(bytes: 40, rows: 400, columns: 90, sex: nil, age: "x")]
        let s = CollectionStatistics(headers: h, bytesOfUnreadable: 5, unreadable: [("bad.dicom", "truncated")])
        XCTAssertEqual(s.images, 5)
        XCTAssertEqual(s.medianRows, 250)
        XCTAssertEqual(s.medianColumns, 75)
        XCTAssertEqual(s.medianAge, 35)
        XCTAssertEqual([s.agesKnown, s.agesMissing, s.agesInvalid], [2, 1, 1])
        XCTAssertEqual([s.male, s.female, s.otherSex, s.sexMissing], [1, 1, 1, 1])
        XCTAssertEqual(s.malePercent, 50)
        XCTAssertEqual(s.bytes, 105)
        XCTAssertNil(CollectionStatistics(headers: []).medianAge)
    }

    func testNumberFormats() {
        XCTAssertEqual(decimalText(37.5, places: 2), "37.50")
        XCTAssertEqual(decimalText(100.0 / 3, places: 2), "33.33")
        XCTAssertEqual(significantText(161.2e0), "161")
        XCTAssertEqual(significantText(31.34), "31.3")
        XCTAssertEqual(significantText(0.0007342), "0.000734")
        XCTAssertEqual(significantText(0), "0")
    }
}
