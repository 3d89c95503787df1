import ArgumentParser
import Foundation
import VinDrLoader

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Write the built-in sample dataset (synthetic, PhysioNet layout).",
        discussion: """
            Writes OUT/train/<image_id>.dicom and OUT/test/<image_id>.dicom (12-bit chest-radiograph-like
            images with lesions, some MONOCHROME1) and OUT/annotations/{annotations,image_labels}_{train,test}.csv
            (three readers per training image, consensus on test), so every command can be tried
            without the real data.
            Examples:
              vindr sample sample/
              vindr sample sample/ --train 40 --test 10 --size 2048 --seed 7
            """)

    @Argument(help: "Output folder") var out: String
    @Option(help: "Training images") var train = 16
    @Option(help: "Test images") var test = 4
    @Option(help: "Image height in pixels (width is 7/8 of it)") var size = 2048
    @Option(help: "Random seed") var seed: UInt64 = 1

    func run() throws {
        let progress = Progress("sample", total: train + test)
        do {
            _ = try SampleDataset.write(to: out, train: train, test: test, size: size, seed: seed) { done, _ in progress.update(done) }
        } catch {
            FileHandle.standardError.write("vindr sample: \(out): \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        print("wrote \(train) training and \(test) test images with annotations to \(out)")
    }
}
