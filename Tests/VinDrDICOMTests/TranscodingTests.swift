import Foundation
import XCTest
import VinDrTestSupport
@testable import VinDrDICOM

final class TranscodingTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vindr-transcode-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// A 12-bit 6x8 image written as Explicit VR Little Endian.
    private func source() throws -> String {
        let values = (0..<48).map { ($0 * 331) % 4096 }
        let path = folder + "/in.dcm"
        try Data(TestDICOM.file(rows: 6, columns: 8, pixels: TestDICOM.le16(values))).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testVerificationRejectsOtherValuesAndAnotherSyntax() throws {
        let input = try source()
        let output = folder + "/out.dcm"
        let summary = try Transcoder.run(input: input, output: output, options: TranscodeOptions(target: .htj2k))
        XCTAssertEqual(summary.written, 1, "\(summary.records)")
        XCTAssertTrue(summary.records[0].verified)
        let file = try DICOMFile(path: input)
        var frame = try file.decode(frame: 0)
        try Transcoder.verify(output, source: input, against: [frame], metadata: file.metadata, syntax: TransferSyntax.htj2kLossless)
        frame.bytes[10] ^= 1
        XCTAssertThrowsError(try Transcoder.verify(output, source: input, against: [frame], metadata: file.metadata,
                                                   syntax: TransferSyntax.htj2kLossless)) { error in
            XCTAssertTrue("\(error)".contains("verification failed: frame 0 of the output differs from the input (first at byte 10)"), "\(error)")
        }
        XCTAssertThrowsError(try Transcoder.verify(output, source: input, against: [try file.decode(frame: 0)], metadata: file.metadata,
                                                   syntax: TransferSyntax.explicitLittle)) { error in
            XCTAssertTrue("\(error)".contains("reads as transfer syntax 1.2.840.10008.1.2.4.201"), "\(error)")
        }
    }

    func testEncoderRefusesValuesOutsideBitsStored() throws {
        let pixels = StoredPixels(width: 2, height: 1, format: .uint16, bytes: TestDICOM.le16([100, 5000]))
        XCTAssertThrowsError(try HTJ2KEncoder.encode(pixels, bitsStored: 12, source: "test")) { error in
            XCTAssertTrue("\(error)".contains("sample 5000 at row 0, column 1 outside the 12-bit unsigned range"), "\(error)")
        }
        let signed = StoredPixels(width: 2, height: 1, format: .int16, bytes: TestDICOM.le16([-2048, 2047]))
        let stream = try HTJ2KEncoder.encode(signed, bitsStored: 12, source: "test")
        XCTAssertEqual(Array(stream.prefix(4)), [0xFF, 0x4F, 0xFF, 0x51])  // SOC, SIZ (ISO 15444-1 A.4.1, A.5.1)
        XCTAssertEqual(stream[42], 0x80 | 11)  // Ssiz: signed, 12 bits
    }
}
