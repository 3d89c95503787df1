#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import VinDrBoxes

extension AnnotationIndex {
    /// The rows of one half of a file, interned in tables of their own.
    struct Half {
        var tables = Interning()
        var newImages: [String] = []
        var pending: [PendingRow] = []
        var error: Error?
        /// The half could not be read whole, or holds a double quote.
        var unusable = false
        /// The line after the half's last record.
        var endLine = 0
    }

    /// `add(path:)` for large files: the header is read first, the data rows are split at the
    /// first line end past the middle, each half is read and parsed on its own thread, and the
    /// second half's line numbers are then shifted and its images and readers renumbered into
    /// the first half's tables in order, so ids, order and errors come out as a sequential read
    /// gives them. Returns nil (nothing done) for small, unreadable or changing files, files with
    /// quotes (a line end may sit inside a quoted field) and files that do not start with a
    /// header line; `add` then reads them row by row.
    func addInHalves(path: String, threshold: Int, chunkSize: Int) throws -> CSVLayout? {
        var info = stat()
        guard sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2, stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG,
              Int(info.st_size) >= threshold else { return nil }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let size = Int(info.st_size)
        let probe = 1 << 16
        // The header record, then the record end nearest past the middle, each within 64 KiB.
        guard let head = PositionalReads.read(fd, 0, min(size, probe)),
              let dataStart = head.withUnsafeBufferPointer({ CSVReader.lineEnd(in: $0) }),
              !head.withUnsafeBufferPointer({ PositionalReads.holdsQuote(UnsafeBufferPointer(rebasing: $0[0..<dataStart])) }) else { return nil }
        var headerRow: CSVRow?
        try head.withUnsafeBufferPointer {
            try CSVReader.forEachRow(bytes: UnsafeBufferPointer(rebasing: $0[0..<dataStart]), name: path) { headerRow = $0 }
        }
        guard let headerRow, headerRow.line == 1 else { return nil }
        let map = try Self.columns(path: path, header: headerRow)
        let columns = RowColumns(map)
        let middle = dataStart + (size - dataStart) / 2
        guard let around = PositionalReads.read(fd, middle, min(size - middle, probe)) else { return nil }
        let end = around.withUnsafeBufferPointer { CSVReader.lineEnd(in: $0) }
        guard end != nil || middle + around.count == size else { return nil }
        let split = end.map { middle + $0 } ?? size
        let ranges = [dataStart..<split, split..<size]

        var halves = [Half(), Half()]
        let saved = interning  // restored when a half turns out unusable
        swap(&halves[0].tables, &interning)
        halves.withUnsafeMutableBufferPointer { h in
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                var half = Half()
                swap(&half.tables, &h[k].tables)
                defer { h[k] = half }
                half.pending = PendingPool.take(capacity: ranges[k].count / 48)
                // Thread-private copies: shared objects would bounce their reference counts
                // between the cores on every row.
                let (map, path, localLabels) = (map.unshared, String(decoding: Array(path.utf8), as: UTF8.self),
                                                Self.localLabelCount)
                // The second half counts lines from 0 until the first half's count is known.
                half.endLine = k == 0 ? 2 : 0
                do {
                    let whole = try PositionalReads.forEachLineChunk(fd, ranges[k], chunk: chunkSize) { chunk in
                        guard !PositionalReads.holdsQuote(chunk) else { half.unusable = true; return false }
                        half.endLine = try CSVReader.forEachUnquotedRow(bytes: chunk, firstLine: half.endLine) { row in
                            half.pending.append(try Self.parseRow(row, columns, map, &half.tables, &half.newImages,
                                                                  path: path, localLabels: localLabels))
                        }
                        return true
                    }
                    if !whole { half.unusable = true }
                } catch {
                    half.error = error
                }
            }
        }
        // Moved out, not copied: a copy would make the merge's writes copy whole arrays.
        var second = halves.removeLast(), first = halves.removeLast()
        defer { swap(&first.tables, &interning) }
        if first.unusable || second.unusable {
            first.tables = saved
            return nil
        }
        register(path: path, layout: map.layout)
        if let e = second.error as? VinDrError {
            second.error = e.movedDown(by: first.endLine)
        }
        if first.error == nil {
            merge(&second, into: &first, lineOffset: first.endLine)
        } else {
            PendingPool.give(&second.pending)
        }
        finishAdd(first.pending, second.pending, source: sources.count - 1, newImages: first.newImages,
                  readerNames: first.tables.readerNames)
        PendingPool.give(&first.pending)
        PendingPool.give(&second.pending)
        if let error = first.error ?? second.error { throw error }
        return map.layout
    }

    /// Renumbers the second half's rows, in place, into the first half's tables: its images and
    /// readers (ids in its own tables, which started empty) and its line numbers.
    func merge(_ second: inout Half, into first: inout Half, lineOffset: Int) {
        var images = [Int32](repeating: 0, count: second.newImages.count)
        for (k, id) in second.newImages.enumerated() {
            var s = id
            images[k] = Int32(s.withUTF8 { b in
                let (p, isNew) = first.tables.images.intern(b)
                if isNew { first.newImages.append(id) }
                return p
            })
        }
        var readers = [Int32](repeating: 0, count: second.tables.readerNames.count)
        for (k, name) in second.tables.readerNames.enumerated() {
            var s = name
            readers[k] = Int32(s.withUTF8 { b in
                let (p, isNew) = first.tables.readers.intern(b)
                if isNew { first.tables.readerNames.append(name) }
                return p
            })
        }
        second.pending.withUnsafeMutableBufferPointer { rows in
            for k in rows.indices {
                rows[k].image = images[Int(rows[k].image)]
                rows[k].line = Int32(clamping: Int(rows[k].line) + lineOffset)
                if rows[k].reader >= 0 { rows[k].reader = readers[Int(rows[k].reader)] }
            }
        }
    }
}
