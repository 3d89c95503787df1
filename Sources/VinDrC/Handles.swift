import CVinDrHandles
import VinDrAnnotations
import VinDrDICOM
import VinDrLoader

/// A Swift object handed to C as a typed handle: `CType` is its kind's struct
/// (Sources/CVinDrHandles/handles.h), so a handle of another kind does not compile in C, C++ or
/// here. The pointer is the retained object itself, released by the kind's vdr_*_destroy.
protocol ABIHandle: AnyObject {
    associatedtype CType
}

extension ABIHandle {
    /// A new handle owning one reference to the object.
    var retainedHandle: UnsafeMutablePointer<CType> {
        UnsafeMutablePointer(OpaquePointer(Unmanaged.passRetained(self).toOpaque()))
    }

    /// The object behind `handle`; VDR_ERR_ARGUMENT when it is NULL.
    static func from(_ handle: UnsafeMutablePointer<CType>?) throws -> Self {
        guard let handle else { throw VinDrError(.argument, "\(CType.self) handle is NULL") }
        return Unmanaged<Self>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    /// Releases the handle's reference; NULL is accepted.
    static func destroy(_ handle: UnsafeMutablePointer<CType>?) {
        guard let handle else { return }
        Unmanaged<Self>.fromOpaque(UnsafeRawPointer(handle)).release()
    }
}

/// Writes a new handle to a caller's out pointer (VDR_ERR_ARGUMENT when `out` is NULL).
func store<H: ABIHandle>(_ object: @autoclosure () throws -> H, to out: UnsafeMutablePointer<UnsafeMutablePointer<H.CType>?>?) throws {
    guard let out else { throw VinDrError(.argument, "out is NULL") }
    out.pointee = try object().retainedHandle
}

extension DICOMFile: ABIHandle { typealias CType = vdr_dicom }
extension Batch: ABIHandle { typealias CType = vdr_batch }
extension RenderOptionsBox: ABIHandle { typealias CType = vdr_render_options }
extension AnnotationIndex: ABIHandle { typealias CType = vdr_annotations }
extension TargetsResult: ABIHandle { typealias CType = vdr_targets }
extension SamplesBox: ABIHandle { typealias CType = vdr_samples }
extension LoaderOptionsBox: ABIHandle { typealias CType = vdr_loader_options }
extension LoaderBox: ABIHandle { typealias CType = vdr_loader }
extension DeidOptionsBox: ABIHandle { typealias CType = vdr_deid_options }
extension DeidResultBox: ABIHandle { typealias CType = vdr_deid_result }
