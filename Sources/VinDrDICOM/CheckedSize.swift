/// Sizes derived from a file's header (Rows, Columns, Number of Frames, Bits Allocated: PS3.3
/// C.7.6.3) or from a caller's arguments are multiplied only through these functions. Swift
/// traps on integer overflow, so an unchecked product of header values is a way to take the
/// host process down; here a negative factor or a product beyond Int.max is an error instead.

/// The product of `factors`, or nil when one is negative or the product overflows Int.
@inlinable public func checkedProduct(_ factors: Int...) -> Int? {
    var product = 1
    for f in factors {
        guard f >= 0 else { return nil }
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        guard !overflow else { return nil }
        product = p
    }
    return product
}

/// The product of `factors`; a DICOMError of `kind` (format by default: the sizes came from the
/// file at `source`) saying what `what` is and what its factors were, when a factor is negative
/// or the product overflows.
public func checkedSize(_ factors: Int..., what: @autoclosure () -> String, source: String,
                        kind: DICOMError.Kind = .format) throws -> Int {
    var product = 1
    for f in factors {
        let (p, overflow) = product.multipliedReportingOverflow(by: f)
        guard f >= 0, !overflow else {
            let list = factors.map(String.init).joined(separator: " x ")
            throw DICOMError(kind, source, "\(what()) = \(list) is \(f < 0 ? "negative" : "too large (overflows a 64-bit size)")")
        }
        product = p
    }
    return product
}
