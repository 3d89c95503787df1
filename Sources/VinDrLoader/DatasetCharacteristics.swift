import VinDrAnnotations
import VinDrDICOM
import VinDrImaging

/// The paper's Table 2 ("Dataset characteristics") of a dataset: collection rows read from the
/// DICOM headers, label rows from the annotations (`AnnotationIndex.statistics`), training and
/// test splits side by side. `vindr stats`, `vdr_stats_table` and `vindr.table2` call `table`.
public enum DatasetCharacteristics {
    /// Table 2's collection rows for the DICOM files (.dicom, .dcm) under `root`: only headers
    /// are read (up to Pixel Data); a file whose header cannot be read is counted in `images`
    /// and the data size, listed in `unreadable`, and left out of the medians.
    public static func collection(root: String) throws -> CollectionStatistics {
        guard FileSystem.isDirectory(root) != nil else { throw VinDrError(.io, root, "no such file or folder") }
        var headers: [ImageHeaderFacts] = []
        var unreadable: [(path: String, reason: String)] = []
        var unreadableBytes: Int64 = 0
        for (path, _) in try FileSystem.dicomFiles([root]) {
            guard let size = FileSystem.sizeAndModified(path)?.size else { throw VinDrError(.io, path, "cannot read its size") }
            do {
                let h = try DICOMFile.headerSummary(path: path)
                headers.append(ImageHeaderFacts(bytes: size, rows: h.rows, columns: h.columns, sex: h.patientSex, age: h.patientAge))
            } catch {
                unreadable.append((path, String(describing: error)))
                unreadableBytes += size
            }
        }
        return CollectionStatistics(headers: headers, bytesOfUnreadable: unreadableBytes, unreadable: unreadable)
    }

    /// Table 2 with a training column (`train` annotations and/or its DICOM folder `trainImages`)
    /// and, when `test` or `testImages` is given, a test column beside it. Label rows count the
    /// images under the consensus rules (`ImageRecord.consensusLabels`: a consensus reading, or
    /// at least `minimumVotes` readers). The first column is titled "Test set" when its
    /// annotations are consensus readings only.
    public static func table(train: AnnotationIndex?, trainImages: String?, test: AnnotationIndex? = nil, testImages: String? = nil,
                             minimumVotes: Int = 2, iouThreshold: Double = 0.4) throws -> Table2 {
        guard minimumVotes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1, got \(minimumVotes)") }
        guard iouThreshold.isFinite else { throw VinDrError(.argument, "iou_thr must be finite") }
        guard train != nil || trainImages != nil || test != nil || testImages != nil else {
            throw VinDrError(.argument, "Table 2 needs annotations or a DICOM folder of at least one split")
        }
        func column(_ index: AnnotationIndex?, _ images: String?, _ title: String) throws -> Table2Column {
            let labels = index?.statistics(minimumVotes: minimumVotes, iouThreshold: iouThreshold)
            return Table2Column(title: title, collection: try images.map { try collection(root: $0) }, labels: labels)
        }
        var first = try column(train, trainImages, "Training set")
        if let s = first.labels, s.images > 0, s.consensusImages == s.images, test == nil, testImages == nil { first.title = "Test set" }
        var columns = [first]
        if test != nil || testImages != nil { columns.append(try column(test, testImages, "Test set")) }
        return Table2(columns: columns)
    }
}

/// The paper's Figure 4 ("Distribution of findings and pathologies"): a horizontal bar per label
/// in the paper's order (Table 2's numbering), its length proportional to the number of images
/// with the label (Table 2's label rows), local findings and global labels in two colours; one
/// panel per split with labels, each scaled to its own largest count. The SVG carries every
/// text; the PNG is the same drawing rasterised without text (names, counts and tick values are
/// in the SVG and in Table 2).
public struct LabelDistributionFigure: Sendable {
    public let panels: [(title: String, statistics: DatasetStatistics)]

    /// Layout in pixels (the SVG's user units and the PNG's pixels).
    static let labelWidth = 240, panelWidth = 400, panelGap = 110, top = 56, rowHeight = 20, barHeight = 14, bottom = 48
    static let localColour: (UInt8, UInt8, UInt8) = (31, 119, 180), globalColour: (UInt8, UInt8, UInt8) = (255, 127, 14)
    static let axisColour: (UInt8, UInt8, UInt8) = (90, 90, 90)

    /// The figure of the table's columns that have label rows; an error when none has.
    public init(table: Table2) throws {
        panels = table.columns.compactMap { c in c.labels.map { (c.title, $0) } }
        guard !panels.isEmpty else { throw VinDrError(.argument, "Figure 4 needs annotations (label counts) of at least one split") }
    }

    public var width: Int { Self.labelWidth + panels.count * (Self.panelWidth + Self.panelGap) }
    public var height: Int { Self.top + Taxonomy.paperOrder.count * Self.rowHeight + Self.bottom }

    /// Largest count of a panel (the length of its full-width bar), at least 1.
    func scale(_ s: DatasetStatistics) -> Int { max(1, s.labels.map(\.majority).max() ?? 0) }

    /// Left edge of panel `p`'s bars.
    func panelX(_ p: Int) -> Int { Self.labelWidth + p * (Self.panelWidth + Self.panelGap) }

    /// A bar's length in pixels: count / largest count x panel width.
    func barLength(_ count: Int, _ s: DatasetStatistics) -> Double {
        Double(count) / Double(scale(s)) * Double(Self.panelWidth)
    }

    /// Axis ticks: multiples of 1, 2 or 5 x 10^k, about four per panel, up to the largest count.
    func ticks(_ s: DatasetStatistics) -> [Int] {
        let maximum = scale(s)
        let wanted = Double(maximum) / 4
        var magnitude = 1
        while Double(magnitude * 10) <= wanted { magnitude *= 10 }
        let step = [1, 2, 5, 10].map { $0 * magnitude }.first { Double($0) >= wanted } ?? magnitude * 10
        return Array(stride(from: 0, through: maximum, by: step))
    }

    static func hex(_ c: (UInt8, UInt8, UInt8)) -> String {
        "#" + [c.0, c.1, c.2].map { v in let s = String(v, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// The figure as an SVG 1.1 document: one `rect class="bar"` per label and panel, with
    /// `data-label`, `data-split` and `data-count`.
    public var svg: String {
        let labels = Taxonomy.paperOrder
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<title>Figure 4. Distribution of findings and pathologies</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">Distribution of findings and pathologies (VinDr-CXR paper, Figure 4)</text>\n"
        for (n, label) in labels.enumerated() {
            let y = Self.top + n * Self.rowHeight
            out += "<text x=\"\(Self.labelWidth - 8)\" y=\"\(y + Self.barHeight - 2)\" text-anchor=\"end\">\(n + 1). \(Self.escaped(label.name))</text>\n"
        }
        let plotBottom = Self.top + labels.count * Self.rowHeight
        for (p, panel) in panels.enumerated() {
            let x0 = panelX(p), s = panel.statistics
            out += "<text x=\(q(x0 + Self.panelWidth / 2)) y=\(q(Self.top - 12)) text-anchor=\"middle\" font-weight=\"bold\">\(Self.escaped(panel.title)) (\(s.images) images)</text>\n"
            out += "<line x1=\(q(x0 - 1)) y1=\(q(Self.top - 4)) x2=\(q(x0 - 1)) y2=\(q(plotBottom)) stroke=\"\(Self.hex(Self.axisColour))\"/>\n"
            out += "<line x1=\(q(x0 - 1)) y1=\(q(plotBottom)) x2=\(q(x0 + Self.panelWidth)) y2=\(q(plotBottom)) stroke=\"\(Self.hex(Self.axisColour))\"/>\n"
            for t in ticks(s) {
                let tx = Double(x0) + barLength(t, s)
                out += "<line x1=\"\(decimalText(tx, places: 3))\" y1=\(q(plotBottom)) x2=\"\(decimalText(tx, places: 3))\" y2=\(q(plotBottom + 5)) stroke=\"\(Self.hex(Self.axisColour))\"/>\n"
                out += "<text x=\"\(decimalText(tx, places: 3))\" y=\(q(plotBottom + 18)) text-anchor=\"middle\" font-size=\"10\">\(t)</text>\n"
            }
            out += "<text x=\(q(x0 + Self.panelWidth / 2)) y=\(q(plotBottom + 36)) text-anchor=\"middle\">Number of images (\(Self.escaped(s.labelRule)))</text>\n"
            for (n, label) in labels.enumerated() {
                let count = s.labels[label.index].majority
                let y = Self.top + n * Self.rowHeight
                let length = barLength(count, s)
                let colour = Self.hex(label.kind == .local ? Self.localColour : Self.globalColour)
                out += "<rect class=\"bar\" data-label=\"\(Self.escaped(label.name))\" data-split=\"\(Self.escaped(panel.title))\" data-count=\"\(count)\" x=\(q(x0)) y=\(q(y)) width=\"\(decimalText(length, places: 3))\" height=\(q(Self.barHeight)) fill=\"\(colour)\"/>\n"
                out += "<text x=\"\(decimalText(Double(x0) + length + 4, places: 3))\" y=\(q(y + Self.barHeight - 2)) font-size=\"10\">\(s.labelText(label))</text>\n"
            }
        }
        let legendY = height - 10
        out += "<rect x=\"8\" y=\(q(legendY - 10)) width=\"12\" height=\"10\" fill=\"\(Self.hex(Self.localColour))\"/><text x=\"24\" y=\(q(legendY)) font-size=\"11\">local label (1-22)</text>\n"
        out += "<rect x=\"130\" y=\(q(legendY - 10)) width=\"12\" height=\"10\" fill=\"\(Self.hex(Self.globalColour))\"/><text x=\"146\" y=\(q(legendY)) font-size=\"11\">global label (23-28)</text>\n"
        out += "</svg>\n"
        return out
    }

    private func q(_ v: Int) -> String { "\"\(v)\"" }

    /// The drawing as RGB pixels (row-major, 3 bytes a pixel): white ground, the axes, ticks and
    /// bars (a bar covers columns x0 ..< x0 + its length rounded to whole pixels), no text.
    public var pixels: [UInt8] {
        var px = [UInt8](repeating: 255, count: width * height * 3)
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in max(0, y0)..<min(height, y1) {
                for x in max(0, x0)..<min(width, x1) {
                    let i = (y * width + x) * 3
                    px[i] = c.0
                    px[i + 1] = c.1
                    px[i + 2] = c.2
                }
            }
        }
        let labels = Taxonomy.paperOrder
        let plotBottom = Self.top + labels.count * Self.rowHeight
        for (p, panel) in panels.enumerated() {
            let x0 = panelX(p), s = panel.statistics
            fill(x0 - 1, Self.top - 4, x0, plotBottom + 1, Self.axisColour)
            fill(x0 - 1, plotBottom, x0 + Self.panelWidth, plotBottom + 1, Self.axisColour)
            for t in ticks(s) {
                let tx = x0 + Int(barLength(t, s).rounded())
                fill(tx, plotBottom, tx + 1, plotBottom + 5, Self.axisColour)
            }
            for (n, label) in labels.enumerated() {
                let length = Int(barLength(s.labels[label.index].majority, s).rounded())
                let y = Self.top + n * Self.rowHeight
                fill(x0, y, x0 + length, y + Self.barHeight, label.kind == .local ? Self.localColour : Self.globalColour)
            }
        }
        let legendY = height - 10
        fill(8, legendY - 10, 20, legendY, Self.localColour)
        fill(130, legendY - 10, 142, legendY, Self.globalColour)
        return px
    }

    /// The PNG file's bytes (8-bit RGB, `PNGWriter`).
    public func png() throws -> [UInt8] {
        try PNGWriter.encode(pixels, width: width, height: height, channels: 3)
    }

    /// Writes the figure to `path` (atomically): PNG for a name ending in .png, SVG for .svg.
    public func write(to path: String) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") {
            try FileSystem.writeAtomically(try png(), to: path)
        } else if lower.hasSuffix(".svg") {
            try FileSystem.writeAtomically(Array(svg.utf8), to: path)
        } else {
            throw VinDrError(.argument, path, "the figure's file name must end in .png or .svg")
        }
    }
}
