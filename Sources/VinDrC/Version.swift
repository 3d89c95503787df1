// SDK version. scripts/gen_header.py copies these constants into include/vindr.h as
// VDR_VERSION_MAJOR/MINOR/PATCH and VDR_VERSION_NUMBER (major*10000 + minor*100 + patch);
// bindings/python/vindr/__init__.py carries the same string (checked by the tests).
public let VDR_VERSION_MAJOR: Int32 = 0
public let VDR_VERSION_MINOR: Int32 = 3
public let VDR_VERSION_PATCH: Int32 = 0

/// The library's version as major*10000 + minor*100 + patch.
@c public func vdr_version_number() -> Int32 {
    VDR_VERSION_MAJOR * 10000 + VDR_VERSION_MINOR * 100 + VDR_VERSION_PATCH
}
