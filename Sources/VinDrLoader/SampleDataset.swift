#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrAnnotations
import VinDrDICOM

/// The built-in sample: a small synthetic VinDr-CXR in the PhysioNet 1.0.0 layout, for trying
/// the SDK without the real data (which needs a data-use agreement): chest-radiograph-like 12-bit
/// DICOMs with lesions at known places, three of the 17 readers per training image who box them
/// with some jitter and miss some, and consensus annotations for the test images. It obeys the
/// labeling rules `vindr qc` checks (paper, "Data labeling"). `vindr sample`,
/// `vindr.write_sample` and `vdr_sample_write` call `write`.
public struct SampleDataset {
    let root: String
    let trainCount: Int
    let testCount: Int
    let size: Int
    var rng: SplitMix64

    /// Writes `train` training and `test` test images of `size` rows (width 7/8 of it) and their
    /// CSVs under `root` (train/, test/, annotations/), each file atomically; the same `seed`
    /// gives the same bytes. `progress(done, total)` follows each image. Returns the image ids.
    public static func write(to root: String, train: Int = 16, test: Int = 4, size: Int = 2048, seed: UInt64 = 1,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> (train: [String], test: [String]) {
        guard train >= 1, test >= 0, train <= 100_000, test <= 100_000 - train else {  // no overflowing sum
            throw VinDrError(.argument, "sample: train \(train) must be >= 1, test \(test) >= 0, and together at most 100000")
        }
        guard (64...4096).contains(size) else { throw VinDrError(.argument, "sample: size \(size) not in 64...4096") }
        var d = SampleDataset(root: root, trainCount: train, testCount: test, size: size, rng: SplitMix64(seed: seed))
        return try d.write(progress: progress)
    }

    /// Findings drawn on the images, with where they sit (fractions of width/height) and how
    /// big they are.
    static let findings: [(name: String, cx: ClosedRange<Double>, cy: ClosedRange<Double>, w: ClosedRange<Double>, h: ClosedRange<Double>)] = [
        ("Nodule/Mass", 0.25...0.75, 0.25...0.65, 0.04...0.08, 0.04...0.08),
        ("Cardiomegaly", 0.48...0.56, 0.60...0.66, 0.34...0.42, 0.22...0.28),
        ("Aortic enlargement", 0.54...0.58, 0.30...0.34, 0.08...0.11, 0.08...0.11),
        ("Pleural effusion", 0.22...0.78, 0.72...0.78, 0.16...0.24, 0.10...0.14),
        ("Consolidation", 0.28...0.72, 0.35...0.65, 0.12...0.20, 0.12...0.20),
        ("Pleural thickening", 0.20...0.80, 0.18...0.24, 0.10...0.16, 0.04...0.07),
    ]

    struct Lesion {
        let label: Label
        let box: (Double, Double, Double, Double)
    }

    mutating func uniform(_ r: ClosedRange<Double>) -> Double {
        r.lowerBound + (r.upperBound - r.lowerBound) * Double(rng.next() >> 11) / Double(1 << 53)
    }

    mutating func chance(_ p: Double) -> Bool { uniform(0...1) < p }

    mutating func hexID() -> String {
        (0..<2).map { _ in padded(String(rng.next(), radix: 16), 16) }.joined()
    }

    mutating func write(progress: (Int, Int) -> Void) throws -> ([String], [String]) {
        for dir in ["train", "test", "annotations"] {
            try FileSystem.createDirectories(FileSystem.joined(root, dir))
        }
        let labelColumns = Taxonomy.labels.map(\.name)
        var annotationsTrain = ["image_id,rad_id,class_name,x_min,y_min,x_max,y_max"]
        var labelsTrain = ["image_id,rad_id," + labelColumns.joined(separator: ",")]
        var annotationsTest = ["image_id,class_name,x_min,y_min,x_max,y_max"]
        var labelsTest = ["image_id," + labelColumns.map { $0 == "Other diseases" ? "Other disease" : $0 }.joined(separator: ",")]
        var train: [String] = [], test: [String] = []
        let total = trainCount + testCount
        for n in 0..<total {
            let isTest = n >= trainCount
            let id = hexID()
            let (rows, cols) = (size, size * 7 / 8)
            var lesions: [Lesion] = []
            if !chance(0.3) {
                for _ in 0..<Int(uniform(1...3.99)) {
                    let f = Self.findings[Int(uniform(0...Double(Self.findings.count) - 0.001))]
                    let w = uniform(f.w) * Double(cols), h = uniform(f.h) * Double(rows)
                    let cx = uniform(f.cx) * Double(cols), cy = uniform(f.cy) * Double(rows)
                    guard let label = Taxonomy.label(named: f.name), !lesions.contains(where: { $0.label == label }) else { continue }
                    lesions.append(Lesion(label: label, box: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
                }
            }
            let monochrome1 = chance(0.25)
            let pixels = image(rows: rows, cols: cols, lesions: lesions, invert: monochrome1)
            let uid = "2.25.\(rng.next() >> 1)\(rng.next() >> 40)"
            let bytes = DICOMWriter.monochromeImage(
                rows: rows, columns: cols, bitsStored: 12, photometric: monochrome1 ? "MONOCHROME1" : "MONOCHROME2",
                pixels: pixels, sopInstanceUID: uid,
                extra: [.text(0x0008, 0x0060, "CS", "DX"), .text(0x0010, 0x0040, "CS", chance(0.5) ? "F" : "M"),
                        .text(0x0010, 0x1010, "AS", padded(String(Int(uniform(20...85))), 3) + "Y"),
                        .text(0x0018, 0x0015, "CS", "CHEST"), .text(0x0018, 0x5101, "CS", "PA"),
                        .text(0x0028, 0x0030, "DS", "0.168\\0.168"), .text(0x0028, 0x1050, "DS", "2048"),
                        .text(0x0028, 0x1051, "DS", "3600")])
            try FileSystem.writeAtomically(bytes, to: FileSystem.joined(FileSystem.joined(root, isTest ? "test" : "train"), "\(id).dicom"))
            let globals = globalLabels(for: lesions)
            if isTest {
                test.append(id)
                if lesions.isEmpty { annotationsTest.append("\(id),No finding,,,,") }
                for l in lesions { annotationsTest.append("\(id),\(l.label.name)," + coordinates(l.box)) }
                labelsTest.append(id + "," + row(lesions.map(\.label.index) + globals))
            } else {
                train.append(id)
                var readers: [Int] = []
                while readers.count < 3 {
                    let r = Int(uniform(1...17.999))
                    if !readers.contains(r) { readers.append(r) }
                }
                for r in readers {
                    // Each reader finds most lesions and boxes them with some disagreement.
                    let seen = lesions.filter { _ in chance(0.85) }
                    if seen.isEmpty { annotationsTrain.append("\(id),R\(r),No finding,,,,") }
                    for l in seen {
                        let (x0, y0, x1, y1) = l.box
                        let jx = 0.05 * (x1 - x0), jy = 0.05 * (y1 - y0)
                        let b = (max(0, x0 + uniform(-jx...jx)), max(0, y0 + uniform(-jy...jy)),
                                 min(Double(cols - 1), x1 + uniform(-jx...jx)), min(Double(rows - 1), y1 + uniform(-jy...jy)))
                        annotationsTrain.append("\(id),R\(r),\(l.label.name)," + coordinates(b))
                    }
                    let marked = seen.map(\.label.index) + globalLabels(for: seen)
                    labelsTrain.append("\(id),R\(r)," + row(marked))
                }
            }
            progress(n + 1, total)
        }
        let ann = FileSystem.joined(root, "annotations")
        for (name, lines) in [("annotations_train.csv", annotationsTrain), ("image_labels_train.csv", labelsTrain),
                              ("annotations_test.csv", annotationsTest), ("image_labels_test.csv", labelsTest)] {
            try FileSystem.writeAtomically(Array((lines.joined(separator: "\n") + "\n").utf8), to: FileSystem.joined(ann, name))
        }
        return (train, test)
    }

    /// The global labels that go with the findings, at least one as the labeling platform required
    /// (`vindr qc` rule no_global_label): "No finding" alone without findings; otherwise a
    /// consolidation reads as pneumonia, a nodule as a lung tumor, and any other finding as
    /// "Other diseases" (the paper's label for diseases not in the list).
    func globalLabels(for lesions: [Lesion]) -> [Int] {
        if lesions.isEmpty { return [Taxonomy.noFinding.index] }
        if lesions.contains(where: { $0.label.name == "Consolidation" }), let p = Taxonomy.label(named: "Pneumonia") { return [p.index] }
        if lesions.contains(where: { $0.label.name == "Nodule/Mass" }), let t = Taxonomy.label(named: "Lung tumor") { return [t.index] }
        return Taxonomy.label(named: "Other diseases").map { [$0.index] } ?? []
    }

    func row(_ marked: [Int]) -> String {
        (0..<Taxonomy.count).map { marked.contains($0) ? "1" : "0" }.joined(separator: ",")
    }

    func coordinates(_ b: (Double, Double, Double, Double)) -> String {
        [b.0, b.1, b.2, b.3].map(oneDecimal).joined(separator: ",")
    }

    func padded(_ s: String, _ width: Int) -> String {
        String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `v` with one decimal, rounded as printf's %.1f rounds (the CSVs' coordinate format).
    func oneDecimal(_ v: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buf in
            _ = withVaList([v]) { vsnprintf(buf.baseAddress!, 64, "%.1f", $0) }
            return String(cString: buf.baseAddress!)
        }
    }

    /// A radiograph-like 12-bit image: bright body and mediastinum, dark lungs, ribs, noise, and
    /// each lesion as a bright blob filling its box.
    mutating func image(rows: Int, cols: Int, lesions: [Lesion], invert: Bool) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: rows * cols)
        let noiseSeed = rng.next()
        for y in 0..<rows {
            let yn = Double(y) / Double(rows)
            for x in 0..<cols {
                let xn = Double(x) / Double(cols)
                let body = exp(-(pow((xn - 0.5) / 0.42, 6) + pow((yn - 0.55) / 0.5, 6)))
                let lungs = exp(-(pow((xn - 0.32) / 0.15, 2) + pow((yn - 0.45) / 0.28, 2)))
                    + exp(-(pow((xn - 0.68) / 0.15, 2) + pow((yn - 0.45) / 0.28, 2)))
                let ribs = lungs > 0.3 ? 0.06 * sin(yn * 60 + 4 * abs(xn - 0.5)) : 0
                var v = 0.15 + 0.7 * body - 0.45 * lungs + ribs
                for l in lesions {
                    let (x0, y0, x1, y1) = l.box
                    let dx = (Double(x) - (x0 + x1) / 2) / ((x1 - x0) / 2), dy = (Double(y) - (y0 + y1) / 2) / ((y1 - y0) / 2)
                    let r2 = dx * dx + dy * dy
                    if r2 < 1.5 { v += 0.35 * exp(-2 * r2) }
                }
                var h = noiseSeed ^ UInt64(truncatingIfNeeded: y &* 73_856_093 ^ x &* 19_349_663)
                h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
                v += 0.02 * (Double(h >> 11) / Double(1 << 53) - 0.5)
                let s = min(max(v, 0), 1) * 4095
                out[y * cols + x] = UInt16(invert ? 4095 - s : s)
            }
        }
        return out
    }
}
