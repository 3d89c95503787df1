import ArgumentParser
import Foundation
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM
import VinDrImaging

struct DrawCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "draw", abstract: "Draw the readers' boxes (or fused boxes) over images, like the VinDr-CXR paper's Figure 3.",
        discussion: """
            Each image is rendered with its own window; boxes get one colour per finding and a tag
            with the finding and the reader (or the share of readers behind a fused box); the
            image-level labels (majority of readers) are written under the image. Image ids are the
            files' names without extension. --sheet N also writes sheet.png, N images per row.
            Examples:
              vindr draw sample/train --annotations sample/annotations/annotations_train.csv --out drawn/
              vindr draw sample/train --annotations sample/annotations/annotations_train.csv \\
                  --annotations sample/annotations/image_labels_train.csv --boxes fused --sheet 4 --out drawn/
            """)

    @Argument(help: "DICOM files or folders") var inputs: [String]
    @Option(help: "Annotation or image-label CSV (repeatable)") var annotations: [String]
    @Option(help: "readers (every reader's boxes), fused (weighted boxes fusion), or a reader id such as R8") var boxes = "readers"
    @Option(help: "IoU threshold of the fusion") var iou = 0.4
    @Option(help: "Longest side in pixels") var size = 1024
    @Option(help: "Output folder") var out: String
    @Option(help: "Also write sheet.png with this many images per row") var sheet: Int?

    func validate() throws {
        guard (128...8192).contains(size) else { throw ValidationError("--size must be in 128...8192") }
        guard iou > 0, iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        if let sheet { guard sheet >= 1 else { throw ValidationError("--sheet must be at least 1") } }
    }

    func run() throws {
        let index: AnnotationIndex
        let files: [(String, String)]
        do {
            index = try AnnotationIndex(paths: annotations)
            files = try DICOMTree.files(inputs)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            FileHandle.standardError.write("vindr draw: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        var drawn: [Canvas] = []
        var failed = false
        let progress = Progress("draw", total: files.count)
        for (n, (path, relative)) in files.enumerated() {
            let id = ((relative as NSString).lastPathComponent as NSString).deletingPathExtension
            do {
                let canvas = try draw(path: path, record: index.image(id))
                try PNGWriter.write(canvas.pixels, width: canvas.width, height: canvas.height, channels: 3,
                                    to: URL(fileURLWithPath: out).appendingPathComponent("\(id).png").path)
                drawn.append(canvas)
            } catch {
                FileHandle.standardError.write("vindr draw: \(path): \(error)\n".data(using: .utf8)!)
                failed = true
            }
            progress.update(n + 1)
        }
        if let sheet, !drawn.isEmpty {
            let cellW = drawn.map(\.width).max() ?? 0, cellH = drawn.map(\.height).max() ?? 0
            let rows = (drawn.count + sheet - 1) / sheet
            var page = Canvas(width: cellW * min(sheet, drawn.count), height: cellH * rows, fill: 24)
            for (i, c) in drawn.enumerated() { page.pasteRGB(c, x: (i % sheet) * cellW, y: (i / sheet) * cellH) }
            try PNGWriter.write(page.pixels, width: page.width, height: page.height, channels: 3,
                                to: URL(fileURLWithPath: out).appendingPathComponent("sheet.png").path)
        }
        print("drew \(drawn.count) of \(files.count) image(s) into \(out)")
        if failed { throw ExitCode(1) }
    }

    /// One image with its boxes and, underneath, its image-level labels.
    func draw(path: String, record: ImageRecord?) throws -> Canvas {
        let file = try DICOMFile(path: path)
        let (grey, g) = try Renderer.render(file, options: RenderOptions(size: .longestSide(size)))
        let scale = max(2, size / 400)
        let lineHeight = 8 * scale
        var tags: [(Box, Int, String)] = []
        var footer: [String] = []
        if let record {
            switch boxes {
            case "readers":
                for r in record.readings { for b in r.boxes { tags.append((b.box, b.label, r.reader ?? "consensus")) } }
            case "fused":
                let d = try record.consensusBoxes(.fused(iouThreshold: iou, confidenceType: .avg))
                for i in 0..<d.count { tags.append((d.boxes[i], d.labels[i], String(format: "%.0f%%", 100 * d.scores[i]))) }
            default:
                guard let r = record.readings.first(where: { $0.reader == boxes }) else {
                    throw ValidationError("image \(record.id) has no reading by \(boxes)")
                }
                for b in r.boxes { tags.append((b.box, b.label, boxes)) }
            }
            let labels = record.consensusLabels().map { Taxonomy.labels[$0].name }
            footer.append("LABELS: " + (labels.isEmpty ? "-" : labels.joined(separator: ", ")))
            footer.append("READERS: " + record.readings.map { $0.reader ?? "consensus" }.joined(separator: " "))
        } else {
            footer.append("NOT IN THE ANNOTATIONS")
        }
        var canvas = Canvas(width: g.outputWidth, height: g.outputHeight + lineHeight * footer.count + scale)
        canvas.paste(grey: grey, width: g.outputWidth, height: g.outputHeight, x: 0, y: 0)
        for (box, label, who) in tags {
            let c = Self.colour(label)
            let x0 = Int((box.x1 * g.scaleX + g.offsetX).rounded()), y0 = Int((box.y1 * g.scaleY + g.offsetY).rounded())
            let x1 = Int((box.x2 * g.scaleX + g.offsetX).rounded()), y1 = Int((box.y2 * g.scaleY + g.offsetY).rounded())
            canvas.rectangle(x0, y0, x1, y1, c, thickness: max(1, scale / 2))
            canvas.text("\(Taxonomy.labels[label].name) \(who)", x: x0, y: max(0, y0 - 7 * scale), scale: scale, c)
        }
        for (i, line) in footer.enumerated() {
            canvas.text(line, x: 0, y: g.outputHeight + scale + i * lineHeight, scale: scale, (255, 255, 255))
        }
        return canvas
    }

    /// A distinct colour per label (hues spread around the wheel, saturated and bright).
    static func colour(_ label: Int) -> (UInt8, UInt8, UInt8) {
        let h = Double((label * 7) % Taxonomy.count) / Double(Taxonomy.count) * 6
        let x = 1 - abs(h.truncatingRemainder(dividingBy: 2) - 1)
        let (r, g, b): (Double, Double, Double)
        switch Int(h) {
        case 0: (r, g, b) = (1, x, 0)
        case 1: (r, g, b) = (x, 1, 0)
        case 2: (r, g, b) = (0, 1, x)
        case 3: (r, g, b) = (0, x, 1)
        case 4: (r, g, b) = (x, 0, 1)
        default: (r, g, b) = (1, 0, x)
        }
        return (UInt8(55 + 200 * r), UInt8(55 + 200 * g), UInt8(55 + 200 * b))
    }
}
