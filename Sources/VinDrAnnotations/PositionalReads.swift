#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// POSIX positional reads of an annotation file (pread), for parsing its halves on two threads.
enum PositionalReads {
    /// `count` bytes of an open file from `offset`, or nil when they cannot all be read.
    static func read(_ fd: Int32, _ offset: Int, _ count: Int) -> [UInt8]? {
        let data = [UInt8](unsafeUninitializedCapacity: count) { buf, filled in
            while filled < count {
                let n = pread(fd, buf.baseAddress! + filled, count - filled, off_t(offset + filled))
                if n > 0 { filled += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        return data.count == count ? data : nil
    }

    /// True when the bytes hold a double quote.
    static func holdsQuote(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.baseAddress.map { memchr($0, 0x22, b.count) != nil } ?? false
    }

    /// Reads `range` of an open file through one small reused buffer and hands it to `body` in
    /// pieces that end just after a line feed (the last piece ends where the range does), until
    /// `body` returns false. Returns false when the range could not be read whole.
    static func forEachLineChunk(_ fd: Int32, _ range: Range<Int>, chunk: Int,
                                         _ body: (UnsafeBufferPointer<UInt8>) throws -> Bool) rethrows -> Bool {
        precondition(chunk > 0)
        var buffer = [UInt8](repeating: 0, count: chunk)
        var held = 0  // bytes of a line begun in the previous read, at the front of the buffer
        var offset = range.lowerBound
        while offset < range.upperBound {
            if held == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }  // a line longer than the buffer
            let want = min(buffer.count - held, range.upperBound - offset)
            let got = buffer.withUnsafeMutableBytes { b in
                var got = 0
                while got < want {
                    let n = pread(fd, b.baseAddress! + held + got, want - got, off_t(offset + got))
                    if n > 0 { got += n } else if n < 0 && errno == EINTR { continue } else { break }
                }
                return got
            }
            guard got == want else { return false }
            offset += got
            held += got
            var cut = held
            if offset < range.upperBound {
                while cut > 0 && buffer[cut - 1] != 0x0A { cut -= 1 }
            }
            guard cut > 0 else { continue }
            guard try buffer.withUnsafeBufferPointer({ try body(UnsafeBufferPointer(rebasing: $0[0..<cut])) }) else { return true }
            buffer.withUnsafeMutableBytes { b in
                if cut < held { _ = memmove(b.baseAddress!, b.baseAddress! + cut, held - cut) }
            }
            held -= cut
        }
        return true
    }
}
