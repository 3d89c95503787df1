/// The VinDr-CXR selection step on metadata (Nguyen et al. 2022, "Data filtering"): only adult,
/// frontal, monochrome chest radiographs of sufficient size were kept.
public struct ScreeningRules: Sendable {
    /// Minimum Rows and Columns; smaller images are rejected as "too small".
    public var minimumRows: Int = 1024
    public var minimumColumns: Int = 1024
    /// Patient's Age (0010,1010) below this many years is paediatric.
    public var minimumAgeYears: Int = 18

    public init() {}

    /// The first reason `attributes` fails the rules, or nil when the image is accepted.
    /// Missing Body Part Examined, View Position or Patient's Age do not reject (many CXRs lack them).
    public func rejection(_ a: ScreenedAttributes) -> String? {
        if let body = a.bodyPartExamined, !body.isEmpty, body.uppercased() != "CHEST" {
            return "not chest: Body Part Examined (0018,0015) is \(body)"
        }
        if let view = a.viewPosition, ["LL", "RL", "LATERAL", "LAT"].contains(view.uppercased()) {
            return "lateral: View Position (0018,5101) is \(view)"
        }
        if let age = a.patientAge, let years = Self.years(age), years < Double(minimumAgeYears) {
            return "paediatric: Patient's Age (0010,1010) is \(age)"
        }
        let pi = a.photometricInterpretation ?? ""
        if pi != "MONOCHROME1" && pi != "MONOCHROME2" {
            return "not monochrome: Photometric Interpretation (0028,0004) is \(pi.isEmpty ? "absent" : pi)"
        }
        if a.rows < minimumRows || a.columns < minimumColumns {
            return "too small: \(a.rows)x\(a.columns) (Rows x Columns) is under \(minimumRows)x\(minimumColumns)"
        }
        return nil
    }

    /// Age String (PS3.5 6.2 AS: nnnD/W/M/Y) in years; nil when not of that form.
    static func years(_ age: String) -> Double? {
        guard age.count == 4, let n = Int(age.prefix(3)) else { return nil }
        switch age.last {
        case "Y": return Double(n)
        case "M": return Double(n) / 12
        case "W": return Double(n) / 52.1775
        case "D": return Double(n) / 365.25
        default: return nil
        }
    }
}

/// The attributes screening looks at, read before de-identification removes them.
public struct ScreenedAttributes: Sendable {
    public var bodyPartExamined: String?
    public var viewPosition: String?
    public var patientAge: String?
    public var photometricInterpretation: String?
    public var rows = 0
    public var columns = 0

    public init() {}
}
