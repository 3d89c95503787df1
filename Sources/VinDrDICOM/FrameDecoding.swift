import CGDCM
import CTurboJPEG

extension DICOMFile {
    /// Decodes the stored values of `frame` (0-based) into memory owned by the result.
    ///
    /// - Parameters:
    ///   - maxReduction: the decoder may return the image downscaled by up to 2^maxReduction per
    ///     axis when the codec can do that cheaply (JPEG 2000 resolution levels, ISO 15444-1 B.5);
    ///     `StoredPixels.reduction` says what was applied. Other syntaxes ignore it.
    ///   - threads: decoder threads (JPEG 2000 only; OpenJPH decodes HTJ2K on the calling thread).
    ///
    /// Values are stored values proper (PS3.5 8.1.1): bits above Bits Stored are cleared, or
    /// copies of the sign bit when Pixel Representation is signed, whatever the codec left there
    /// (e.g. a JPEG 2000 stream that codes signed data as unsigned). Unsigned values that the
    /// lossy codecs (near-lossless JPEG-LS, lossy JPEG 2000) reconstruct above the Bits Stored
    /// range saturate at its maximum instead.
    public func decode(frame: Int = 0, maxReduction: Int = 0, threads: Int = 1) throws -> StoredPixels {
        let bitsStored = metadata.bitsStored
        return try withPixels(frame: frame, maxReduction: maxReduction, threads: threads) { v in
            try reserveMemory(v.bytes.count, what: "the frame's stored values", source: source)
            let bytes = [UInt8](unsafeUninitializedCapacity: v.bytes.count) { buffer, count in
                if let base = buffer.baseAddress {
                    v.copyNormalized(to: base, rowStride: v.width * v.format.bytesPerSample, bitsStored: bitsStored)
                }
                count = v.bytes.count
            }
            return StoredPixels(width: v.width, height: v.height, format: v.format, bytes: bytes, reduction: v.reduction,
                                sampleCentre: v.sampleCentre)
        }
    }

    /// Writes the stored values of `frame` at full size, as `decode` gives them, into Rows rows
    /// of Columns samples, `rowStride` bytes apart (2-byte aligned for 16-bit samples), at `out`,
    /// which the caller has checked can hold them. A native frame is copied once, straight from
    /// the file's bytes.
    public func decode(frame: Int = 0, into out: UnsafeMutableRawPointer, rowStride: Int) throws {
        let m = metadata
        let uid = m.transferSyntaxUID
        if uid == TransferSyntax.rle || TransferSyntax.isLosslessJPEG(uid) || TransferSyntax.isJPEGLS(uid) {
            // The library's own decoders write straight into the caller's rows, from the file's
            // bytes when the frame is one fragment: no frame-sized buffer. Frames they leave (a
            // lossless JPEG frame other than single-component SOF3, JPEG-LS outside
            // JPEGLSDecoder's scope) go through `withPixels` below.
            let format = try checkDecodable(frame: frame)
            let (kind, fragments, offsets) = try pixelLayout()
            if kind == CGDCM_PIXELS_ENCAPSULATED {
                let done = try withFrameStream(frame: frame, fragments: fragments, offsets: offsets) { stream in
                    try decodeOwn(stream, format: format, bitsStored: m.bitsStored, saturate: TransferSyntax.isLossy(uid),
                                  rowStride: rowStride) { out }
                }
                if done { return }
            }
        }
        try withPixels(frame: frame) { v in
            guard v.width == m.columns, v.height == m.rows else {
                throw VinDrError(.decode, source, "frame decoded to \(v.width)x\(v.height), Columns/Rows (0028,0011)/(0028,0010) say \(m.columns)x\(m.rows)")
            }
            v.copyNormalized(to: out, rowStride: rowStride, bitsStored: m.bitsStored)
        }
    }

    /// Calls `body` with the stored values of `frame`; native (uncompressed) frames are lent
    /// straight from the file's bytes, without a copy. The view is valid only inside `body`.
    /// With `scratch`, the frames of the library's own lossless decoders (RLE, lossless JPEG,
    /// JPEG-LS .80) are decoded into its memory instead of a new array.
    public func withPixels<R>(frame: Int = 0, maxReduction: Int = 0, threads: Int = 1, scratch: FrameScratch? = nil,
                              _ body: (PixelView) throws -> R) throws -> R {
        let m = metadata
        let format = try checkDecodable(frame: frame)
        let (kind, fragments, offsets) = try pixelLayout()
        var decoded: StoredPixels
        switch kind {
        case CGDCM_PIXELS_NATIVE:
            return try withExtendedLifetime(self) { try body(nativeFrame(frame, format: format)) }
        case CGDCM_PIXELS_ENCAPSULATED:
            if let scratch {
                defer { scratch.endOfFrame() }  // also when decoding fails
                if let view = try decodeIntoScratch(frame: frame, format: format, fragments: fragments, offsets: offsets, scratch) {
                    return try body(view)
                }
            }
            if m.transferSyntaxUID == TransferSyntax.rle {
                decoded = try withFrameStream(frame: frame, fragments: fragments, offsets: offsets) {
                    try RLEDecoder.decode($0, width: m.columns, height: m.rows, format: format, source: source)
                }
                break
            }
            // The frame's bytes are lent from the file when it is one fragment (no copy).
            decoded = try withFrameStream(frame: frame, fragments: fragments, offsets: offsets) { stream in
                if TransferSyntax.isJPEG2000(m.transferSyntaxUID) {
                    return try decodeJPEG2000(stream, format: format, maxReduction: maxReduction, threads: threads)
                } else if TransferSyntax.isJPEGLS(m.transferSyntaxUID) {
                    return try decodeJPEGLS(stream, format: format)
                } else if let codec = TransferSyntax.gdcmCodec(m.transferSyntaxUID) {
                    if TransferSyntax.isLosslessJPEG(m.transferSyntaxUID), let pixels = try decodeLosslessJPEG(stream, format: format) {
                        return pixels
                    }
                    try checkJPEGHeader(stream)
                    if m.transferSyntaxUID == TransferSyntax.jpegBaseline, format == .uint8, maxReduction > 0,
                       let scaled = decodeJPEGScaled(stream, maxReduction: min(maxReduction, 3)) {
                        return scaled
                    }
                    return try decodeJPEG(stream, codec: codec, format: format)
                }
                throw VinDrError(.unsupported, source, "transfer syntax \(m.transferSyntaxUID) (0002,0010) is not supported")
            }
        default:
            throw VinDrError(.noPixelData, source, "no Pixel Data (7FE0,0010)")
        }
        if TransferSyntax.isLossy(m.transferSyntaxUID) {
            decoded.saturate(bitsStored: m.bitsStored)  // lossy overshoot saturates instead of wrapping
        }
        return try decoded.bytes.withUnsafeBytes {
            try body(PixelView(width: decoded.width, height: decoded.height, format: format, bytes: $0, reduction: decoded.reduction,
                               sampleCentre: decoded.sampleCentre))
        }
    }

    /// Decodes the frame in `stream` with the library's own decoder (RLE, lossless JPEG SOF3,
    /// JPEG-LS within JPEGLSDecoder's scope) into rows `rowStride` bytes apart at the memory
    /// `destination` gives, asked for only once the frame's header is checked (as the array paths
    /// allocate). Values normalized to `bitsStored` (nil: as the stream codes them), saturated
    /// when `saturate`. False, with nothing decoded, for a frame outside those decoders' scope.
    private func decodeOwn(_ stream: UnsafeRawBufferPointer, format: SampleFormat, bitsStored: Int?, saturate: Bool,
                           rowStride: Int, into destination: () throws -> UnsafeMutableRawPointer) throws -> Bool {
        let m = metadata, uid = m.transferSyntaxUID
        if uid == TransferSyntax.rle {
            try RLEDecoder.decode(stream, width: m.columns, height: m.rows, format: format, bitsStored: bitsStored,
                                  rowStride: rowStride, source: source, into: destination)
        } else if TransferSyntax.isJPEGLS(uid) {
            guard let header = try jpegLSHeader(stream) else { return false }
            try JPEGLSDecoder.decode(stream, header, format: format, bitsStored: bitsStored, saturate: saturate,
                                     into: destination(), rowStride: rowStride, source: source)
        } else if TransferSyntax.isLosslessJPEG(uid) {
            guard let scan = try losslessJPEGScan(stream, format: format) else { return false }
            try LosslessJPEGDecoder.decode(scan, stream, format: format, bitsStored: bitsStored, into: destination(),
                                           rowStride: rowStride, source: source)
        } else {
            return false
        }
        return true
    }

    /// The frame decoded into `scratch` as the stream codes it (as `decode` returns it before
    /// normalizing), when the transfer syntax is lossless and the library's own decoder takes the
    /// frame; nil otherwise (nothing decoded).
    private func decodeIntoScratch(frame: Int, format: SampleFormat, fragments: Int, offsets: Int,
                                   _ scratch: FrameScratch) throws -> PixelView? {
        let m = metadata, uid = m.transferSyntaxUID
        guard uid == TransferSyntax.rle || TransferSyntax.isLosslessJPEG(uid) || uid == TransferSyntax.jpegLSLossless else { return nil }
        let count = try checkedSize(m.rows, m.columns, format.bytesPerSample, what: "decoded frame size", source: source)
        try checkDecodeBudget(count, what: "the decoded frame", source: source)
        var out: UnsafeMutableRawPointer?
        let done = try withFrameStream(frame: frame, fragments: fragments, offsets: offsets) { stream in
            try decodeOwn(stream, format: format, bitsStored: nil, saturate: false, rowStride: m.columns * format.bytesPerSample) {
                let p = try scratch.memory(count, source: source)
                out = p
                return p
            }
        }
        guard done, let out else { return nil }
        return PixelView(width: m.columns, height: m.rows, format: format, bytes: UnsafeRawBufferPointer(start: out, count: count),
                         reduction: 0, sampleCentre: 0.5)
    }

    /// How Pixel Data is held (CGDCM_PIXELS_*), its fragment count and its Basic Offset Table's
    /// entry count.
    private func pixelLayout() throws -> (kind: Int32, fragments: Int, offsets: Int) {
        var kind: Int32 = 0
        var fragments = 0
        var offsets = 0
        guard cgdcm_pixel_layout(handle, &kind, &fragments, &offsets) == CGDCM_OK else {
            throw VinDrError(.format, source, shimMessage())
        }
        return (kind, fragments, offsets)
    }

    /// Validates the image attributes a monochrome decode needs and returns the sample format.
    public func checkDecodable(frame: Int) throws -> SampleFormat {
        let m = metadata
        guard m.hasPixelData else { throw VinDrError(.noPixelData, source, "no Pixel Data (7FE0,0010)") }
        guard m.rows > 0, m.columns > 0 else {
            throw VinDrError(.format, source, "Rows (0028,0010) and Columns (0028,0011) must be positive, got \(m.rows)x\(m.columns)")
        }
        guard m.rows <= 65535, m.columns <= 65535, m.frames >= 1 else {
            throw VinDrError(.format, source, "implausible image size \(m.rows)x\(m.columns), \(m.frames) frame(s)")
        }
        guard m.isMonochrome else {
            throw VinDrError(.unsupported, source,
                             "Photometric Interpretation (0028,0004) '\(m.photometricInterpretation)' with \(m.samplesPerPixel) sample(s) per pixel: only MONOCHROME1/MONOCHROME2 are supported")
        }
        guard let format = m.sampleFormat else {
            throw VinDrError(.unsupported, source, "Bits Allocated (0028,0100) \(m.bitsAllocated): only 8 and 16 are supported")
        }
        guard m.bitsStored >= 1, m.bitsStored <= m.bitsAllocated else {
            throw VinDrError(.format, source, "Bits Stored (0028,0101) \(m.bitsStored) not in 1...\(m.bitsAllocated)")
        }
        // PS3.3 C.7.6.3: the image is Rows x Columns x Number of Frames samples; a product that
        // does not fit in memory's address range is a malformed header, not a trap.
        _ = try checkedSize(m.rows, m.columns, m.frames, format.bytesPerSample,
                            what: "Rows (0028,0010) x Columns (0028,0011) x Number of Frames (0028,0008) x bytes per sample",
                            source: source)
        guard frame >= 0, frame < m.frames else {
            throw VinDrError(.argument, source, "frame \(frame) out of range: the file has \(m.frames) frame(s) (0028,0008)")
        }
        return format
    }

    /// Native (uncompressed) Pixel Data, PS3.5 8.1.1: frames are contiguous; trailing padding
    /// (odd length, extra bytes) is ignored; a short value is an error. Borrowed from the handle.
    func nativeFrame(_ frame: Int, format: SampleFormat) throws -> PixelView {
        let m = metadata
        var ptr: UnsafeRawPointer?
        var size = 0
        guard cgdcm_native_pixels(handle, &ptr, &size) == CGDCM_OK, let ptr else {
            throw VinDrError(.noPixelData, source, shimMessage())
        }
        let frameBytes = try checkedSize(m.rows, m.columns, format.bytesPerSample,
                                         what: "frame size Rows (0028,0010) x Columns (0028,0011) x bytes per sample", source: source)
        let needed = try checkedSize(frameBytes, m.frames, what: "Pixel Data size frame bytes x Number of Frames (0028,0008)", source: source)
        guard size >= needed else {
            throw VinDrError(.format, source, "Pixel Data (7FE0,0010) has \(size) bytes, \(m.rows)x\(m.columns)x\(m.frames) frame(s) of \(m.bitsAllocated)-bit samples need \(needed)")
        }
        return PixelView(width: m.columns, height: m.rows, format: format,
                         bytes: UnsafeRawBufferPointer(start: ptr + frame * frameBytes, count: frameBytes), reduction: 0,
                         sampleCentre: 0.5)
    }

    /// Calls `body` with the encapsulated bytes of one frame (PS3.5 A.4: one fragment per frame,
    /// or the fragments the Basic Offset Table assigns to it, or all fragments for a single-frame
    /// image): lent straight from the file's bytes when the frame is a single fragment, else
    /// gathered into a copy. The bytes are valid only inside `body`; an empty stream is an error.
    func withFrameStream<R>(frame: Int, fragments: Int, offsets: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let selected = try frameFragments(frame: frame, fragments: fragments, offsets: offsets)
        func stream(_ bytes: UnsafeRawBufferPointer) throws -> R {
            guard bytes.count > 0, bytes.baseAddress != nil else {
                throw VinDrError(.decode, source, "frame \(frame)'s compressed stream is empty (fragments of 0 bytes)")
            }
            return try body(bytes)
        }
        if selected.count == 1 {
            return try withExtendedLifetime(self) { try stream(try fragment(selected[0])) }
        }
        return try gatherFragments(selected, frame: frame).withUnsafeBytes { try stream($0) }
    }

    /// Fragment `i` of the encapsulated Pixel Data, borrowed from the handle.
    private func fragment(_ i: Int) throws -> UnsafeRawBufferPointer {
        var p: UnsafeRawPointer?
        var n = 0
        guard cgdcm_fragment(handle, i, &p, &n) == CGDCM_OK else { throw VinDrError(.format, source, shimMessage()) }
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// The fragments `selected` copied into one array.
    private func gatherFragments(_ selected: [Int], frame: Int) throws -> [UInt8] {
        let parts = try selected.map(fragment)
        let total = parts.reduce(0) { $0 + $1.count }  // fragments lie inside the file: no overflow
        try reserveMemory(total, what: "frame \(frame)'s compressed stream", source: source)
        var out = [UInt8]()
        out.reserveCapacity(total)
        for part in parts { out.append(contentsOf: part) }
        return out
    }

    /// The fragments holding one frame (PS3.5 A.4), by index; never empty.
    private func frameFragments(frame: Int, fragments: Int, offsets: Int) throws -> [Int] {
        let frames = metadata.frames
        guard fragments > 0 else { throw VinDrError(.format, source, "encapsulated Pixel Data (7FE0,0010) has no fragments") }
        var selected: [Int]
        if frames == 1 {
            selected = Array(0..<fragments)
        } else if fragments == frames {
            selected = [frame]
        } else if offsets == frames {
            var table = [UInt32](repeating: 0, count: offsets)
            for i in 0..<offsets { _ = cgdcm_offset(handle, i, &table[i]) }
            let start = UInt64(table[frame])
            let end = frame + 1 < frames ? UInt64(table[frame + 1]) : UInt64.max
            selected = []
            var position: UInt64 = 0
            for i in 0..<fragments {
                if position >= start && position < end { selected.append(i) }
                position += 8 + UInt64(try fragment(i).count)
            }
        } else {
            throw VinDrError(.format, source, "cannot locate frame \(frame): \(fragments) fragments, \(frames) frames and \(offsets) Basic Offset Table entries")
        }
        guard !selected.isEmpty else { throw VinDrError(.format, source, "frame \(frame) has no fragments") }
        return selected
    }

    /// JPEG 2000 through OpenJPEG, High-Throughput JPEG 2000 (PS3.5 A.4.11) through OpenJPH. The
    /// stream's own precision and signedness may disagree with Bits Stored / Pixel Representation
    /// (seen in the released dataset): the decoded values are kept as the stream defines them, in
    /// the file's sample format.
    /// Whether a stream's main header (ISO 15444-1 A.4-A.5) has a CAP marker segment (FF50)
    /// announcing Part 15 block coding (Pcap bit 2^(32-15), ISO 15444-15 A.3). A JP2 file
    /// (ISO 15444-1 I.5) is searched from its contiguous codestream box (`jp2c`).
    static func signalsHighThroughput(_ stream: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        if stream.count >= 2, stream[0] == 0xFF, stream[1] == 0x4F {
            i = 2
        } else if let box = stream.prefix(4096).indices.first(where: { k in
            k + 6 <= stream.count && stream[k] == 0x6A && stream[k + 1] == 0x70 && stream[k + 2] == 0x32 && stream[k + 3] == 0x63
                && stream[k + 4] == 0xFF && stream[k + 5] == 0x4F
        }) {
            i = box + 6
        } else {
            return false
        }
        while i + 4 <= stream.count, stream[i] == 0xFF, stream[i + 1] != 0x90 {  // up to the first SOT
            let length = Int(stream[i + 2]) << 8 | Int(stream[i + 3])
            if stream[i + 1] == 0x50, length >= 6, i + 8 <= stream.count {
                let pcap = UInt32(stream[i + 4]) << 24 | UInt32(stream[i + 5]) << 16 | UInt32(stream[i + 6]) << 8 | UInt32(stream[i + 7])
                return pcap & (1 << (32 - 15)) != 0
            }
            guard length >= 2 else { return false }
            i += 2 + length
        }
        return false
    }

    func decodeJPEG2000(_ stream: UnsafeRawBufferPointer, format: SampleFormat, maxReduction: Int, threads: Int) throws -> StoredPixels {
        let m = metadata
        // A JPEG 2000 syntax holding an HT codestream goes to the HTJ2K path too: OpenJPEG would
        // decode it with an HT block decoder that asserts on corrupt bytes, in this process.
        let ht = TransferSyntax.isHTJ2K(m.transferSyntaxUID) || Self.signalsHighThroughput(stream)
        let header = ht ? cgdcm_htj2k_header : cgdcm_j2k_header
        let codec = ht ? "HTJ2K" : "JPEG 2000"
        var w: UInt32 = 0, h: UInt32 = 0, comps: UInt32 = 0, prec: UInt32 = 0, levels: UInt32 = 0
        var sgnd: Int32 = 0
        let rc = header(stream.baseAddress, stream.count, 0, &w, &h, &comps, &prec, &sgnd, &levels)
        guard rc == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        guard comps == 1 else {
            throw VinDrError(.unsupported, source, "\(codec) stream has \(comps) components; only monochrome is supported")
        }
        guard Int(w) == m.columns, Int(h) == m.rows else {
            throw VinDrError(.format, source, "\(codec) stream is \(w)x\(h) but Columns/Rows (0028,0011)/(0028,0010) say \(m.columns)x\(m.rows)")
        }
        guard Int(prec) <= 8 * format.bytesPerSample else {
            throw VinDrError(.decode, source, "\(codec) precision \(prec) exceeds Bits Allocated (0028,0100) \(m.bitsAllocated)")
        }
        let reduce = max(0, min(maxReduction, Int(levels) - 1))
        if reduce > 0 {
            let r = header(stream.baseAddress, stream.count, Int32(reduce), &w, &h, &comps, &prec, &sgnd, &levels)
            guard r == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        }
        // OpenJPEG decodes into 32-bit samples per component before our output is written; OpenJPH
        // needs less for that but allocates structures for every tile first.
        var working = try checkedSize(Int(w), Int(h), 4 + format.bytesPerSample, what: "\(codec) working size", source: source)
        if ht {
            var tiles: UInt64 = 0  // at most 65535 tiles: well inside Int
            guard cgdcm_htj2k_working_size(stream.baseAddress, stream.count, &tiles) == CGDCM_OK else {
                throw VinDrError(.decode, source, shimMessage())
            }
            let (sum, overflow) = working.addingReportingOverflow(Int(tiles))
            working = overflow ? .max : sum
        }
        try checkDecodeBudget(working, what: "\(codec) decoding of a \(w)x\(h) frame", source: source)
        var bytes = try uninitializedBytes(try checkedSize(Int(w), Int(h), format.bytesPerSample, what: "\(codec) output size", source: source),
                                            what: "the decoded \(codec) frame", source: source)
        let status = bytes.withUnsafeMutableBytes { dst in
            ht ? cgdcm_htj2k_decode(stream.baseAddress, stream.count, Int32(reduce), dst.baseAddress, Int(w), Int(h), Int32(format.bytesPerSample))
                : cgdcm_j2k_decode(stream.baseAddress, stream.count, Int32(reduce), Int32(max(1, threads)), dst.baseAddress,
                                   Int(w), Int(h), Int32(format.bytesPerSample))
        }
        guard status == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        return StoredPixels(width: Int(w), height: Int(h), format: format, bytes: bytes, reduction: reduce)
    }

    /// An 8-bit baseline JPEG frame decoded by libjpeg-turbo at 1/2^r scale (its scaled IDCT
    /// outputs one sample per 2^r x 2^r block area); nil when TurboJPEG cannot (the caller then
    /// decodes at full size).
    func decodeJPEGScaled(_ stream: UnsafeRawBufferPointer, maxReduction r: Int) -> StoredPixels? {
        let m = metadata
        guard let handle = tjInitDecompress() else { return nil }
        defer { tjDestroy(handle) }
        var w: Int32 = 0, h: Int32 = 0, sub: Int32 = 0, space: Int32 = 0
        let src = stream.assumingMemoryBound(to: UInt8.self)
        let ok = tjDecompressHeader3(handle, src.baseAddress, UInt(src.count), &w, &h, &sub, &space) == 0
        guard ok, Int(w) == m.columns, Int(h) == m.rows, space == Int32(TJCS_GRAY.rawValue) else { return nil }
        let f = 1 << r
        let sw = (Int(w) + f - 1) / f, sh = (Int(h) + f - 1) / f
        guard let count = checkedProduct(sw, sh), var bytes = try? uninitializedBytes(count, what: "", source: source) else { return nil }
        let rc = bytes.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(handle, src.baseAddress, UInt(src.count), dst.baseAddress, Int32(sw), Int32(sw), Int32(sh), Int32(TJPF_GRAY.rawValue), 0)
        }
        guard rc == 0 else { return nil }
        return StoredPixels(width: sw, height: sh, format: .uint8, bytes: bytes, reduction: r, sampleCentre: Double(f) / 2)
    }

    /// Rejects a codec stream before its output is allocated (a few-byte fragment must not cost
    /// gigabytes): its frame header must match Rows/Columns (PS3.5 8.2: the compressed and the
    /// data set's image are the same image), hold one component, and the stream must have at
    /// least `minimumBits` bits, the least any stream of that size can be coded in.
    func checkCodedFrame(codec: String, width: Int, height: Int, components: Int, streamBytes: Int, minimumBits: Int) throws {
        let m = metadata
        guard width == m.columns, height == m.rows else {
            throw VinDrError(.format, source, "\(codec) frame header says \(width)x\(height) but Columns (0028,0011) x Rows (0028,0010) say \(m.columns)x\(m.rows)")
        }
        guard components == 1 else {
            throw VinDrError(.unsupported, source, "\(codec) stream has \(components) components; only monochrome is supported")
        }
        guard streamBytes >= (minimumBits + 7) / 8 else {
            throw VinDrError(.decode, source, "\(codec) stream of \(streamBytes) bytes is too short for a \(m.columns)x\(m.rows) image (at least \((minimumBits + 7) / 8) bytes): truncated or corrupt")
        }
    }

    /// The JPEG (ITU-T T.81) frame header against the data set, before decoding. Huffman codes
    /// are at least one bit long, so a lossless (process 14) stream spends at least one bit per
    /// sample and a DCT stream at least one bit per 8x8 block (its DC difference, T.81 F.1.2.1);
    /// arithmetic-coded streams (T.81 Annex D) get a 64 times looser bound. Generous: real
    /// streams are orders of magnitude larger.
    func checkJPEGHeader(_ stream: UnsafeRawBufferPointer) throws {
        var marker: Int32 = 0
        var precision: UInt32 = 0, w: UInt32 = 0, h: UInt32 = 0, comps: UInt32 = 0
        let rc = cgdcm_jpeg_header(stream.baseAddress, stream.count, &marker, &precision, &w, &h, &comps)
        guard rc == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        let lossless = [0xC3, 0xC7, 0xCB, 0xCF].contains(marker)
        let arithmetic = marker >= 0xC9
        let (width, height) = (Int(w), Int(h))
        var bits = lossless ? width * height : ((width + 7) / 8) * ((height + 7) / 8)
        if arithmetic { bits /= 64 }
        try checkCodedFrame(codec: "JPEG", width: width, height: height, components: Int(comps), streamBytes: stream.count,
                            minimumBits: bits)
    }

    /// The headers of a lossless JPEG frame that `LosslessJPEGDecoder` decodes, checked against
    /// the data set as `checkJPEGHeader` checks them, and its precision against Bits Allocated;
    /// nil when the frame is not a single-component SOF3 (GDCM's codec decodes it).
    func losslessJPEGScan(_ stream: UnsafeRawBufferPointer, format: SampleFormat) throws -> LosslessJPEGDecoder.Scan? {
        guard let scan = try LosslessJPEGDecoder.Scan(parsing: stream, source: source) else { return nil }
        try checkCodedFrame(codec: "JPEG", width: scan.width, height: scan.height, components: 1, streamBytes: stream.count,
                            minimumBits: scan.width * scan.height)
        guard scan.precision <= 8 * format.bytesPerSample else {
            throw VinDrError(.decode, source, "JPEG lossless stream: sample precision \(scan.precision) exceeds Bits Allocated (0028,0100) \(metadata.bitsAllocated)")
        }
        return scan
    }

    /// A lossless JPEG frame in a new array, as the stream codes it (not normalized); nil when
    /// `LosslessJPEGDecoder` leaves it to GDCM.
    func decodeLosslessJPEG(_ stream: UnsafeRawBufferPointer, format: SampleFormat) throws -> StoredPixels? {
        let m = metadata
        guard let scan = try losslessJPEGScan(stream, format: format) else { return nil }
        var bytes = try uninitializedBytes(try checkedSize(m.rows, m.columns, format.bytesPerSample, what: "JPEG output size", source: source),
                                           what: "the decoded JPEG frame", source: source)
        try bytes.withUnsafeMutableBytes { dst in
            guard let start = dst.baseAddress else { return }  // an empty frame: nothing to decode
            try LosslessJPEGDecoder.decode(scan, stream, format: format, bitsStored: nil, into: start,
                                           rowStride: m.columns * format.bytesPerSample, source: source)
        }
        return StoredPixels(width: m.columns, height: m.rows, format: format, bytes: bytes)
    }

    /// JPEG-LS frames: through JPEGLSDecoder when its header is within that decoder's scope,
    /// else through CharLS.
    func decodeJPEGLS(_ stream: UnsafeRawBufferPointer, format: SampleFormat) throws -> StoredPixels {
        let m = metadata
        guard let header = try jpegLSHeader(stream) else { return try decodeJPEGLSWithCharLS(stream, format: format) }
        var bytes = try uninitializedBytes(try checkedSize(m.rows, m.columns, format.bytesPerSample, what: "JPEG-LS output size", source: source),
                                            what: "the decoded JPEG-LS frame", source: source)
        try bytes.withUnsafeMutableBytes { dst in
            guard let start = dst.baseAddress else { return }  // an empty frame: nothing to decode
            try JPEGLSDecoder.decode(stream, header, format: format, bitsStored: nil, saturate: false, into: start,
                                     rowStride: m.columns * format.bytesPerSample, source: source)
        }
        return StoredPixels(width: m.columns, height: m.rows, format: format, bytes: bytes)
    }

    /// The JPEG-LS header if JPEGLSDecoder decodes the stream (nil: CharLS does), checked
    /// against the data set as `decodeJPEGLSWithCharLS` checks it.
    private func jpegLSHeader(_ stream: UnsafeRawBufferPointer) throws -> JPEGLSDecoder.Parameters? {
        guard let header = try JPEGLSDecoder.header(stream, source: source) else { return nil }
        try checkCodedFrame(codec: "JPEG-LS", width: header.width, height: header.height, components: 1, streamBytes: stream.count,
                            minimumBits: header.height * ((header.width + 32767) / 32768))
        return header
    }

    /// JPEG-LS frames through CharLS. The frame header is checked first: a JPEG-LS line costs at
    /// least one bit per 2^15 samples (run mode codes at most 2^J samples per bit, J <= 15,
    /// ISO 14495-1 A.7.1), so a stream shorter than Rows x ceil(Columns / 2^15) bits cannot be
    /// the image and no output is allocated for it.
    func decodeJPEGLSWithCharLS(_ stream: UnsafeRawBufferPointer, format: SampleFormat) throws -> StoredPixels {
        let m = metadata
        var w: UInt32 = 0, h: UInt32 = 0, comps: UInt32 = 0, bitsPerSample: UInt32 = 0
        let header = cgdcm_jpegls_header(stream.baseAddress, stream.count, &w, &h, &comps, &bitsPerSample)
        guard header == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        try checkCodedFrame(codec: "JPEG-LS", width: Int(w), height: Int(h), components: Int(comps), streamBytes: stream.count,
                            minimumBits: Int(h) * ((Int(w) + 32767) / 32768))
        var bytes = try uninitializedBytes(try checkedSize(m.rows, m.columns, format.bytesPerSample, what: "JPEG-LS output size", source: source),
                                            what: "the decoded JPEG-LS frame", source: source)
        let rc = bytes.withUnsafeMutableBytes { dst in
            cgdcm_jpegls_decode(stream.baseAddress, stream.count, UInt32(m.rows), UInt32(m.columns), Int32(format.bytesPerSample),
                                dst.baseAddress, dst.count)
        }
        guard rc == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        return StoredPixels(width: m.columns, height: m.rows, format: format, bytes: bytes)
    }

    /// JPEG frames through GDCM's codec: DCT (baseline, extended) and the lossless frames
    /// `LosslessJPEGDecoder` leaves (another SOFn than SOF3, several components).
    func decodeJPEG(_ stream: UnsafeRawBufferPointer, codec: Int32, format: SampleFormat) throws -> StoredPixels {
        let m = metadata
        var bytes = try uninitializedBytes(try checkedSize(m.rows, m.columns, format.bytesPerSample, what: "JPEG output size", source: source),
                                            what: "the decoded JPEG frame", source: source)
        let rc = bytes.withUnsafeMutableBytes { dst in
            cgdcm_decode_jpeg(stream.baseAddress, stream.count, codec, UInt32(m.rows), UInt32(m.columns), UInt16(m.bitsAllocated),
                              UInt16(m.bitsStored), UInt16(m.pixelRepresentation), m.photometricInterpretation,
                              dst.baseAddress, dst.count)
        }
        guard rc == CGDCM_OK else { throw VinDrError(.decode, source, shimMessage()) }
        return StoredPixels(width: m.columns, height: m.rows, format: format, bytes: bytes)
    }
}

/// A byte array whose contents the caller overwrites entirely (every decoder checks it wrote
/// every byte before the array is used), skipping the zero fill of a multi-megabyte frame; a
/// `.noMemory` error when it cannot be allocated.
func uninitializedBytes(_ count: Int, what: @autoclosure () -> String, source: String) throws -> [UInt8] {
    try checkDecodeBudget(count, what: what(), source: source)
    try reserveMemory(count, what: what(), source: source)
    return [UInt8](unsafeUninitializedCapacity: count) { _, n in n = count }
}
