#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Taxonomy {
    /// The labels in the paper's numbering, (1) Aortic enlargement to (28) No finding: the order
    /// of Table 2's rows and of Methods, "Data labeling" (local labels 1-22, global 23-28).
    public static let paperOrder: [Label] = [
        "Aortic enlargement", "Atelectasis", "Cardiomegaly", "Calcification", "Clavicle fracture", "Consolidation",
        "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung cavity", "Lung cyst", "Lung Opacity",
        "Mediastinal shift", "Nodule/Mass", "Pulmonary fibrosis", "Pneumothorax", "Pleural thickening",
        "Pleural effusion", "Rib fracture", "Other lesion", "Lung tumor", "Pneumonia", "Tuberculosis",
        "Other diseases", "COPD", "No finding",
    ].compactMap { label(named: $0) }
}

/// `v` with `places` decimals, rounded as printf's %.*f rounds ("37.50").
public func decimalText(_ v: Double, places: Int) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 400) { buf in
        _ = withVaList([Int32(max(0, min(places, 20))), v]) { vsnprintf(buf.baseAddress!, 400, "%.*f", $0) }
        return String(cString: buf.baseAddress!)
    }
}

/// `v` with three significant digits and no exponent, the precision of Table 2's data sizes
/// ("161", "31.3"; "0.0734").
public func significantText(_ v: Double, digits: Int = 3) -> String {
    guard v.isFinite, v != 0 else { return "0" }
    let magnitude = Int((log10(abs(v))).rounded(.down))
    return decimalText(v, places: max(0, digits - 1 - magnitude))
}

/// What the collection rows need from one DICOM file's header (filled in by `VinDrLoader`,
/// which reads the headers).
public struct ImageHeaderFacts: Sendable {
    public var bytes: Int64
    public var rows: Int
    public var columns: Int
    /// Patient's Sex (0010,0040) as stored; nil when absent.
    public var sex: String?
    /// Patient's Age (0010,1010) as stored ("045Y"); nil when absent.
    public var age: String?

    public init(bytes: Int64, rows: Int, columns: Int, sex: String?, age: String?) {
        self.bytes = bytes
        self.rows = rows
        self.columns = columns
        self.sex = sex
        self.age = age
    }
}

/// Table 2's "Collection statistics" rows of one split, from its DICOM headers: number of scans,
/// median image size, median age and the share of each sex (both over the scans where they are
/// known, the table's (*) note), and the data size.
public struct CollectionStatistics: Sendable {
    /// DICOM files found (readable or not).
    public var images: Int
    /// Medians of Rows (0028,0010) and Columns (0028,0011) over the readable headers.
    public var medianRows: Double?
    public var medianColumns: Double?
    /// Median Patient's Age in years (months, weeks and days converted), over `agesKnown` scans.
    public var medianAge: Double?
    public var agesKnown: Int
    /// Patient's Age absent or empty.
    public var agesMissing: Int
    /// Patient's Age present but not an Age String (PS3.5 Table 6.2-1: nnnD, nnnW, nnnM, nnnY).
    public var agesInvalid: Int
    /// Patient's Sex (0010,0040): M, F, O (other), and absent or empty (or any other value).
    public var male: Int
    public var female: Int
    public var otherSex: Int
    public var sexMissing: Int
    /// Total size of the DICOM files in bytes.
    public var bytes: Int64
    /// Files whose header could not be read, with the reason (left out of every median).
    public var unreadable: [(path: String, reason: String)]

    /// Male share of the scans whose sex is M or F, in percent (nil when none is).
    public var malePercent: Double? { male + female > 0 ? 100 * Double(male) / Double(male + female) : nil }
    public var femalePercent: Double? { male + female > 0 ? 100 * Double(female) / Double(male + female) : nil }
    /// Data size in gigabytes (10^9 bytes).
    public var gigabytes: Double { Double(bytes) / 1e9 }

    public init(headers: [ImageHeaderFacts], bytesOfUnreadable: Int64 = 0, unreadable: [(path: String, reason: String)] = []) {
        images = headers.count + unreadable.count
        medianRows = median(headers.map { Double($0.rows) })
        medianColumns = median(headers.map { Double($0.columns) })
        var ages: [Double] = []
        agesMissing = 0
        agesInvalid = 0
        male = 0
        female = 0
        otherSex = 0
        sexMissing = 0
        for h in headers {
            if let text = h.age, !text.isEmpty {
                if let years = CollectionStatistics.years(fromAge: text) { ages.append(years) } else { agesInvalid += 1 }
            } else {
                agesMissing += 1
            }
            switch h.sex?.uppercased() {
            case "M"?: male += 1
            case "F"?: female += 1
            case "O"?: otherSex += 1
            default: sexMissing += 1
            }
        }
        agesKnown = ages.count
        medianAge = median(ages)
        bytes = headers.reduce(bytesOfUnreadable) { $0 + $1.bytes }
        self.unreadable = unreadable
    }

    /// An Age String (PS3.5 Table 6.2-1, VR AS: three digits and D, W, M or Y; fewer digits are
    /// accepted) in years: days / 365.25, weeks x 7 / 365.25, months / 12; nil when not one.
    public static func years(fromAge text: String) -> Double? {
        let s = text.trimmingSpaces
        guard let unit = s.last, (2...4).contains(s.count) else { return nil }
        let digits = s.dropLast()
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Double(String(digits)) else { return nil }
        switch unit {
        case "Y": return n
        case "M": return n / 12
        case "W": return n * 7 / 365.25
        case "D": return n / 365.25
        default: return nil
        }
    }

    /// The rows as JSON (`vindr stats --json`, key "collection").
    public var json: JSONValue {
        let opt: (Double?) -> JSONValue = { $0.map(JSONValue.number) ?? .null }
        return .object([
            ("images", .integer(images)), ("median_rows", opt(medianRows)), ("median_columns", opt(medianColumns)),
            ("median_age", opt(medianAge)), ("ages_known", .integer(agesKnown)), ("ages_missing", .integer(agesMissing)),
            ("ages_invalid", .integer(agesInvalid)), ("male", .integer(male)), ("female", .integer(female)),
            ("other_sex", .integer(otherSex)), ("sex_missing", .integer(sexMissing)),
            ("male_percent", opt(malePercent)), ("female_percent", opt(femalePercent)),
            ("data_bytes", .integer(Int(bytes))), ("data_gb", .number(gigabytes)),
            ("unreadable", .array(unreadable.map { .object([("path", .string($0.path)), ("reason", .string($0.reason))]) })),
        ])
    }
}

/// The median (mean of the two middle values for an even count); nil for no values.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// One column of Table 2: a split's collection rows (when its DICOMs were read) and label rows
/// (when its annotations were given).
public struct Table2Column: Sendable {
    public var title: String
    public var collection: CollectionStatistics?
    public var labels: DatasetStatistics?

    public init(title: String, collection: CollectionStatistics?, labels: DatasetStatistics?) {
        self.title = title
        self.collection = collection
        self.labels = labels
    }

    /// The column's JSON: the label statistics' keys (`DatasetStatistics.json`), then "split" and
    /// "collection" (null without DICOMs).
    public var json: JSONValue {
        var pairs: [(String, JSONValue)] = []
        if case .object(let p)? = labels?.json { pairs = p }
        pairs.append(("split", .string(title)))
        pairs.append(("collection", collection?.json ?? .null))
        return .object(pairs)
    }
}

/// The paper's Table 2 ("Dataset characteristics"): collection rows, then the 28 label rows in
/// the paper's order as "count (percent%)" with two decimals; one column per split, training and
/// test side by side. A cell without data is "-", as the paper prints the test labels.
public struct Table2: Sendable {
    public var columns: [Table2Column]

    public init(columns: [Table2Column]) { self.columns = columns }

    /// `vindr stats --json`: the first column's keys at the top level and the second column, when
    /// given, under "test".
    public var json: JSONValue {
        guard case .object(var pairs) = columns.first?.json ?? .object([]) else { return .null }
        if columns.count > 1 { pairs.append(("test", columns[1].json)) }
        return .object(pairs)
    }

    /// The table as text, then a note on the label rule and the (*) rows.
    public var text: String {
        let dash = "-"
        func cell(_ c: Table2Column, _ f: (Table2Column) -> String?) -> String { f(c) ?? dash }
        var rows: [(String, [String])] = []
        rows.append(("Collection statistics", []))
        rows.append(("  Number of scans", columns.map { c in cell(c) { $0.collection.map { String($0.images) } ?? $0.labels.map { String($0.images) } } }))
        rows.append(("  Number of human annotators per scan", columns.map { c in cell(c) { $0.labels?.annotatorsText } }))
        rows.append(("  Image size (pixel×pixel, median)", columns.map { c in
            cell(c) { col in
                guard let s = col.collection, let r = s.medianRows, let w = s.medianColumns else { return nil }
                return "\(compact(r)) × \(compact(w))"
            }
        }))
        rows.append(("  Age (years, median)*", columns.map { c in cell(c) { $0.collection?.medianAge.map { decimalText($0, places: 2) } } }))
        rows.append(("  Male (%)*", columns.map { c in cell(c) { $0.collection?.malePercent.map { decimalText($0, places: 2) } } }))
        rows.append(("  Female (%)*", columns.map { c in cell(c) { $0.collection?.femalePercent.map { decimalText($0, places: 2) } } }))
        rows.append(("  Data size (GB)", columns.map { c in cell(c) { $0.collection.map { significantText($0.gigabytes) } } }))
        for (n, label) in Taxonomy.paperOrder.enumerated() {
            if n == 0 { rows.append(("Local labels", [])) }
            if label.kind == .global && Taxonomy.paperOrder[n - 1].kind == .local { rows.append(("Global labels", [])) }
            rows.append(("  \(n + 1). \(label.name) (%)", columns.map { c in
                cell(c) { col in col.labels.map { s in s.labelText(label) } }
            }))
        }
        let nameWidth = max(40, rows.map(\.0.count).max() ?? 0)
        let widths = columns.indices.map { i in max(columns[i].title.count, rows.map { $0.1.indices.contains(i) ? $0.1[i].count : 0 }.max() ?? 0) }
        func line(_ name: String, _ cells: [String]) -> String {
            if cells.isEmpty { return name }
            var s = name + String(repeating: " ", count: nameWidth - name.count)
            for (i, c) in cells.enumerated() { s += "  " + String(repeating: " ", count: widths[i] - c.count) + c }
            return s
        }
        var out = [line("Characteristics", columns.map(\.title))]
        out += rows.map { line($0.0, $0.1) }
        var notes: [String] = []
        for c in columns {
            if let s = c.labels { notes.append("\(c.title): \(s.labelRule)") }
        }
        if !notes.isEmpty { out.append("Labels: " + notes.joined(separator: "; ") + ".") }
        var star: [String] = []
        for c in columns {
            guard let s = c.collection else { continue }
            var parts = ["sex known for \(s.male + s.female) of \(s.images) scans", "age for \(s.agesKnown)"]
            if s.agesInvalid > 0 { parts.append("\(s.agesInvalid) age(s) not an Age String") }
            if !s.unreadable.isEmpty { parts.append("\(s.unreadable.count) header(s) unreadable") }
            star.append("\(c.title) " + parts.joined(separator: ", "))
        }
        if !star.isEmpty { out.append("(*) Only scans whose patient's sex and age are known: " + star.joined(separator: "; ") + ".") }
        return out.joined(separator: "\n")
    }

    /// `text`, then each column's per-label detail (`DatasetStatistics.table`): what
    /// `vindr stats` prints.
    public var report: String {
        var out = text
        for c in columns {
            guard let s = c.labels else { continue }
            out += "\n\n\(c.title), per label:\n" + s.table
        }
        return out
    }

    /// A size median as an integer when it is one, else with one decimal (the mean of two).
    func compact(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : decimalText(v, places: 1)
    }
}
