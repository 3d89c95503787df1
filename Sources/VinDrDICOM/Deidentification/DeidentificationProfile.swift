/// A DICOM attribute tag, group << 16 | element.
public typealias DICOMTag = UInt32

/// What a profile does with one top-level attribute (PS3.15 Annex E Table E.1-1 action codes).
public enum AttributeAction: Sendable, Equatable {
    /// K: keep the value.
    case keep
    /// Z: replace with a zero-length value (Type 2 attributes the IOD requires).
    case empty
    /// U: replace a UID with one derived from it (the same original gives the same replacement).
    case replaceUID
}

/// A de-identification profile as data: the attributes it retains (everything else, including
/// private attributes, sequences, overlays (60xx) and curves (50xx), is removed), and what it adds.
public struct DeidentificationProfile: Sendable {
    public enum Naming: Sendable {
        /// `<image id>.dicom`, the image id being the MD5 hex digest of the SOP Instance UID (paper,
        /// Data Records: "encoded from the value of the SOP Instance UID provided by the DICOM tag
        /// (0008,0018)" with Python's hashlib). The id is also written into Media Storage SOP
        /// Instance UID (0002,0003), deliberately, as the released files carry it there; it is
        /// not a valid UI value (hex letters), which readers such as pydicom only warn about.
        case vindrImageID
        /// The input's relative path; (0002,0003) gets the derived UID of the SOP Instance UID,
        /// the same UID the data set's (0008,0018) gets.
        case mirror
    }

    public let name: String
    public let actions: [DICOMTag: AttributeAction]
    public let naming: Naming
    /// Attributes set on every output: (tag, VR, value).
    public let added: [(DICOMTag, String, String)]
    /// De-identification Method Code Sequence (0012,0064) items: (value, scheme, meaning).
    public let methodCodes: [(String, String, String)]

    /// The VinDr-CXR release whitelist: exactly the 25 attributes of paper Table 4 (Nguyen et al.,
    /// Sci. Data 9, 429 (2022)), kept when present; every other data set attribute is removed,
    /// SOP Class and SOP Instance UID included, as in the released files. The output is a PS3.10
    /// file: the file meta group (0002) is rewritten (see `Deidentifier`), and the file is named
    /// `<md5 hex of the SOP Instance UID>.dicom` like the release's image ids.
    public static let vindr = DeidentificationProfile(
        name: "vindr",
        actions: Dictionary(uniqueKeysWithValues: vindrTable4.map { ($0, .keep) }),
        naming: .vindrImageID, added: [], methodCodes: [])

    /// PS3.15 Annex E Basic Application Level Confidentiality Profile with the Retain Patient
    /// Characteristics Option (E.3.1), applied as a whitelist: attributes Table E.1-1 retains
    /// for a projection radiograph are kept, its U attributes get derived UIDs, its Z attributes
    /// are emptied, and every attribute not listed here is removed (stricter than the table,
    /// which leaves unlisted standard attributes in place).
    public static let basic = DeidentificationProfile(
        name: "basic",
        actions: basicActions,
        naming: .mirror,
        added: [(0x0012_0062, "CS", "YES"),
                // Two values: each LO value is limited to 64 characters (PS3.5 6.2).
                (0x0012_0063, "LO", "Basic Application Confidentiality Profile\\Retain Patient Characteristics Option"),
                (0x0028_0303, "CS", "REMOVED")],
        methodCodes: [("113100", "DCM", "Basic Application Confidentiality Profile"),
                      ("113108", "DCM", "Retain Patient Characteristics Option")])

    public static func named(_ name: String) -> DeidentificationProfile? {
        switch name.lowercased() {
        case "vindr": return .vindr
        case "basic": return .basic
        default: return nil
        }
    }

    /// The 25 attributes of paper Table 4 ("The list of DICOM tags that were retained for loading
    /// and processing raw images. All other tags were removed"), transcribed row by row in the
    /// table's order: patient characteristics, image size and geometry (Pixel Spacing, Pixel
    /// Aspect Ratio), the Image Pixel module's pixel format, window and rescale values, Pixel Data,
    /// lossy compression history, Samples per Pixel and Number of Frames. Planar Configuration
    /// (0028,0006) and Rescale Type (0028,1054) are not in the table and are removed.
    static let vindrTable4: [DICOMTag] = [
        0x0010_0040, 0x0010_1010, 0x0010_1020, 0x0010_1030,  // Patient's Sex, Age, Size, Weight
        0x0028_0010, 0x0028_0011, 0x0028_0030, 0x0028_0034,  // Rows, Columns, Pixel Spacing, Pixel Aspect Ratio
        0x0028_0100, 0x0028_0101, 0x0028_0102, 0x0028_0103,  // Bits Allocated, Stored, High Bit, Pixel Representation
        0x0028_0106, 0x0028_0107,  // Smallest, Largest Image Pixel Value
        0x0028_1050, 0x0028_1051, 0x0028_1052, 0x0028_1053,  // Window Center, Width, Rescale Intercept, Slope
        0x7FE0_0010, 0x0028_0004,  // Pixel Data, Photometric Interpretation
        0x0028_2110, 0x0028_2114, 0x0028_2112,  // Lossy Image Compression, its Method, Image Compression Ratio
        0x0028_0002, 0x0028_0008,  // Samples per Pixel, Number of Frames
    ]

    static let basicActions: [DICOMTag: AttributeAction] = {
        var a = Dictionary(uniqueKeysWithValues: vindrTable4.map { ($0, AttributeAction.keep) })
        let keep: [DICOMTag] = [
            0x0008_0005, 0x0008_0008, 0x0008_0016, 0x0008_0060, 0x0008_0068,  // Charset, Image Type, SOP Class, Modality, Presentation Intent
            0x0010_2160, 0x0010_21A0, 0x0010_21C0,  // Ethnic Group, Smoking Status, Pregnancy Status (E.3.1)
            0x0018_0015, 0x0018_0060, 0x0018_1164, 0x0018_5101,  // Body Part, KVP, Imager Pixel Spacing, View Position
            0x0020_0011, 0x0020_0013, 0x0020_0020, 0x0020_0062,  // Series/Instance Number, Patient Orientation, Image Laterality
            0x0028_0006, 0x0028_0301, 0x0028_1040, 0x0028_1054, 0x0028_1056,  // Planar Config., Burned In, Pixel Intensity Rel., Rescale Type, VOI LUT Function
            0x2050_0020,  // Presentation LUT Shape
        ]
        for t in keep { a[t] = .keep }
        // U: Study, Series, SOP Instance, Frame of Reference UIDs.
        for t: DICOMTag in [0x0020_000D, 0x0020_000E, 0x0008_0018, 0x0020_0052] { a[t] = .replaceUID }
        // Z: Type 2 identifying attributes of the Patient and General Study modules.
        for t: DICOMTag in [0x0010_0010, 0x0010_0020, 0x0010_0030, 0x0008_0020, 0x0008_0030, 0x0008_0050,
                            0x0008_0090, 0x0020_0010] { a[t] = .empty }
        return a
    }()
}
