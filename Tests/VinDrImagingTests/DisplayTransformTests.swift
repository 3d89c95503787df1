import XCTest
import VinDrDICOM
import VinDrTestSupport
@testable import VinDrImaging

final class DisplayTransformTests: XCTestCase {
    func voi(_ v: DisplayTransform.VOI, _ x: Double) -> Double {
        DisplayTransform(modality: .rescale(slope: 1, intercept: 0), voi: v, invert: false).voiValue(x)
    }

    func testCallerOptionsAreCheckedOnceAsArgumentErrors() throws {
        let file = try DICOMFile(bytes: TestDICOM.file(rows: 2, columns: 2, pixels: TestDICOM.le16([0, 1, 2, 3])))
        let bad: [RenderOptions] = [
            RenderOptions(window: .explicit(center: 100, width: 0.5, function: .linear)),
            RenderOptions(window: .percentile(low: 50, high: 10)),
            RenderOptions(size: .exact(height: 8, width: 8), aspect: .letterbox(pad: 2)),
            RenderOptions(threads: 0),
            RenderOptions(frame: -1),
        ]
        for o in bad {
            // A caller's mistake is an argument error (VDR_ERR_ARGUMENT), not a malformed file.
            XCTAssertThrowsError(try Renderer.render(file, options: o)) { XCTAssertEqual(($0 as? VinDrError)?.kind, .argument, "\($0)") }
            XCTAssertThrowsError(try o.validate())
        }
        XCTAssertNoThrow(try Renderer.render(file, options: RenderOptions(window: .explicit(center: 100, width: 0.5, function: .sigmoid))))
    }

    func testKaggleRecipeWorkedByHand() throws {
        func kaggle(_ values: [Int], photometric: String = "MONOCHROME2", extra: [DICOMElement] = []) throws -> [UInt8] {
            let file = try DICOMFile(bytes: TestDICOM.file(rows: 1, columns: values.count, photometric: photometric,
                                                           pixels: TestDICOM.le16(values), extra: extra))
            return try Renderer.render(file, options: RenderOptions(window: .kaggle)).bytes
        }
        // No window: (x - min) / (max - min) * 255, truncated.
        XCTAssertEqual(try kaggle([0, 1, 2, 3]), [0, 85, 170, 255])
        XCTAssertEqual(try kaggle([0, 1, 2, 3], photometric: "MONOCHROME1"), [255, 170, 85, 0])
        // max == min: zeros (the recipe's 0 / 0).
        XCTAssertEqual(try kaggle([7, 7, 7]), [0, 0, 0])
        // pydicom's LINEAR on stored values, c = 100, w = 21: 80 -> y_min, 120 -> y_max, 101 ->
        // (1.5 / 20 + 0.5) of the range = 146.625 of 255, truncated to 146. The rescale only moves
        // the output range, so the bytes stay.
        let window: [DICOMElement] = [TestDICOM.text(0x0028, 0x1050, "DS", "100"), TestDICOM.text(0x0028, 0x1051, "DS", "21")]
        XCTAssertEqual(try kaggle([80, 99, 101, 120], extra: window), [0, 121, 146, 255])
        let rescale: [DICOMElement] = [TestDICOM.text(0x0028, 0x1052, "DS", "-1024"), TestDICOM.text(0x0028, 0x1053, "DS", "2")]
        XCTAssertEqual(try kaggle([80, 99, 101, 120], extra: window + rescale), [0, 121, 146, 255])
        // A slope overflowing the output range to infinity: the recipe's inf / inf is NaN, cast to
        // 0; ours is 0 too, without trapping on the NaN.
        let huge: [DICOMElement] = [TestDICOM.text(0x0028, 0x1052, "DS", "0"), TestDICOM.text(0x0028, 0x1053, "DS", "1e308")]
        XCTAssertEqual(try kaggle([80, 101, 120], extra: window + huge), [0, 0, 0])
    }

    func testLinearFollowsPS33BoundariesExactly() {
        // PS3.3 C.11.2.1.2.1 with c = 100, w = 21: x <= 89.5 -> 0, x > 109.5 -> 1.
        let w = DisplayTransform.VOI.window(center: 100, width: 21, function: .linear)
        XCTAssertEqual(voi(w, 89.5), 0)
        XCTAssertEqual(voi(w, 109.6), 1)
        XCTAssertEqual(voi(w, 99.5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(voi(w, 104.5), (104.5 - 99.5) / 20 + 0.5, accuracy: 1e-12)
    }

    func testLinearExactAndSigmoid() {
        let e = DisplayTransform.VOI.window(center: 0, width: 10, function: .linearExact)
        XCTAssertEqual(voi(e, -5), 0)
        XCTAssertEqual(voi(e, 2.5), 0.75, accuracy: 1e-12)
        XCTAssertEqual(voi(e, 5.01), 1)
        let s = DisplayTransform.VOI.window(center: 10, width: 4, function: .sigmoid)
        XCTAssertEqual(voi(s, 10), 0.5, accuracy: 1e-12)
        XCTAssertEqual(voi(s, 11), 1 / (1 + exp(-1.0)), accuracy: 1e-12)
    }

    func testVOILUTAndModalityLUTClampAtTheEnds() {
        let lut = LookupTable(firstMapped: -2, bitsPerEntry: 8, data: [0, 51, 255])
        let t = DisplayTransform(modality: .lut(lut), voi: .lut(LookupTable(firstMapped: 0, bitsPerEntry: 8, data: Array(0...255))), invert: true)
        XCTAssertEqual(t.modalityValue(-10), 0)
        XCTAssertEqual(t.modalityValue(-1), 51)
        XCTAssertEqual(t.modalityValue(40), 255)
        XCTAssertEqual(t.displayValue(stored: -1), 1 - 51.0 / 255, accuracy: 1e-12)
    }

    func testTableCoversTheBitsStoredRange() {
        let t = DisplayTransform(modality: .rescale(slope: 1, intercept: 0), voi: .range(low: -2048, high: 2047), invert: false)
        let table = t.table(format: .int16, bitsStored: 12)
        XCTAssertEqual(table.count, 4096)
        XCTAssertEqual(table[0x800], 0)  // bit pattern of -2048
        XCTAssertEqual(table[0x7FF], 1)  // 2047
    }
}
