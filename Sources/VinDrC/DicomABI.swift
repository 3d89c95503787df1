import CVinDrHandles
import VinDrDICOM

// vdr_dicom: an opened DICOM file. Thread safety: one handle may be read, decoded and rendered
// from several threads at once; destroy it only when no call on it is running.

/// Integer attributes (vdr_dicom_get_int).
public let VDR_ATTR_ROWS: Int32 = 1
public let VDR_ATTR_COLUMNS: Int32 = 2
public let VDR_ATTR_FRAMES: Int32 = 3
public let VDR_ATTR_SAMPLES_PER_PIXEL: Int32 = 4
public let VDR_ATTR_BITS_ALLOCATED: Int32 = 5
public let VDR_ATTR_BITS_STORED: Int32 = 6
public let VDR_ATTR_HIGH_BIT: Int32 = 7
public let VDR_ATTR_PIXEL_REPRESENTATION: Int32 = 8
/// 1 when the file meta lacked TransferSyntaxUID (0002,0010) and it was inferred.
public let VDR_ATTR_TRANSFER_SYNTAX_INFERRED: Int32 = 9
/// 1 when the file has Pixel Data (7FE0,0010).
public let VDR_ATTR_HAS_PIXEL_DATA: Int32 = 10
/// Number of window center/width pairs (index them with VDR_ATTR_WINDOW_CENTER/WIDTH).
public let VDR_ATTR_WINDOW_COUNT: Int32 = 11
/// Number of VOI LUT Sequence items.
public let VDR_ATTR_VOI_LUT_COUNT: Int32 = 12
/// 1 when a Modality LUT Sequence is present.
public let VDR_ATTR_HAS_MODALITY_LUT: Int32 = 13
/// Stored sample type of vdr_dicom_decode: one of VDR_DTYPE_*; 0 when not decodable.
public let VDR_ATTR_SAMPLE_TYPE: Int32 = 14

/// Real attributes (vdr_dicom_get_double; index selects a value of a multi-valued attribute).
public let VDR_ATTR_RESCALE_SLOPE: Int32 = 20
public let VDR_ATTR_RESCALE_INTERCEPT: Int32 = 21
public let VDR_ATTR_WINDOW_CENTER: Int32 = 22
public let VDR_ATTR_WINDOW_WIDTH: Int32 = 23
/// Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164): index 0 row, 1 column (mm).
public let VDR_ATTR_PIXEL_SPACING: Int32 = 24

/// Text attributes (vdr_dicom_get_string).
public let VDR_ATTR_TRANSFER_SYNTAX_UID: Int32 = 40
public let VDR_ATTR_PHOTOMETRIC_INTERPRETATION: Int32 = 41
public let VDR_ATTR_VOI_LUT_FUNCTION: Int32 = 42
public let VDR_ATTR_PATIENT_SEX: Int32 = 43
public let VDR_ATTR_PATIENT_AGE: Int32 = 44
public let VDR_ATTR_SOP_INSTANCE_UID: Int32 = 45
public let VDR_ATTR_MEDIA_STORAGE_SOP_INSTANCE_UID: Int32 = 46
public let VDR_ATTR_MODALITY: Int32 = 47
public let VDR_ATTR_BODY_PART_EXAMINED: Int32 = 48
public let VDR_ATTR_VIEW_POSITION: Int32 = 49
public let VDR_ATTR_RESCALE_TYPE: Int32 = 50
public let VDR_ATTR_SOURCE: Int32 = 51

/// Sample types (stored values and render outputs).
public let VDR_DTYPE_UINT8: Int32 = 1
public let VDR_DTYPE_INT8: Int32 = 2
public let VDR_DTYPE_UINT16: Int32 = 3
public let VDR_DTYPE_INT16: Int32 = 4
public let VDR_DTYPE_FLOAT32: Int32 = 5

/// Opens the DICOM file at `path` (UTF-8). On success `*out` receives a handle to destroy with
/// vdr_dicom_destroy.
@c public func vdr_dicom_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_dicom>?>?) -> Int32 {
    abiCall {
        let path = try requireString(path, "path")
        try store(try DICOMFile(path: path), to: out)
    }
}

/// Opens a DICOM file from `size` bytes at `data` (copied; the caller may free them after).
@c public func vdr_dicom_open_memory(_ data: UnsafeRawPointer?, _ size: UInt,
                                     _ out: UnsafeMutablePointer<UnsafeMutablePointer<vdr_dicom>?>?) -> Int32 {
    abiCall {
        let size = try count(size, "size")
        guard data != nil || size == 0 else { throw VinDrError(.argument, "data is NULL") }
        try store(try DICOMFile(bytes: UnsafeRawBufferPointer(start: data, count: size)), to: out)
    }
}

/// Releases a handle from vdr_dicom_open*; NULL is accepted.
@c public func vdr_dicom_destroy(_ handle: UnsafeMutablePointer<vdr_dicom>?) {
    DICOMFile.destroy(handle)
}

/// Reads an integer attribute (VDR_ATTR_* of the integer group).
@c public func vdr_dicom_get_int(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ key: Int32, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    abiCall {
        let m = try DICOMFile.from(handle).metadata
        let out = try require(out, "out")
        let value: Int
        switch key {
        case VDR_ATTR_ROWS: value = m.rows
        case VDR_ATTR_COLUMNS: value = m.columns
        case VDR_ATTR_FRAMES: value = m.frames
        case VDR_ATTR_SAMPLES_PER_PIXEL: value = m.samplesPerPixel
        case VDR_ATTR_BITS_ALLOCATED: value = m.bitsAllocated
        case VDR_ATTR_BITS_STORED: value = m.bitsStored
        case VDR_ATTR_HIGH_BIT: value = m.highBit
        case VDR_ATTR_PIXEL_REPRESENTATION: value = m.pixelRepresentation
        case VDR_ATTR_TRANSFER_SYNTAX_INFERRED: value = m.transferSyntaxInferred ? 1 : 0
        case VDR_ATTR_HAS_PIXEL_DATA: value = m.hasPixelData ? 1 : 0
        case VDR_ATTR_WINDOW_COUNT: value = m.windows.count
        case VDR_ATTR_VOI_LUT_COUNT: value = m.voiLUTs.count
        case VDR_ATTR_HAS_MODALITY_LUT: value = m.modalityLUT == nil ? 0 : 1
        case VDR_ATTR_SAMPLE_TYPE: value = Int(m.sampleFormat.map(dtypeCode) ?? 0)
        default: throw VinDrError(.argument, "unknown integer attribute key \(key)")
        }
        out.pointee = Int64(value)
    }
}

/// Reads value `index` of a real attribute. VDR_ERR_ARGUMENT when the attribute is absent or
/// the index out of range (the message says which).
@c public func vdr_dicom_get_double(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ key: Int32, _ index: UInt,
                                    _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    abiCall {
        let m = try DICOMFile.from(handle).metadata
        let out = try require(out, "out")
        let values: [Double]
        let name: String
        switch key {
        case VDR_ATTR_RESCALE_SLOPE: (values, name) = (m.rescaleSlope.map { [$0] } ?? [], "Rescale Slope (0028,1053)")
        case VDR_ATTR_RESCALE_INTERCEPT: (values, name) = (m.rescaleIntercept.map { [$0] } ?? [], "Rescale Intercept (0028,1052)")
        case VDR_ATTR_WINDOW_CENTER: (values, name) = (m.windows.map(\.center), "Window Center (0028,1050)")
        case VDR_ATTR_WINDOW_WIDTH: (values, name) = (m.windows.map(\.width), "Window Width (0028,1051)")
        case VDR_ATTR_PIXEL_SPACING: (values, name) = (m.pixelSpacing, "Pixel Spacing (0028,0030)")
        default: throw VinDrError(.argument, "unknown real attribute key \(key)")
        }
        guard index < UInt(values.count) else {
            throw VinDrError(.argument, "\(name): index \(index) out of range (\(values.count) value(s))")
        }
        out.pointee = values[Int(index)]
    }
}

/// A text attribute (*out: release with vdr_string_destroy); absent attributes give "".
@c public func vdr_dicom_get_string(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ key: Int32, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall {
        let file = try DICOMFile.from(handle)
        let m = file.metadata
        let value: String?
        switch key {
        case VDR_ATTR_TRANSFER_SYNTAX_UID: value = m.transferSyntaxUID
        case VDR_ATTR_PHOTOMETRIC_INTERPRETATION: value = m.photometricInterpretation
        case VDR_ATTR_VOI_LUT_FUNCTION: value = m.voiFunction.rawValue
        case VDR_ATTR_PATIENT_SEX: value = m.patientSex
        case VDR_ATTR_PATIENT_AGE: value = m.patientAge
        case VDR_ATTR_SOP_INSTANCE_UID: value = m.sopInstanceUID
        case VDR_ATTR_MEDIA_STORAGE_SOP_INSTANCE_UID: value = m.mediaStorageSOPInstanceUID
        case VDR_ATTR_MODALITY: value = m.modality
        case VDR_ATTR_BODY_PART_EXAMINED: value = m.bodyPartExamined
        case VDR_ATTR_VIEW_POSITION: value = m.viewPosition
        case VDR_ATTR_RESCALE_TYPE: value = m.rescaleType
        case VDR_ATTR_SOURCE: value = file.source
        default: throw VinDrError(.argument, "unknown text attribute key \(key)")
        }
        try store(value ?? "", to: out)
    }
}

/// Decodes the stored values of `frame` into `out`: rows x columns samples of the type
/// VDR_ATTR_SAMPLE_TYPE gives, rows `row_stride` bytes apart, `size` bytes in all.
@c public func vdr_dicom_decode(_ handle: UnsafeMutablePointer<vdr_dicom>?, _ frame: Int32, _ out: UnsafeMutableRawPointer?,
                                _ size: UInt, _ row_stride: UInt) -> Int32 {
    abiCall {
        let file = try DICOMFile.from(handle)
        let size = try count(size, "size"), row_stride = try count(row_stride, "row_stride")
        let out = try require(out, "out")
        let m = file.metadata
        guard let format = m.sampleFormat else {
            throw VinDrError(.unsupported, "\(file.source): Bits Allocated (0028,0100) \(m.bitsAllocated) is not 8 or 16")
        }
        // The header is validated (PS3.3 C.7.6.3) before any size is derived from it.
        _ = try file.checkDecodable(frame: Int(frame))
        let rowBytes = try checkedSize(m.columns, format.bytesPerSample, what: "row size Columns (0028,0011) x bytes per sample", source: file.source)
        try checkBuffer(size: size, rowStride: row_stride, rowBytes: rowBytes, rows: m.rows, align: format.bytesPerSample, base: out)
        try file.decode(frame: Int(frame), into: out, rowStride: row_stride)
    }
}

func dtypeCode(_ f: SampleFormat) -> Int32 {
    switch f {
    case .uint8: return VDR_DTYPE_UINT8
    case .int8: return VDR_DTYPE_INT8
    case .uint16: return VDR_DTYPE_UINT16
    case .int16: return VDR_DTYPE_INT16
    }
}
