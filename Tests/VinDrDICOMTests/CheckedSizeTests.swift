import XCTest
@testable import VinDrDICOM

final class CheckedSizeTests: XCTestCase {
    func testProductsThatFitAreReturned() throws {
        XCTAssertEqual(try checkedSize(65535, 65535, 2, what: "frame", source: "f"), 65535 * 65535 * 2)
        XCTAssertEqual(checkedProduct(), 1)
        XCTAssertEqual(checkedProduct(3, 0, Int.max), 0)
    }

    func testOverflowAndNegativeFactorsAreErrorsNotTraps() {
        XCTAssertNil(checkedProduct(65535, 65535, 999_999_999_999, 2))
        XCTAssertNil(checkedProduct(-1, 2))
        XCTAssertThrowsError(try checkedSize(65535, 65535, 999_999_999_999, 2, what: "Number of Frames (0028,0008)", source: "f.dcm")) {
            let e = $0 as? VinDrError
            XCTAssertEqual(e?.kind, .format)
            XCTAssertTrue(e?.description.contains("f.dcm: Number of Frames (0028,0008)") ?? false, "\($0)")
        }
        XCTAssertThrowsError(try checkedSize(-1, 2, what: "row", source: "f", kind: .argument)) {
            XCTAssertEqual(($0 as? VinDrError)?.kind, .argument)
        }
    }
}
