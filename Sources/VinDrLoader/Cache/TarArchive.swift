import VinDrDICOM

/// POSIX ustar archives (IEEE Std 1003.1 "pax" format's ustar header), the container of
/// WebDataset shards: 512-byte headers, member data padded to 512 bytes, two zero blocks at the end.
enum TarArchive {
    static let block = 512

    /// The ustar header of a regular file `name` (at most 100 bytes, or 255 split at a '/') of
    /// `size` bytes, mode 0644, owner 0, modification time `modified` (seconds).
    static func header(name: String, size: Int, modified: Int = 0) throws -> [UInt8] {
        var h = [UInt8](repeating: 0, count: block)
        var nameBytes = Array(name.utf8), prefix: [UInt8] = []
        if nameBytes.count > 100 {
            guard let cut = nameBytes.indices.last(where: { nameBytes[$0] == UInt8(ascii: "/") && $0 <= 155 && nameBytes.count - $0 - 1 <= 100 }) else {
                throw VinDrError(.argument, "tar member name '\(name)' is longer than ustar allows")
            }
            prefix = Array(nameBytes[..<cut])
            nameBytes = Array(nameBytes[(cut + 1)...])
        }
        func put(_ bytes: [UInt8], at offset: Int) { for (i, b) in bytes.enumerated() { h[offset + i] = b } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        guard size >= 0, size < 1 << 33 else { throw VinDrError(.argument, "tar member '\(name)' of \(size) bytes is too large for ustar") }
        put(nameBytes, at: 0)
        put(octal(0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(modified, width: 12), at: 136)
        h[156] = UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        put(prefix, at: 345)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)
        let sum = h.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148)
        return h
    }

    /// Appends member `name` with `data` to the open file `fd` (header, data, padding).
    static func append(_ fd: Int32, name: String, data: UnsafeRawBufferPointer, modified: Int, path: String) throws {
        let h = try header(name: name, size: data.count, modified: modified)
        try h.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) }
        if data.count > 0 { try FileSystem.writeAll(fd, data, path: path) }
        let pad = (block - data.count % block) % block
        if pad > 0 { try [UInt8](repeating: 0, count: pad).withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) } }
    }

    /// The end-of-archive marker: two zero blocks.
    static func finish(_ fd: Int32, path: String) throws {
        try [UInt8](repeating: 0, count: 2 * block).withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) }
    }

    /// One regular-file member: its name and where its data lies in the archive.
    struct Member: Equatable {
        var name: String
        var offset: Int
        var size: Int
    }

    /// The regular-file members of an archive, in order. Reads ustar, GNU and pax headers (a pax
    /// `path` record or a GNU long name replaces the next member's name; other records are
    /// ignored); directories and links are skipped. A header whose checksum fails, a size that
    /// runs past the end, or a missing end marker is a format error naming `source`.
    static func members(_ bytes: UnsafeRawBufferPointer, source: String) throws -> [Member] {
        var out: [Member] = []
        var offset = 0
        var longName: String?
        func field(_ at: Int, _ width: Int) -> ArraySlice<UInt8> {
            let slice = Array(bytes[(offset + at)..<(offset + at + width)])[...]
            return slice.prefix { $0 != 0 }
        }
        func number(_ at: Int, _ width: Int) throws -> Int {
            if bytes[offset + at] & 0x80 != 0 {  // GNU base-256
                var v = 0
                for i in 1..<width {
                    guard v < 1 << 50 else { throw VinDrError(.format, source, "tar size field too large at byte \(offset)") }
                    v = v << 8 | Int(bytes[offset + at + i])
                }
                return v
            }
            let text = String(decoding: field(at, width), as: UTF8.self).trimmingSpaces()
            if text.isEmpty { return 0 }
            guard let v = Int(text, radix: 8), v >= 0 else { throw VinDrError(.format, source, "bad tar number '\(text)' at byte \(offset + at)") }
            return v
        }
        while true {
            guard offset + block <= bytes.count else { throw VinDrError(.format, source, "tar archive ends without its end marker at byte \(offset)") }
            if (0..<block).allSatisfy({ bytes[offset + $0] == 0 }) { return out }
            var sum = 0
            for i in 0..<block { sum += (148..<156).contains(i) ? 32 : Int(bytes[offset + i]) }
            guard try number(148, 8) == sum else { throw VinDrError(.format, source, "tar header checksum fails at byte \(offset)") }
            let size = try number(124, 12)
            let type = bytes[offset + 156]
            let dataStart = offset + block
            guard size <= bytes.count - dataStart else {
                throw VinDrError(.format, source, "tar member at byte \(offset) claims \(size) bytes, past the end of the archive")
            }
            let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<(dataStart + size)])
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                if let p = paxPath(data) { longName = p }
            case UInt8(ascii: "0"), 0:
                var name = String(decoding: field(0, 100), as: UTF8.self)
                let prefix = field(345, 155)
                if !prefix.isEmpty && bytes[offset + 257..<offset + 262].elementsEqual("ustar".utf8) {
                    name = String(decoding: prefix, as: UTF8.self) + "/" + name
                }
                out.append(Member(name: longName ?? name, offset: dataStart, size: size))
                longName = nil
            default:
                longName = nil
            }
            offset = dataStart + (size + block - 1) / block * block
        }
    }

    /// The `path` record of a pax extended header ("<length> path=<value>\n" records).
    private static func paxPath(_ data: UnsafeRawBufferPointer) -> String? {
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            let record = line[line.index(after: space)...]
            if record.hasPrefix("path=") { return String(record.dropFirst(5)) }
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
