import VinDrDICOM

/// The library's version as major*10000 + minor*100 + patch (VDR_VERSION_NUMBER of the header
/// it was built with).
@c public func vdr_version_number() -> Int32 {
    Int32(SDKVersion.major * 10000 + SDKVersion.minor * 100 + SDKVersion.patch)
}

/// The library's version as "major.minor.patch" (static storage, never freed).
@c public func vdr_version() -> UnsafePointer<CChar> {
    versionText
}

private let versionText: UnsafePointer<CChar> = {
    let text = SDKVersion.string
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: text.utf8.count + 1)
    buffer.initialize(from: text.utf8CString.map { $0 }, count: text.utf8.count + 1)
    return UnsafePointer(buffer)
}()
