/// Whether a label is a local finding (marked with boxes) or a global, image-level diagnosis.
public enum LabelKind: String, Sendable {
    case local, global
}

/// One of the 28 VinDr-CXR labels.
public struct Label: Hashable, Sendable, CustomStringConvertible {
    /// Position in `Taxonomy.labels` (the column order of image_labels_train.csv).
    public let index: Int
    /// The dataset's exact spelling (image_labels_train.csv header, annotations_train.csv).
    public let name: String
    public let kind: LabelKind
    /// The Kaggle VinBigData class id (0...14) for the 14 competition findings and "No finding".
    public let kaggleClassID: Int?

    public var description: String { name }
}

/// The VinDr-CXR label set (Nguyen et al., Scientific Data 2022, Table 2): 22 local findings and
/// 6 global labels, in the column order of image_labels_train.csv, with the Kaggle competition's
/// class ids. Lookup accepts the spellings seen in the released files: "Other disease" (the
/// image_labels_test.csv column) for "Other diseases", and any letter case ("Lung opacity").
public enum Taxonomy {
    public static let labels: [Label] = {
        let table: [(String, LabelKind, Int?)] = [
            ("Aortic enlargement", .local, 0), ("Atelectasis", .local, 1), ("Calcification", .local, 2),
            ("Cardiomegaly", .local, 3), ("Clavicle fracture", .local, nil), ("Consolidation", .local, 4),
            ("Edema", .local, nil), ("Emphysema", .local, nil), ("Enlarged PA", .local, nil), ("ILD", .local, 5),
            ("Infiltration", .local, 6), ("Lung Opacity", .local, 7), ("Lung cavity", .local, nil),
            ("Lung cyst", .local, nil), ("Mediastinal shift", .local, nil), ("Nodule/Mass", .local, 8),
            ("Pleural effusion", .local, 10), ("Pleural thickening", .local, 11), ("Pneumothorax", .local, 12),
            ("Pulmonary fibrosis", .local, 13), ("Rib fracture", .local, nil), ("Other lesion", .local, 9),
            ("COPD", .global, nil), ("Lung tumor", .global, nil), ("Pneumonia", .global, nil),
            ("Tuberculosis", .global, nil), ("Other diseases", .global, nil), ("No finding", .global, 14),
        ]
        return table.enumerated().map { Label(index: $0.offset, name: $0.element.0, kind: $0.element.1, kaggleClassID: $0.element.2) }
    }()

    /// Number of labels (28).
    public static var count: Int { labels.count }

    /// "No finding": Kaggle class 14, scored with the box 0 0 1 1.
    public static let noFinding: Label = labels[27]

    /// The 15 Kaggle classes, indexed by class id.
    public static let kaggleClasses: [Label] = labels.filter { $0.kaggleClassID != nil }
        .sorted { ($0.kaggleClassID ?? 0) < ($1.kaggleClassID ?? 0) }

    private static let byName: [String: Label] = Dictionary(uniqueKeysWithValues: labels.map { ($0.name, $0) })

    private static let byKey: [String: Label] = {
        var map = [String: Label]()
        for l in labels { map[key(l.name)] = l }
        map[key("Other disease")] = labels[26]
        return map
    }()

    private static func key(_ name: some StringProtocol) -> String {
        String(name.lowercased().filter { !$0.isWhitespace })
    }

    /// The label spelled `name` (exact, alias, or differing in case or spaces), or nil.
    public static func label(named name: some StringProtocol) -> Label? {
        if let l = byName[String(name)] { return l }
        return byKey[key(name)]
    }

    /// The label of a Kaggle class id, or nil outside 0...14.
    public static func label(kaggleClassID id: Int) -> Label? {
        kaggleClasses.indices.contains(id) ? kaggleClasses[id] : nil
    }
}
