/// What to do with an image that should be there and is not: a ground-truth image without a
/// submission row (`AnnotationIndex.evaluate`), or an annotated image without a DICOM
/// (`Dataset.samples`). One name, `missing`, in every language.
public enum MissingImages: String, Sendable, Equatable, CaseIterable {
    /// An error naming the first few and their count (the default everywhere).
    case error
    /// Leave the image out: of the scoring, or of the dataset (which lists it as skipped).
    case skip
    /// Score it as an image without predictions (evaluation only).
    case empty
}
