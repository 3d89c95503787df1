// libFuzzer target: de-identification of one file (both profiles), then the output re-opened.
import VinDrDICOM
#if canImport(Glibc)
import Glibc
#endif

private let work = "/tmp/vindr-fuzz-deid-\(getpid())"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    mkdir(work, 0o700)
    let input = work + "/in.dcm"
    let f = fopen(input, "wb")!
    if size > 0 { fwrite(data, 1, size, f) }
    fclose(f)
    for profile in [DeidentificationProfile.vindr, .basic] {
        let output = work + "/out"
        var options = DeidentificationOptions()
        options.profile = profile
        options.salt = "fuzz"
        options.workers = 1
        options.reportJSON = work + "/report.json"
        options.mappingCSV = work + "/mapping.csv"
        if let summary = try? Deidentifier.run(input: input, output: output, options: options) {
            _ = Deidentifier.csvReport(summary)
            for r in summary.records { if let o = r.output { _ = try? DICOMFile(path: o) } }
        }
        if let files = try? FileSystem.regularFiles(under: output) { for (p, _) in files { unlink(p) } }
    }
    unlink(input)
    return 0
}
