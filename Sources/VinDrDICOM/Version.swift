/// The SDK's version, written here and nowhere else: the C header's VDR_VERSION_* macros, the
/// library's SONAME (libvindr.so.<major>) and symbol version, the Python package and the CLI take
/// it from here (scripts/gen_header.py generates the header; the tests check the rest).
public enum SDKVersion {
    public static let major = 1
    public static let minor = 0
    public static let patch = 0

    /// "major.minor.patch".
    public static var string: String { "\(major).\(minor).\(patch)" }
}
