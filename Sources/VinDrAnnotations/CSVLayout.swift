/// The CSV layouts of the VinDr-CXR releases, recognised from the header row (column order and
/// letter case do not matter).
public enum CSVLayout: String, CaseIterable, Sendable {
    /// PhysioNet annotations/annotations_train.csv: `image_id,rad_id,class_name,x_min,y_min,x_max,y_max`.
    case annotations
    /// PhysioNet annotations/annotations_test.csv: the same without `rad_id` (radiologist consensus);
    /// also `vindr fuse` output, whose extra `score` column gives each box its score.
    case consensusAnnotations
    /// PhysioNet annotations/image_labels_train.csv: `image_id,rad_id` and one 0/1 column per label.
    case imageLabels
    /// PhysioNet annotations/image_labels_test.csv: the same without `rad_id`.
    case consensusImageLabels
    /// Kaggle VinBigData train.csv: `image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max`.
    case kaggleTrain
    /// Kaggle submission: `image_id,PredictionString`.
    case kaggleSubmission
}

/// Where each needed column sits in a file of a given layout.
struct ColumnMap {
    var layout: CSVLayout
    var names: [String]
    var imageID = -1
    var readerID: Int?
    var className: Int?
    var classID: Int?
    var box: [Int] = []  // x_min, y_min, x_max, y_max
    /// A `score` column (a consensus file written by `vindr fuse`).
    var score: Int?
    var boxColumns: (Int, Int, Int, Int) { box.count == 4 ? (box[0], box[1], box[2], box[3]) : (-1, -1, -1, -1) }
    var labelColumns: [(column: Int, label: Int)] = []
    var prediction = -1

    /// A copy sharing no storage with `self` (threads parsing the same file each take one, so
    /// that reading it costs no shared reference counting).
    var unshared: ColumnMap {
        var copy = self
        copy.names = names.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        copy.box = box.map { $0 }
        copy.labelColumns = labelColumns.map { $0 }
        return copy
    }

    init(layout: CSVLayout, names: [String], imageID: Int) {
        self.layout = layout
        self.names = names
        self.imageID = imageID
    }

    static func detect(header: [String], file: String) throws -> ColumnMap {
        let names = header.map { $0.trimmingSpaces }
        let lower = names.map { $0.lowercased() }
        func column(_ name: String) -> Int? { lower.firstIndex(of: name) }
        guard let imageID = column("image_id") else {
            throw VinDrError(file: file, line: 1, reason: "header has no image_id column: \(names.joined(separator: ","))")
        }
        var map = ColumnMap(layout: .annotations, names: names, imageID: imageID)
        map.readerID = column("rad_id")
        if let p = column("predictionstring") {
            map.layout = .kaggleSubmission
            map.prediction = p
            return map
        }
        if let c = column("class_name") {
            map.className = c
            map.classID = column("class_id")
            map.score = column("score")
            for name in ["x_min", "y_min", "x_max", "y_max"] {
                guard let k = column(name) else { throw VinDrError(file: file, line: 1, reason: "header has class_name but no \(name) column") }
                map.box.append(k)
            }
            if map.classID != nil {
                guard map.readerID != nil else { throw VinDrError(file: file, line: 1, reason: "Kaggle train layout without rad_id") }
                map.layout = .kaggleTrain
            } else {
                map.layout = map.readerID == nil ? .consensusAnnotations : .annotations
            }
            return map
        }
        for (k, name) in names.enumerated() where k != imageID && k != map.readerID {
            guard let label = Taxonomy.label(named: name) else {
                throw VinDrError(file: file, line: 1, column: name, reason: "not a VinDr-CXR label and not a known column")
            }
            map.labelColumns.append((k, label.index))
        }
        guard map.labelColumns.count >= 2 else {
            throw VinDrError(file: file, line: 1, reason: "unrecognised header: \(names.joined(separator: ","))")
        }
        map.layout = map.readerID == nil ? .consensusImageLabels : .imageLabels
        return map
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
