// libFuzzer target: the render-cache reader on an arbitrary WebDataset shard (the input is
// written as shard-00000.tar). Every sample found is read (raw copy, TurboJPEG decode, or raw16
// windowing with and without a window adjustment) into an exact-size slot.
@testable import VinDrLoader
import VinDrImaging
#if canImport(Glibc)
import Glibc
#endif

private let dir = "/tmp/vindr-fuzz-cache-\(getpid())"
private let codec = try! GrayJPEG()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    mkdir(dir, 0o700)
    let path = dir + "/shard-00000.tar"
    let f = fopen(path, "wb")!
    if size > 0 { fwrite(data, 1, size, f) }
    fclose(f)
    defer { unlink(path) }
    guard let reader = try? CacheReader(location: dir) else { return 0 }
    let s = reader.settings
    let slotBytes = s.height * s.width * 4
    guard slotBytes <= 64 << 20 else { return 0 }
    let slot = UnsafeMutableRawPointer.allocate(byteCount: max(1, slotBytes), alignment: 16)
    defer { slot.deallocate() }
    for e in reader.samples {
        guard reader.entry(e.record.imageID) != nil else { fatalError("sample \(e.record.imageID) not found") }
        if s.format == .raw16 {
            _ = try? reader.readRaw16(e, adjustment: WindowAdjustment(), into: slot, float: false)
            _ = try? reader.readRaw16(e, adjustment: WindowAdjustment(widthScale: 0.5, centerShift: 0.25), into: slot, float: true)
        } else {
            _ = try? reader.read(e, into: slot, codec: codec)
            _ = try? reader.read(e, into: slot, codec: nil)
        }
    }
    return 0
}
