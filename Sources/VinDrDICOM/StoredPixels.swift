import CGDCM

/// How stored pixel values are held in memory: one sample per pixel, little-endian words.
public enum SampleFormat: Sendable, Equatable {
    case uint8, int8, uint16, int16

    /// Bits Allocated (0028,0100) 8 or 16 with Pixel Representation (0028,0103); nil otherwise.
    public init?(bitsAllocated: Int, signed: Bool) {
        switch (bitsAllocated, signed) {
        case (8, false): self = .uint8
        case (8, true): self = .int8
        case (16, false): self = .uint16
        case (16, true): self = .int16
        default: return nil
        }
    }

    public var bytesPerSample: Int {
        switch self {
        case .uint8, .int8: return 1
        case .uint16, .int16: return 2
        }
    }

    public var isSigned: Bool { self == .int8 || self == .int16 }

    /// Clears the bits above `bitsStored` of `count` samples at `p` (unsigned) or sets them to
    /// the sign bit (signed), as PS3.5 8.1.1 prescribes for stored values.
    func normalize(_ p: UnsafeMutableRawPointer, count n: Int, bitsStored: Int) {
        let bits = 8 * bytesPerSample
        guard bitsStored < bits else { return }
        let shift = bits - bitsStored
        switch self {
        case .uint8:
            let q = p.bindMemory(to: UInt8.self, capacity: n), mask = UInt8.max &>> shift
            for i in 0..<n { q[i] &= mask }
        case .int8:
            let q = p.bindMemory(to: Int8.self, capacity: n)
            for i in 0..<n { q[i] = (q[i] &<< shift) &>> shift }
        case .uint16:
            let q = p.bindMemory(to: UInt16.self, capacity: n), mask = UInt16.max &>> shift
            for i in 0..<n { q[i] &= mask }
        case .int16:
            let q = p.bindMemory(to: Int16.self, capacity: n)
            for i in 0..<n { q[i] = (q[i] &<< shift) &>> shift }
        }
    }
}

/// One decoded frame of stored values (PS3.3 C.7.6.3.1), before any LUT.
public struct StoredPixels: Sendable {
    public var width: Int
    public var height: Int
    public var format: SampleFormat
    /// width * height samples of `format.bytesPerSample` bytes, row-major.
    public var bytes: [UInt8]
    /// log2 of the downscale applied while decoding (JPEG 2000 resolution level, JPEG DCT
    /// scaling); 0 = full size.
    public var reduction: Int
    /// Where sample 0 sits on the full-resolution grid: the source coordinate of its centre
    /// (pixel k spans [k, k + 1)). 0.5 at full size and for JPEG 2000 levels (a low band sample
    /// is centred on source pixel 2^r * i); 2^r / 2 for JPEG DCT scaling (the centre of its block).
    public var sampleCentre: Double

    public init(width: Int, height: Int, format: SampleFormat, bytes: [UInt8], reduction: Int = 0, sampleCentre: Double = 0.5) {
        self.width = width
        self.height = height
        self.format = format
        self.bytes = bytes
        self.reduction = reduction
        self.sampleCentre = sampleCentre
    }

    /// Clears the bits above `bitsStored` (unsigned) or sets them to the sign bit (signed).
    /// Clamps unsigned values above 2^bitsStored - 1 to it. A lossy codec's reconstruction may
    /// overshoot the stored range when its stream declares more bits than Bits Stored (a
    /// near-lossless JPEG-LS stream of precision 16 for 12-bit data gives 4095 + NEAR); masking
    /// such a value would turn a saturated pixel black. Signed formats are left to `normalize`.
    mutating func saturate(bitsStored: Int) {
        guard bitsStored < 8 * format.bytesPerSample else { return }
        let n = width * height
        bytes.withUnsafeMutableBytes { raw in
            switch format {
            case .uint8:
                let p = raw.bindMemory(to: UInt8.self), top = UInt8((1 << bitsStored) - 1)
                for i in 0..<n where p[i] > top { p[i] = top }
            case .uint16:
                let p = raw.bindMemory(to: UInt16.self), top = UInt16((1 << bitsStored) - 1)
                for i in 0..<n where p[i] > top { p[i] = top }
            case .int8, .int16:
                return
            }
        }
    }

    /// The value of pixel (row, column) with bits above `bitsStored` masked (unsigned) or
    /// sign-extended (signed), as PS3.5 8.1.1 prescribes.
    public func value(row: Int, column: Int, bitsStored: Int) -> Int {
        let i = row * width + column
        let raw: Int
        switch format {
        case .uint8, .int8: raw = Int(bytes[i])
        case .uint16, .int16: raw = Int(bytes[2 * i]) | Int(bytes[2 * i + 1]) << 8
        }
        return StoredValueRange.interpret(raw, bitsStored: bitsStored, signed: format.isSigned)
    }
}

/// Borrowed stored values of one frame: same layout as `StoredPixels`, memory owned elsewhere.
public struct PixelView {
    public var width: Int
    public var height: Int
    public var format: SampleFormat
    public var bytes: UnsafeRawBufferPointer
    public var reduction: Int
    public var sampleCentre: Double

    /// Copies the rows into `out`, `rowStride` bytes apart (2-byte aligned for 16-bit samples),
    /// each normalized to `bitsStored` (`SampleFormat.normalize`) while it is in cache: one pass
    /// over the memory.
    func copyNormalized(to out: UnsafeMutableRawPointer, rowStride: Int, bitsStored: Int) {
        guard let src = bytes.baseAddress else { return }
        let rowBytes = width * format.bytesPerSample
        for y in 0..<height {
            let row = out + y * rowStride
            row.copyMemory(from: src + y * rowBytes, byteCount: rowBytes)
            format.normalize(row, count: width, bitsStored: bitsStored)
        }
    }
}

/// The meaning of a raw sample under Bits Stored and Pixel Representation.
public enum StoredValueRange {
    /// Raw sample bits -> stored value: the low `bitsStored` bits, masked (unsigned) or
    /// sign-extended (two's complement).
    @inlinable public static func interpret(_ raw: Int, bitsStored: Int, signed: Bool) -> Int {
        let mask = (1 << bitsStored) - 1
        let v = raw & mask
        if signed && v & (1 << (bitsStored - 1)) != 0 { return v - (1 << bitsStored) }
        return v
    }
}

/// Memory for decoded frames that its owner reuses from one frame to the next (a
/// `RenderWorkspace` holds one per render thread): the frame lands in pages already mapped, with
/// no allocation and no page faults per frame. Kept up to 64 MiB and within what all threads
/// may keep together (`cgdcm_keep_bytes`, 512 MiB); a larger frame's memory is freed after use.
/// One frame at a time (not thread-safe).
public final class FrameScratch: @unchecked Sendable {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    private var kept = false

    public init() {}

    /// At least `count` bytes, 64-byte aligned, valid until the next call or `endOfFrame()`. A
    /// size the machine cannot provide is a `.noMemory` error (`reserveMemory`), not a trap.
    func memory(_ count: Int, source: String) throws -> UnsafeMutableRawPointer {
        if let base, count <= capacity { return base }
        release()
        try reserveMemory(count, what: "the decoded frame", source: source)
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        base = p
        capacity = count
        kept = count <= 64 << 20 && cgdcm_keep_bytes(count) != 0
        return p
    }

    /// Frees the memory unless it may be kept for the next frame.
    func endOfFrame() {
        if !kept { release() }
    }

    private func release() {
        base?.deallocate()
        if kept { cgdcm_unkeep_bytes(capacity) }
        base = nil
        capacity = 0
        kept = false
    }

    deinit { release() }
}
