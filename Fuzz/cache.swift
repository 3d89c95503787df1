// libFuzzer target: the render-cache reader on an arbitrary cache directory:
//   4-byte little-endian length n, n bytes of index.json, the rest is shard-00000.bin
// Every entry is looked up and read (raw copy or TurboJPEG decode) into an exact-size slot.
@testable import VinDrLoader
import VinDrImaging
#if canImport(Glibc)
import Glibc
#endif

private let dir = "/tmp/vindr-fuzz-cache-\(getpid())"
private let codec = try! GrayJPEG()

private func write(_ name: String, _ p: UnsafePointer<UInt8>, _ n: Int) {
    let f = fopen(dir + "/" + name, "wb")!
    if n > 0 { fwrite(p, 1, n, f) }
    fclose(f)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 4 else { return 0 }
    let n = min(size - 4, Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16 | Int(data[3]) << 24)
    mkdir(dir, 0o700)
    write("index.json", data + 4, n)
    write("shard-00000.bin", data + 4 + n, size - 4 - n)
    defer { unlink(dir + "/index.json"); unlink(dir + "/shard-00000.bin") }
    guard let reader = try? CacheReader(directory: dir) else { return 0 }
    let s = reader.index.settings
    let slotBytes = s.height * s.width
    guard slotBytes <= 64 << 20 else { return 0 }
    let slot = UnsafeMutableRawPointer.allocate(byteCount: max(1, slotBytes), alignment: 16)
    defer { slot.deallocate() }
    for e in reader.index.entries {
        guard let found = reader.entry(e.imageID) else { fatalError("entry \(e.imageID) not found") }
        _ = try? reader.read(found, into: slot, codec: codec)
        _ = try? reader.read(e, into: slot, codec: nil)
    }
    return 0
}
