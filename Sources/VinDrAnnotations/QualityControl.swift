import VinDrBoxes

/// The labeling rules the VinDr Lab platform enforced (the paper, Data labeling: it prevented
/// "forgetting to choose global labels" and "marking lesions while choosing No finding"), and the
/// dataset's shape (3 readers per training image, one consensus reading per test image), checked
/// on the released files. The raw values are the stable rule ids of `vindr qc` and its JSON.
public enum QCRule: String, CaseIterable, Sendable {
    /// A reader chose "No finding" and also marked a finding or another label on the image.
    case lesionWithNoFinding = "lesion_with_no_finding"
    /// A reader's image_labels row ticks no label at all.
    case noImageLabel = "no_image_label"
    /// The box was given with x_max < x_min or y_max < y_min (the corners were swapped).
    case reversedCorners = "reversed_corners"
    /// The box has zero width or height.
    case degenerateBox = "degenerate_box"
    /// The box reaches outside the image (negative, or beyond its size when known).
    case outOfImage = "out_of_image"
    /// The same reader gave the same label (and box) twice on the image.
    case duplicateRow = "duplicate_row"
    /// A local finding without box coordinates.
    case missingBox = "missing_box"
    /// A global label or "No finding" row carrying box coordinates (ignored).
    case boxOnGlobalLabel = "box_on_global_label"
    /// A reading with a local finding (a box, or a local label ticked) but none of the 6 global
    /// labels (Lung tumor, Pneumonia, Tuberculosis, Other diseases, COPD, No finding: labels 23-28
    /// of the paper). Checked only where global labels can be known: readings of radiologists
    /// when an image_labels file with rad_id is loaded, consensus readings when a consensus
    /// image_labels file is loaded (annotation files carry no global label but "No finding").
    case noGlobalLabel = "no_global_label"
    /// A training image (readings with rad_id, no consensus reading) without exactly 3 readers.
    case trainReaderCount = "train_reader_count"
    /// A test image (one consensus reading, files without rad_id) that also has readings of
    /// individual radiologists: the test set has exactly one consensus reading per image.
    case testReadingCount = "test_reading_count"

    /// Whether the rule is about the image's readings as a whole (its issues name no reader).
    public var isImageLevel: Bool { self == .trainReaderCount || self == .testReadingCount }
}

/// One QC finding, with every row involved.
public struct QCIssue: Sendable {
    public var rule: QCRule
    public var imageID: String
    public var reader: String?
    public var locations: [RowLocation]
    public var message: String
}

private struct DuplicateKey: Hashable {
    var label: Int
    var box: [UInt64]
}

extension AnnotationIndex {
    /// The QC report as JSON, the layout of `vindr qc --json` and `vdr_annotations_qc_json`:
    /// {"counts": {rule: n, ...}, "issues": [{"rule", "image_id", "rad_id" (null for consensus or
    /// an image-level rule), "rows" (file:line of each row involved), "message"}, ...],
    /// "reader_count": n, "reader_ids": [rad_id, ...]}.
    public func qualityReportJSON(_ issues: [QCIssue]? = nil) -> String {
        let issues = issues ?? qualityIssues()
        let items: [JSONValue] = issues.map { i in
            .object([("rule", .string(i.rule.rawValue)), ("image_id", .string(i.imageID)),
                     ("rad_id", i.reader.map(JSONValue.string) ?? .null),
                     ("rows", .array(i.locations.map { .string(describe($0)) })), ("message", .string(i.message))])
        }
        let counts = QCRule.allCases.map { rule in (rule.rawValue, JSONValue.integer(issues.filter { $0.rule == rule }.count)) }
        let readers = sortedReaderIDs
        return JSONValue.object([("counts", .object(counts)), ("issues", .array(items)),
                                 ("reader_count", .integer(readers.count)), ("reader_ids", .array(readers.map(JSONValue.string)))]).text
    }

    /// Every QC issue, by image in index order: each reading's issues, then the image's.
    public func qualityIssues() -> [QCIssue] {
        var issues = [QCIssue]()
        let readerLabels = layouts.contains(.imageLabels)
        let consensusLabels = layouts.contains(.consensusImageLabels)
        let noFinding = Taxonomy.noFinding.index
        let isLocal = Taxonomy.labels.map { $0.kind == .local }
        for image in images {
            for r in image.readings {
                func issue(_ rule: QCRule, _ locations: [RowLocation], _ message: String) {
                    issues.append(QCIssue(rule: rule, imageID: image.id, reader: r.reader, locations: locations, message: message))
                }
                if r.labels.contains(noFinding), r.labels.count > 1 {
                    let nf = r.labelRows.filter { $0.label == noFinding }.map(\.location)
                    let others = r.boxes.map(\.location) + r.labelRows.filter { $0.label != noFinding }.map(\.location)
                    let names = r.labels.filter { $0 != noFinding }.map { Taxonomy.labels[$0].name }
                    issue(.lesionWithNoFinding, nf + others + (nf.isEmpty ? Array(r.imageLabelRows) : []),
                          "\"No finding\" together with \(names.joined(separator: ", "))")
                }
                for row in r.imageLabelRows where r.labels.isEmpty {
                    issue(.noImageLabel, [row], "no label ticked")
                }
                let local = r.labels.filter { isLocal[$0] }
                if !local.isEmpty, !r.labels.contains(where: { !isLocal[$0] }), r.reader == nil ? consensusLabels : readerLabels {
                    let names = local.map { Taxonomy.labels[$0].name }
                    issue(.noGlobalLabel, r.boxes.map(\.location) + r.labelRows.map(\.location) + Array(r.imageLabelRows),
                          "\(names.joined(separator: ", ")) but no global label")
                }
                var seen = [DuplicateKey: RowLocation]()
                for b in r.boxes {
                    let name = Taxonomy.labels[b.label].name
                    if b.hadReversedCorners { issue(.reversedCorners, [b.location], "\(name) box had reversed corners") }
                    if b.box.width == 0 || b.box.height == 0 { issue(.degenerateBox, [b.location], "\(name) box \(b.box) has zero area") }
                    let outside = b.box.x1 < 0 || b.box.y1 < 0
                        || image.width.map { b.box.x2 > Double($0) } == true
                        || image.height.map { b.box.y2 > Double($0) } == true
                    if outside {
                        let size = image.width.map { w in " (image \(w) x \(image.height ?? 0))" } ?? ""
                        issue(.outOfImage, [b.location], "\(name) box \(b.box) outside the image\(size)")
                    }
                    let key = DuplicateKey(label: b.label, box: [b.box.x1, b.box.y1, b.box.x2, b.box.y2].map(\.bitPattern))
                    if let first = seen[key] { issue(.duplicateRow, [first, b.location], "\(name) box \(b.box) given twice") }
                    else { seen[key] = b.location }
                }
                var seenLabels = [Int: RowLocation]()
                for row in r.labelRows {
                    let name = Taxonomy.labels[row.label].name
                    if row.missingBox { issue(.missingBox, [row.location], "\(name) without a box") }
                    if row.ignoredBox { issue(.boxOnGlobalLabel, [row.location], "\(name) row has box coordinates (ignored)") }
                    if let first = seenLabels[row.label] { issue(.duplicateRow, [first, row.location], "\(name) given twice") }
                    else { seenLabels[row.label] = row.location }
                }
            }
            let readers = image.readings.compactMap(\.reader)
            let firstRows = image.readings.compactMap(Self.firstRow)
            if !image.readings.isEmpty, readers.count == image.readings.count, readers.count != 3 {
                issues.append(QCIssue(rule: .trainReaderCount, imageID: image.id, reader: nil, locations: firstRows,
                                      message: "\(readers.count) reader\(readers.count == 1 ? "" : "s") (\(readers.joined(separator: ", "))); a training image has 3"))
            } else if readers.count < image.readings.count, !readers.isEmpty {
                issues.append(QCIssue(rule: .testReadingCount, imageID: image.id, reader: nil, locations: firstRows,
                                      message: "a consensus reading and \(readers.count) reader reading\(readers.count == 1 ? "" : "s") (\(readers.joined(separator: ", "))); a test image has one consensus reading"))
            }
        }
        return issues
    }

    /// The reading's first row (lowest file, then line).
    private static func firstRow(_ r: Reading) -> RowLocation? {
        (r.boxes.map(\.location) + r.labelRows.map(\.location) + Array(r.imageLabelRows))
            .min { ($0.source, $0.line) < ($1.source, $1.line) }
    }
}
