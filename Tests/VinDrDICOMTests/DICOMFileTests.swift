import XCTest
import VinDrTestSupport
@testable import VinDrDICOM

final class DICOMFileTests: XCTestCase {
    func testReadsAttributesAndStoredValues() throws {
        let values = [0, 1, 4095, 2048, 7, 100]
        let bytes = TestDICOM.file(rows: 2, columns: 3, pixels: TestDICOM.le16(values), extra: [
            TestDICOM.text(0x0028, 0x1050, "DS", "2048\\100"), TestDICOM.text(0x0028, 0x1051, "DS", "4096\\50"),
            TestDICOM.text(0x0028, 0x1052, "DS", "-1024"), TestDICOM.text(0x0028, 0x1053, "DS", "2"),
        ])
        let file = try DICOMFile(bytes: bytes)
        let m = file.metadata
        XCTAssertEqual(m.rows, 2)
        XCTAssertEqual(m.columns, 3)
        XCTAssertEqual(m.windows.map(\.center), [2048, 100])
        XCTAssertEqual(m.windows.map(\.width), [4096, 50])
        XCTAssertEqual(m.rescaleSlope, 2)
        XCTAssertEqual(m.rescaleIntercept, -1024)
        XCTAssertEqual(m.transferSyntaxUID, TransferSyntax.explicitLittle)
        XCTAssertFalse(m.transferSyntaxInferred)
        let p = try file.decode()
        XCTAssertEqual((0..<6).map { p.value(row: $0 / 3, column: $0 % 3, bitsStored: 12) }, values)
    }

    func testHighBitsAboveBitsStoredAreMaskedOrSignExtended() {
        XCTAssertEqual(StoredValueRange.interpret(0xF123, bitsStored: 12, signed: false), 0x123)
        XCTAssertEqual(StoredValueRange.interpret(0x0FFF, bitsStored: 12, signed: true), -1)
        XCTAssertEqual(StoredValueRange.interpret(0x0800, bitsStored: 12, signed: true), -2048)
        XCTAssertEqual(StoredValueRange.interpret(0x07FF, bitsStored: 12, signed: true), 2047)
    }

    func testMissingTransferSyntaxIsInferred() throws {
        let bytes = TestDICOM.file(rows: 1, columns: 2, pixels: TestDICOM.le16([5, 6]), transferSyntax: nil)
        let file = try DICOMFile(bytes: bytes)
        XCTAssertTrue(file.metadata.transferSyntaxInferred)
        XCTAssertEqual(try file.decode().value(row: 0, column: 1, bitsStored: 12), 6)
    }

    func testMissingPixelDataIsAClearError() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 4, columns: 4, pixels: nil))
        XCTAssertThrowsError(try file.decode()) { error in
            XCTAssertEqual((error as? VinDrError)?.kind, .noPixelData)
            XCTAssertTrue(String(describing: error).contains("(7FE0,0010)"))
        }
    }

    func testShortPixelDataNamesTheTag() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 4, columns: 4, pixels: TestDICOM.le16([1, 2])))
        XCTAssertThrowsError(try file.decode()) { error in
            XCTAssertEqual((error as? VinDrError)?.kind, .format)
            XCTAssertTrue(String(describing: error).contains("Pixel Data (7FE0,0010) has 4 bytes"))
        }
    }

    func testOddLengthPaddingIsIgnored() throws {
        // 3 8-bit pixels padded to 4 bytes, as PS3.5 7.1.1 requires even value lengths.
        let bytes = TestDICOM.file(rows: 1, columns: 3, bitsAllocated: 8, bitsStored: 8, pixels: [9, 8, 7, 0])
        let p = try DICOMFile(bytes: bytes).decode()
        XCTAssertEqual(p.bytes, [9, 8, 7])
    }

    func testColourIsUnsupported() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 1, columns: 1, photometric: "RGB", pixels: [0, 0]))
        XCTAssertThrowsError(try file.decode()) { XCTAssertEqual(($0 as? VinDrError)?.kind, .unsupported) }
    }

    func testNotDICOMAndMissingFileAreErrors() {
        XCTAssertThrowsError(try DICOMFile(bytes: Array("hello, not a DICOM file".utf8)))
        XCTAssertThrowsError(try DICOMFile(path: "/nonexistent/x.dcm")) { error in
            XCTAssertEqual((error as? VinDrError)?.kind, .io)
            XCTAssertTrue(String(describing: error).contains("/nonexistent/x.dcm"))
        }
    }

    func testFrameOutOfRange() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 1, columns: 2, pixels: TestDICOM.le16([1, 2])))
        XCTAssertThrowsError(try file.decode(frame: 1)) { XCTAssertEqual(($0 as? VinDrError)?.kind, .argument) }
    }
}
