#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// POSIX file-system helpers for the library modules, which use the standard library and libc
/// only (no Foundation), so the shipped library carries no Foundation or ICU.
public enum FileSystem {
    /// true for a directory, false for any other file, nil when `path` does not exist.
    public static func isDirectory(_ path: String) -> Bool? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The last path component ("a/b.dcm" -> "b.dcm").
    public static func lastComponent(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    /// The folder part of `path` ("a/b.dcm" -> "a", "b.dcm" -> "").
    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `component` appended to `folder` with one separator.
    public static func joined(_ folder: String, _ component: String) -> String {
        folder.isEmpty ? component : folder.hasSuffix("/") ? folder + component : folder + "/" + component
    }

    /// The file name without its last extension ("a/b.dicom" -> "b").
    public static func stem(_ path: String) -> String {
        let name = lastComponent(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// `path` made absolute against the working directory (links are not resolved).
    public static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        guard let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        let trimmed = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return trimmed == "." ? String(cString: cwd) : joined(String(cString: cwd), trimmed)
    }

    /// The absolute path with symbolic links resolved; for a path that does not exist yet, its
    /// resolved folder joined with its name.
    public static func canonical(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let folder = parent(path)
        let base = folder.isEmpty ? "." : folder
        guard let resolved = realpath(base, nil) else { return path }
        defer { free(resolved) }
        return joined(String(cString: resolved), lastComponent(path))
    }

    /// Creates `path` and its missing parents (mode 0777 less the umask); an error names `path`
    /// and the ancestor that could not be made.
    public static func createDirectories(_ path: String) throws {
        func make(_ dir: String) -> String? {
            guard !dir.isEmpty, isDirectory(dir) != true else { return nil }
            let up = parent(dir)
            if !up.isEmpty && up != dir, let failure = make(up) { return failure }
            if mkdir(dir, 0o777) != 0 && errno != EEXIST { return "\(dir): \(String(cString: strerror(errno)))" }
            return isDirectory(dir) == true ? nil : "\(dir) exists and is not a folder"
        }
        if let failure = make(path) { throw VinDrError(.io, path, "cannot create the folder (\(failure))") }
    }

    /// Regular files under `root`, recursively, sorted by relative path; hidden entries (names
    /// starting with ".") and the folder `excluding` (when below `root`) are skipped; symbolic links to folders are
    /// followed once (a link cycle is not walked twice).
    public static func regularFiles(under root: String, excluding: String? = nil) throws -> [(path: String, relative: String)] {
        guard isDirectory(root) == true else { throw VinDrError(.io, root, "not a folder") }
        let skip = excluding.map(canonical)
        var seen = Set<[UInt64]>()
        var found: [(path: String, relative: String)] = []
        func visit(_ folder: String, _ relative: String) throws {
            var st = stat()
            guard stat(folder, &st) == 0, seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { return }
            if let skip, !relative.isEmpty, canonical(folder) == skip { return }
            guard let dir = opendir(folder) else {
                throw VinDrError(.io, folder, "cannot list folder: \(String(cString: strerror(errno)))")
            }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if !name.hasPrefix(".") { names.append(name) }
            }
            closedir(dir)
            for name in names {
                let path = joined(folder, name)
                let rel = relative.isEmpty ? name : relative + "/" + name
                switch isDirectory(path) {
                case true?: try visit(path, rel)
                case false?: found.append((path, rel))
                case nil: continue  // a dangling link
                }
            }
        }
        try visit(root, "")
        return found.sorted { $0.relative < $1.relative }
    }

    /// The DICOM files (.dcm, .dicom) among `inputs`: a file is taken as it is (its relative path
    /// is its name), a folder is walked with `regularFiles` (paths relative to it), in input order.
    public static func dicomFiles(_ inputs: [String]) throws -> [(path: String, relative: String)] {
        var out: [(path: String, relative: String)] = []
        for input in inputs {
            guard let folder = isDirectory(input) else { throw VinDrError(.io, input, "no such file or folder") }
            guard folder else {
                out.append((input, lastComponent(input)))
                continue
            }
            let base = absolute(input)
            out += try regularFiles(under: base).filter { $0.relative.hasSuffix(".dicom") || $0.relative.hasSuffix(".dcm") }
        }
        return out
    }

    /// Writes `bytes` to `path` through a hidden temporary sibling and a rename, so the file is
    /// complete or absent.
    public static func writeAtomically(_ bytes: some Collection<UInt8>, to path: String) throws {
        let tmp = temporaryPath(for: path)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VinDrError(.io, path, "cannot write: \(String(cString: strerror(errno)))") }
        do {
            try Array(bytes).withUnsafeBytes { try writeAll(fd, $0, path: path) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard close(fd) == 0, rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw VinDrError(.io, path, "cannot write into place: \(reason)")
        }
    }

    /// Removes `path` and, for a folder, everything under it (links are removed, not followed);
    /// a missing path, or an entry another process or thread removes meanwhile (the parts of a
    /// split cache build clear the same stale files), is not an error.
    public static func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard let dir = opendir(path) else {
                if errno == ENOENT { return }  // removed meanwhile by another process or thread
                throw VinDrError(.io, path, "cannot list folder: \(String(cString: strerror(errno)))")
            }
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { try removeTree(joined(path, name)) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw VinDrError(.io, path, "cannot remove folder: \(String(cString: strerror(errno)))") }
        } else {
            guard unlink(path) == 0 || errno == ENOENT else { throw VinDrError(.io, path, "cannot remove: \(String(cString: strerror(errno)))") }
        }
    }

    /// Renames the folder `from` to `to`, which must be absent or an empty folder (rename(2)
    /// replaces an empty folder), so `to` appears complete or not at all.
    public static func moveFolderIntoPlace(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw VinDrError(.io, to, "cannot move the finished folder into place: \(String(cString: strerror(errno)))"
                             + (errno == ENOTEMPTY || errno == EEXIST ? " (it exists and is not empty)" : ""))
        }
    }

    /// Writes all of `buffer` to the open file `fd` (retrying short and interrupted writes).
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw VinDrError(.io, path, "write failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// The whole content of the file at `path`.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let file = try MappedFile(path)
        return Array(file.bytes)
    }

    /// Size in bytes and modification time (seconds since 1970) of the file at `path`.
    public static func sizeAndModified(_ path: String) -> (size: Int64, modified: Double)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int64(st.st_size), Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// A hidden sibling of `path` unique to this process, thread and call.
    public static func temporaryPath(for path: String) -> String {
        let folder = parent(path)
        var random = SystemRandomNumberGenerator()
        let tag = String(random.next() as UInt64, radix: 36)
        return joined(folder.isEmpty ? "." : folder, ".\(lastComponent(path)).\(getpid()).\(tag).tmp")
    }
}

/// A file mapped read-only into memory; unmapped when released.
public final class MappedFile: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer

    public init(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VinDrError(.io, path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VinDrError(.io, path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard st.st_size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, Int(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw VinDrError(.io, path, "cannot map: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: Int(st.st_size))
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
