import CGDCM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed DICOM file whose top-level attributes can be removed or replaced, then written
/// (the shim's cgdcm_edit). Errors name the file and the tag.
final class EditableDataSet {
    let source: String
    private let handle: OpaquePointer

    init(path: String) throws {
        var h: OpaquePointer?
        let rc = cgdcm_edit_open_path(path, &h)
        guard rc == CGDCM_OK, let h else { throw VinDrError(shimErrorKind(rc), path, shimMessage()) }
        source = path
        handle = h
    }

    deinit { cgdcm_edit_close(handle) }

    /// Top-level data set elements (tag, VR) in tag order.
    func elements() throws -> [(tag: DICOMTag, vr: String)] {
        var count = 0
        try check(cgdcm_edit_count(handle, &count), nil)
        return try (0..<count).map { i in
            var tag: UInt32 = 0
            var vr: (CChar, CChar, CChar) = (0, 0, 0)
            try withUnsafeMutablePointer(to: &vr) { p in
                try p.withMemoryRebound(to: CChar.self, capacity: 3) { try check(cgdcm_edit_element(handle, i, &tag, $0), nil) }
            }
            let name = String(decoding: [UInt8(bitPattern: vr.0), UInt8(bitPattern: vr.1)], as: UTF8.self)
            return (tag, name)
        }
    }

    /// Text value of a top-level or file meta attribute; nil when absent; an error naming the
    /// tag when its VR cannot be read as text.
    func text(_ tag: DICOMTag) throws -> String? {
        var len = 0
        let rc = cgdcm_edit_string(handle, tag, nil, 0, &len)
        if rc == CGDCM_ABSENT { return nil }
        try check(rc, nil)  // the shim's message names the tag
        var buf = [CChar](repeating: 0, count: len + 1)
        try check(cgdcm_edit_string(handle, tag, &buf, buf.count, &len), nil)
        return String(decoding: buf.prefix(len).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Text value of a top-level or file meta attribute; nil when absent or unreadable.
    func string(_ tag: DICOMTag) -> String? { (try? text(tag)) ?? nil }

    /// Removes a top-level data set attribute.
    func remove(_ tag: DICOMTag) throws { try check(cgdcm_edit_remove(handle, tag), tag) }

    /// Removes a file meta (group 0002) attribute.
    func removeMeta(_ tag: DICOMTag) throws { try check(cgdcm_edit_remove_meta(handle, tag), tag) }

    func set(_ tag: DICOMTag, _ vr: String, _ value: String) throws { try check(cgdcm_edit_set(handle, tag, vr, value), tag) }

    func setCodes(_ tag: DICOMTag, _ codes: [(String, String, String)]) throws {
        var strings: [UnsafeMutablePointer<CChar>?] = []
        for (value, scheme, meaning) in codes { strings += [strdup(value), strdup(scheme), strdup(meaning)] }
        defer { strings.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = strings.map { $0.map { UnsafePointer($0) } }
        try check(pointers.withUnsafeBufferPointer { cgdcm_edit_set_codes(handle, tag, $0.baseAddress, codes.count) }, tag)
    }

    /// Replaces Pixel Data (7FE0,0010) with native `bytes` (VR OW when `wordSized`, else OB) and
    /// sets the transfer syntax (0002,0010) the data set is written in.
    func replacePixelData(_ bytes: [UInt8], wordSized: Bool, transferSyntax: String) throws {
        try check(bytes.withUnsafeBufferPointer { cgdcm_edit_set_native_pixels(handle, $0.baseAddress, $0.count, wordSized ? 1 : 0, transferSyntax) },
                  0x7FE0_0010)
    }

    /// Converts an Implicit VR Little Endian data set to Explicit VR Little Endian (no-op when
    /// already explicit; Explicit VR Big Endian is refused).
    func makeExplicit() throws { try check(cgdcm_edit_make_explicit(handle), nil) }

    /// Replaces Pixel Data (7FE0,0010) with encapsulated `fragments` (one per frame) behind a
    /// filled Basic Offset Table (PS3.5 A.4) and sets the transfer syntax (0002,0010).
    func replaceEncapsulatedPixelData(_ fragments: [[UInt8]], transferSyntax: String) throws {
        let joined = Array(fragments.joined())
        let lengths = fragments.map(\.count)
        try check(joined.withUnsafeBufferPointer { all -> Int32 in
            var at = 0
            let pointers: [UnsafePointer<UInt8>?] = lengths.map { n in
                defer { at += n }
                return all.baseAddress.map { $0 + at }
            }
            return pointers.withUnsafeBufferPointer { p in
                lengths.withUnsafeBufferPointer { cgdcm_edit_set_encapsulated_pixels(handle, p.baseAddress, $0.baseAddress, fragments.count, transferSyntax) }
            }
        }, 0x7FE0_0010)
    }

    /// Writes the file to `path` (created or truncated); the caller renames it into place.
    func write(to path: String) throws {
        guard cgdcm_edit_write(handle, path) == CGDCM_OK else {
            let message = shimMessage()
            unlink(path)
            throw VinDrError(.io, source, message)
        }
    }

    /// Writes the file to a temporary sibling of `path`, then renames it into place.
    func writeAtomically(to path: String) throws {
        try FileSystem.createDirectories(FileSystem.parent(path))
        let tmp = FileSystem.temporaryPath(for: path)
        guard cgdcm_edit_write(handle, tmp) == CGDCM_OK else {
            let message = shimMessage()
            unlink(tmp)
            throw VinDrError(.io, source, message)
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw VinDrError(.io, source, "cannot rename into \(path): \(reason)")
        }
    }

    private func check(_ rc: Int32, _ tag: DICOMTag?) throws {
        guard rc == CGDCM_OK else {
            let at = tag.map { "\(tagText(UInt16($0 >> 16), UInt16($0 & 0xFFFF))): " } ?? ""
            throw VinDrError(shimErrorKind(rc), source, at + shimMessage())
        }
    }
}
