import CGDCM

/// Transfer syntaxes (PS3.6 Annex A) and which decoder handles each.
public enum TransferSyntax {
    public static let implicitLittle = "1.2.840.10008.1.2"
    public static let explicitLittle = "1.2.840.10008.1.2.1"
    public static let deflatedExplicitLittle = "1.2.840.10008.1.2.1.99"
    public static let explicitBig = "1.2.840.10008.1.2.2"
    public static let jpegBaseline = "1.2.840.10008.1.2.4.50"
    public static let jpegExtended = "1.2.840.10008.1.2.4.51"
    public static let jpegLossless = "1.2.840.10008.1.2.4.57"
    public static let jpegLosslessSV1 = "1.2.840.10008.1.2.4.70"
    public static let jpegLSLossless = "1.2.840.10008.1.2.4.80"
    public static let jpegLSNearLossless = "1.2.840.10008.1.2.4.81"
    public static let jpeg2000Lossless = "1.2.840.10008.1.2.4.90"
    public static let jpeg2000 = "1.2.840.10008.1.2.4.91"
    public static let rle = "1.2.840.10008.1.2.5"
    /// High-Throughput JPEG 2000 (PS3.5 A.4.11, PS3.6 Table A-1): Explicit VR Little Endian with
    /// encapsulated ISO 15444-15 codestreams; .201 and .202 lossless only, .203 lossless or lossy.
    public static let htj2kLossless = "1.2.840.10008.1.2.4.201"
    public static let htj2kLosslessRPCL = "1.2.840.10008.1.2.4.202"
    public static let htj2k = "1.2.840.10008.1.2.4.203"

    /// Short names for display.
    public static let names: [String: String] = [
        implicitLittle: "Implicit VR Little Endian",
        explicitLittle: "Explicit VR Little Endian",
        deflatedExplicitLittle: "Deflated Explicit VR Little Endian",
        explicitBig: "Explicit VR Big Endian",
        jpegBaseline: "JPEG Baseline (Process 1)",
        jpegExtended: "JPEG Extended (Process 2 & 4)",
        jpegLossless: "JPEG Lossless (Process 14)",
        jpegLosslessSV1: "JPEG Lossless SV1",
        jpegLSLossless: "JPEG-LS Lossless",
        jpegLSNearLossless: "JPEG-LS Near-Lossless",
        jpeg2000Lossless: "JPEG 2000 Lossless",
        jpeg2000: "JPEG 2000",
        rle: "RLE Lossless",
        htj2kLossless: "HTJ2K Lossless",
        htj2kLosslessRPCL: "HTJ2K Lossless RPCL",
        htj2k: "HTJ2K",
    ]

    /// GDCM codec (CGDCM_CODEC_*) for the JPEG syntaxes; nil for others.
    static func gdcmCodec(_ uid: String) -> Int32? {
        switch uid {
        case jpegBaseline, jpegExtended, jpegLossless, jpegLosslessSV1: return CGDCM_CODEC_JPEG
        default: return nil
        }
    }

    /// True for the lossless JPEG syntaxes (process 14, PS3.5 A.4.1), which `LosslessJPEGDecoder`
    /// decodes (GDCM's codec the frames it leaves).
    static func isLosslessJPEG(_ uid: String) -> Bool { uid == jpegLossless || uid == jpegLosslessSV1 }

    /// True for the JPEG 2000 syntaxes, which OpenJPEG decodes directly (threads, reduced
    /// resolution), and the High-Throughput JPEG 2000 ones, which OpenJPH decodes (reduced
    /// resolution).
    public static func isJPEG2000(_ uid: String) -> Bool { uid == jpeg2000Lossless || uid == jpeg2000 || isHTJ2K(uid) }

    /// True for the High-Throughput JPEG 2000 syntaxes.
    public static func isHTJ2K(_ uid: String) -> Bool { uid == htj2kLossless || uid == htj2kLosslessRPCL || uid == htj2k }

    /// True for the JPEG-LS syntaxes (PS3.5 A.4.3), which `JPEGLSDecoder` decodes (CharLS the
    /// streams it leaves).
    static func isJPEGLS(_ uid: String) -> Bool { uid == jpegLSLossless || uid == jpegLSNearLossless }

    /// True for the syntaxes whose lossy reconstruction may leave the stored range (saturated, not wrapped).
    static func isLossy(_ uid: String) -> Bool { uid == jpegLSNearLossless || uid == jpeg2000 || uid == htj2k }
}
