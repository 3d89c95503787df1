#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM

/// How the readers' boxes of an image become its training targets.
public enum BoxPolicy: Sendable, Equatable {
    /// Every included reader's boxes.
    case union
    /// The consensus rules (`BoxConsensus.fused`): boxes of the labels held by
    /// `DatasetOptions.globalMinimumVotes` readers, fused by weighted boxes fusion; none when
    /// "No finding" has a strict majority; a consensus reading's boxes as given.
    case fused(iouThreshold: Double)
    /// Those fused boxes that at least `minimumReaders` readers drew (the box analogue of the
    /// paper's majority vote).
    case majority(iouThreshold: Double, minimumReaders: Int)
    /// One radiologist's boxes (e.g. "R8").
    case reader(String)
    /// Each epoch, one reader drawn at random per image (label-noise augmentation); the draw is
    /// fixed by (seed, epoch, image), like the order.
    case randomReader
}

/// Class indices of the box labels.
public enum ClassSpace: Sendable, Equatable {
    /// Taxonomy index 0..<28 (Taxonomy.labels order).
    case taxonomy
    /// Kaggle VinBigData class id 0...13 (local findings of the competition; others dropped).
    case kaggle
}

/// What a dataset's samples carry.
public struct DatasetOptions: Sendable {
    public var policy: BoxPolicy
    public var classes: ClassSpace
    /// Readers left out of every policy.
    public var excludedReaders: Set<String>
    /// Votes needed for a label to hold: its image-level entry and, under fused policies, its
    /// boxes (2 of 3 readers is the paper's Table 2 rule; `ImageRecord.consensusLabels`).
    public var globalMinimumVotes: Int
    /// Annotated images without a DICOM: an error (the default) or skipped (`.empty` is an error).
    public var missing: MissingImages

    public init(policy: BoxPolicy = .fused(iouThreshold: 0.4), classes: ClassSpace = .taxonomy,
                excludedReaders: Set<String> = [], globalMinimumVotes: Int = 2, missing: MissingImages = .error) {
        self.policy = policy
        self.classes = classes
        self.excludedReaders = excludedReaders
        self.globalMinimumVotes = globalMinimumVotes
        self.missing = missing
    }

    /// Rejects what no dataset can do: fewer than one vote, `missing: .empty` (evaluation only).
    public func validate() throws {
        guard globalMinimumVotes >= 1 else { throw VinDrError(.argument, "global_min_votes must be at least 1, got \(globalMinimumVotes)") }
        guard missing != .empty else { throw VinDrError(.argument, "missing=empty is for evaluation; a dataset takes error or skip") }
    }
}

/// Loader samples for a dataset: the images an annotation index lists, found under a root in
/// the PhysioNet layout (`train/<id>.dicom`, `test/<id>.dicom`), the Kaggle layout
/// (`train/<id>.dicom`), or any folder holding `<id>.dicom` / `<id>.dcm` files.
public enum Dataset {
    /// The samples whose image_id is in `imageIDs`, in their order: one fold of a split of the
    /// dataset's images (`AnnotationIndex.split`).
    public static func select(_ samples: [LoaderSample], imageIDs: Set<String>) -> [LoaderSample] {
        samples.filter { imageIDs.contains($0.imageID) }
    }

    /// The samples of the index's images, in index order; `skipped` lists, in index order, the
    /// annotated images left out because their DICOM is absent (`MissingImages.skip`; with
    /// `.error` any absent DICOM is an error naming the first few and their count).
    public static func samples(root: String, index: AnnotationIndex,
                               options: DatasetOptions = DatasetOptions()) throws -> (samples: [LoaderSample], skipped: [String]) {
        try options.validate()
        let files = try imageFiles(under: root)
        let filter = ReaderFilter(excluded: options.excludedReaders)
        var out: [LoaderSample] = []
        out.reserveCapacity(index.images.count)
        var missing: [String] = []
        for image in index.images {
            guard let path = files[image.id] else {
                missing.append(image.id)
                continue
            }
            var sample = LoaderSample(imageID: image.id, path: path)
            sample.readerIDs = image.readings.filter(filter.includes).compactMap(\.reader)
            switch options.policy {
            case .union:
                (sample.boxes, sample.labels) = targets(try image.consensusBoxes(.all, filter: filter), options.classes)
            case .fused(let iou):
                let fused = try image.consensusBoxes(.fused(iouThreshold: iou, confidenceType: .avg),
                                                     minimumVotes: options.globalMinimumVotes, filter: filter)
                (sample.boxes, sample.labels) = targets(fused, options.classes)
            case .majority(let iou, let minimum):
                let readers = image.readings.filter(filter.includes).count
                let fused = try image.consensusBoxes(.fused(iouThreshold: iou, confidenceType: .avg),
                                                     minimumVotes: options.globalMinimumVotes, filter: filter)
                // A fused box's score is the share of readers in its cluster.
                let keep = fused.scores.indices.filter { fused.scores[$0] * Double(readers) >= Double(minimum) - 1e-9 }
                let kept = try Detections(boxes: keep.map { fused.boxes[$0] }, scores: keep.map { fused.scores[$0] }, labels: keep.map { fused.labels[$0] })
                (sample.boxes, sample.labels) = targets(kept, options.classes)
            case .reader(let id):
                (sample.boxes, sample.labels) = targets(try image.consensusBoxes(.all, filter: ReaderFilter(reader: id)), options.classes)
            case .randomReader:
                sample.readerTargets = try image.readings.filter(filter.includes).map { r in
                    let t = targets(try image.consensusBoxes(.all, filter: ReaderFilter(reader: r.reader)), options.classes)
                    return ReaderTargets(boxes: t.0, labels: t.1, reader: r.reader)
                }
            }
            let labels = image.consensusLabels(minimumVotes: options.globalMinimumVotes, filter: filter)
            sample.globalLabels = (0..<Taxonomy.count).map { labels.contains($0) ? 1 : 0 }
            out.append(sample)
        }
        if !missing.isEmpty && options.missing == .error {
            throw VinDrError(.io, "\(missing.count) image(s) of the annotations have no DICOM under \(root) (looked for <id>.dicom/.dcm), e.g. \(missing.prefix(3).joined(separator: ", ")); missing=skip leaves them out")
        }
        return (out, missing)
    }

    /// Records each indexed image's size from its DICOM header (so rules like "box outside the
    /// image" can be checked); returns how many were joined and the images whose header could
    /// not be read, with the reason.
    public static func joinImageSizes(root: String, index: AnnotationIndex) throws -> (joined: Int, failures: [(String, String)]) {
        let files = try imageFiles(under: root)
        var joined = 0
        var failures: [(String, String)] = []
        for image in index.images {
            guard let path = files[image.id] else { continue }
            do {
                let size = try DICOMFile.imageSize(path: path)
                try index.setImageSize(image.id, width: size.columns, height: size.rows)
                joined += 1
            } catch {
                failures.append((image.id, String(describing: error)))
            }
        }
        return (joined, failures)
    }

    /// image id -> path of every .dicom/.dcm file under `root`.
    static func imageFiles(under root: String) throws -> [String: String] {
        guard FileSystem.isDirectory(root) == true else { throw VinDrError(.io, root, "not a folder") }
        var files: [String: String] = [:]
        for (path, relative) in try FileSystem.dicomFiles([root]) { files[FileSystem.stem(relative)] = path }
        return files
    }

    /// Flat boxes and class indices in the requested class space.
    static func targets(_ d: Detections, _ classes: ClassSpace) -> ([Float], [Int64]) {
        var boxes: [Float] = []
        var labels: [Int64] = []
        for i in 0..<d.count {
            let label: Int?
            switch classes {
            case .taxonomy: label = d.labels[i]
            case .kaggle: label = Taxonomy.labels.indices.contains(d.labels[i]) ? Taxonomy.labels[d.labels[i]].kaggleClassID : nil
            }
            guard let label else { continue }
            let b = d.boxes[i]
            boxes += [Float(b.x1), Float(b.y1), Float(b.x2), Float(b.y2)]
            labels.append(Int64(label))
        }
        return (boxes, labels)
    }
}
