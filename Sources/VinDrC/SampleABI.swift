import VinDrCore
import VinDrLoader

// The built-in sample dataset (SampleDataset in VinDrLoader): a synthetic VinDr-CXR in the
// PhysioNet layout for trying every call without the real data.

/// Writes `train` (>= 1) training and `test` (>= 0) test images, `size` rows each (64...4096;
/// width 7/8 of it), with their annotation and image-label CSVs under `root` (train/, test/,
/// annotations/), each file atomically. The same `seed` (>= 0) writes the same bytes.
@c public func vdr_sample_write(_ root: UnsafePointer<CChar>?, _ train: UInt, _ test: UInt, _ size: Int32, _ seed: Int64) -> Int32 {
    abiCall {
        let root = try requireString(root, "root")
        guard seed >= 0 else { throw VinDrError(.argument, "seed \(seed) is negative") }
        _ = try SampleDataset.write(to: root, train: try count(train, "train"), test: try count(test, "test"), size: Int(size),
                                    seed: UInt64(seed))
    }
}
