import Dispatch
import VinDrAnnotations
import VinDrBoxes
import VinDrDICOM
import VinDrImaging

/// A dataset folder a detector trains from as it is: every annotated image rendered to an 8-bit
/// grey PNG by the display pipeline (`Renderer`), with its boxes moved by the same geometry as
/// the pixels (`RenderedImage.map`, letterbox included).
///
/// - `.yolo`: the ultralytics layout (docs.ultralytics.com/datasets/detect): `images/train/<id>.png`,
///   `labels/train/<id>.txt` (normalised `class cx cy w h`), the same under `val/` for the
///   validation images, and `data.yaml` (`path`, `train`, `val`, `nc`, `names`). Without
///   validation images everything is in train and `val` names the train folder.
/// - `.coco`: `images/<id>.png` and `annotations.json` (rendered sizes, boxes in rendered pixels,
///   category ids from 1); with validation images, `annotations_train.json` and
///   `annotations_val.json` instead.
///
/// The folder is built under a hidden temporary sibling and renamed into place at the end: it
/// appears complete or not at all.
public enum TrainingExport {
    public enum Format: String, Sendable, CaseIterable {
        case yolo, coco
    }

    public struct Options: Sendable {
        public var format: Format
        /// Which boxes and classes (readers, consensus, class list).
        public var targets: Export.Options
        /// How each image is rendered (the default keeps its own size, with the file's window);
        /// the PNGs are 8-bit and each image is rendered on one thread, so `output` and `threads`
        /// are the export's own.
        public var render: RenderOptions
        /// Render threads; 0 means one per online core.
        public var workers: Int
        /// Image ids written to the validation split (nil or empty: none).
        public var validation: Set<String>?
        /// Annotated images without a DICOM: an error naming them (the default) or skipped.
        public var missing: MissingImages

        public init(format: Format, targets: Export.Options = Export.Options(), render: RenderOptions = RenderOptions(),
                    workers: Int = 0, validation: Set<String>? = nil, missing: MissingImages = .error) {
            self.format = format
            self.targets = targets
            self.render = render
            self.workers = workers
            self.validation = validation
            self.missing = missing
        }

        /// The render options of every image.
        public var renderOptions: RenderOptions {
            var r = render
            r.output = .uint8
            r.threads = 1
            return r
        }

        /// The render options' own ranges (`RenderOptions.validate`), workers 0...256, `missing`
        /// error or skip, min_votes >= 1.
        public func validate() throws {
            guard workers >= 0, workers <= 256 else { throw VinDrError(.argument, "workers \(workers) not in 0...256 (0: one per core)") }
            guard missing != .empty else { throw VinDrError(.argument, "missing=empty is for evaluation; an export takes error or skip") }
            guard targets.minimumVotes >= 1 else { throw VinDrError(.argument, "min_votes must be at least 1, got \(targets.minimumVotes)") }
            try renderOptions.validate()
        }
    }

    public struct Report: Sendable, Equatable {
        /// Images written to each split.
        public var train = 0
        public var val = 0
        /// Annotated images without a DICOM, left out under `missing: .skip`.
        public var skipped: [String] = []
    }

    /// Renders the index's images found under `dicomRoot` (`Dataset` layouts) and writes the
    /// dataset folder `output`, which must be absent or an empty folder. `progress(done, total)`
    /// follows each rendered image.
    public static func write(_ index: AnnotationIndex, dicomRoot: String, to output: String, options: Options,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        try options.validate()
        if let isFolder = FileSystem.isDirectory(output) {
            guard isFolder, try FileSystem.regularFiles(under: output).isEmpty else {
                throw VinDrError(.argument, "\(output): exists and is not an empty folder; choose a new output folder")
            }
        }
        let validation = options.validation ?? []
        if let unknown = validation.sorted().first(where: { index.position(of: $0) == nil }) {
            throw VinDrError(.argument, "validation image \(unknown) is not in the annotations")
        }
        let files = try Dataset.imageFiles(under: dicomRoot)
        var report = Report()
        var todo: [(id: String, path: String, val: Bool)] = []
        for image in index.images {
            guard let path = files[image.id] else {
                report.skipped.append(image.id)
                continue
            }
            todo.append((image.id, path, validation.contains(image.id)))
        }
        if !report.skipped.isEmpty && options.missing == .error {
            throw VinDrError(.io, "\(report.skipped.count) image(s) of the annotations have no DICOM under \(dicomRoot) (looked for <id>.dicom/.dcm), "
                              + "e.g. \(report.skipped.prefix(3).joined(separator: ", ")); missing=skip leaves them out")
        }
        let yolo = options.format == .yolo
        func imageName(_ t: (id: String, path: String, val: Bool)) -> String {
            yolo ? "images/\(t.val ? "val" : "train")/\(t.id).png" : "images/\(t.id).png"
        }

        let tmp = FileSystem.temporaryPath(for: FileSystem.absolute(output))
        do {
            for folder in yolo ? ["images/train", "images/val", "labels/train", "labels/val"] : ["images"] {
                try FileSystem.createDirectories(FileSystem.joined(tmp, folder))
            }
            let rendered = try renderAll(todo.map { ($0.id, $0.path, FileSystem.joined(tmp, imageName($0))) },
                                         options: options, progress: progress)
            let named = zip(todo, rendered).map { t, r in
                var r = r
                r.fileName = yolo ? imageName(t) : "\(t.id).png"  // COCO file_name: relative to images/
                return (t, r)
            }
            if yolo {
                for (t, r) in named {
                    try FileSystem.writeAtomically(Array(try Export.yoloLabels(index, rendered: r, options.targets).utf8),
                                                   to: FileSystem.joined(tmp, "labels/\(t.val ? "val" : "train")/\(t.id).txt"))
                }
                let yaml = Export.yoloDataYAML(path: FileSystem.absolute(output), train: "images/train",
                                               val: validation.isEmpty ? "images/train" : "images/val", classes: options.targets.classes)
                try FileSystem.writeAtomically(Array(yaml.utf8), to: FileSystem.joined(tmp, "data.yaml"))
            } else if validation.isEmpty {
                try FileSystem.writeAtomically(Array(try Export.coco(index, rendered: named.map(\.1), options.targets).utf8),
                                               to: FileSystem.joined(tmp, "annotations.json"))
            } else {
                for (split, isVal) in [("train", false), ("val", true)] {
                    let part = named.filter { $0.0.val == isVal }.map(\.1)
                    try FileSystem.writeAtomically(Array(try Export.coco(index, rendered: part, options.targets).utf8),
                                                   to: FileSystem.joined(tmp, "annotations_\(split).json"))
                }
            }
            try FileSystem.moveFolderIntoPlace(tmp, to: output)
        } catch {
            try? FileSystem.removeTree(tmp)
            throw error
        }
        report.val = todo.filter(\.val).count
        report.train = todo.count - report.val
        return report
    }

    /// Renders each (id, DICOM path, PNG path) on `options.workers` threads; the first failure
    /// in input order is thrown, naming the image and its file.
    static func renderAll(_ items: [(id: String, path: String, png: String)], options: Options,
                          progress: (Int, Int) -> Void) throws -> [RenderedImage] {
        let workers = Swift.max(1, Swift.min(options.workers == 0 ? onlineCores() : options.workers, items.count))
        let render = options.renderOptions
        let lock = Lock()
        var failed = false
        var results = [Result<RenderedImage, Error>?](repeating: nil, count: items.count)
        let chunk = Swift.max(workers * 4, 16)
        var start = 0
        progress(0, items.count)
        while start < items.count && !failed {
            let end = Swift.min(start + chunk, items.count)
            results.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: Swift.min(workers, end - start)) { w in
                    let workspace = RenderWorkspace()
                    var i = start + w
                    while i < end {
                        if lock.withLock({ failed }) { return }
                        let item = items[i]
                        let r = Result { () throws -> RenderedImage in
                            let (pixels, g) = try Renderer.render(try DICOMFile(path: item.path), options: render, workspace: workspace)
                            try FileSystem.writeAtomically(try PNGWriter.encode(pixels, width: g.outputWidth, height: g.outputHeight, channels: 1),
                                                           to: item.png)
                            return RenderedImage(imageID: item.id, fileName: item.png, width: g.outputWidth, height: g.outputHeight,
                                                 sourceWidth: g.sourceWidth, sourceHeight: g.sourceHeight,
                                                 scaleX: g.scaleX, scaleY: g.scaleY, offsetX: g.offsetX, offsetY: g.offsetY)
                        }
                        if case .failure = r { lock.withLock { failed = true } }
                        base[i] = r
                        i += Swift.min(workers, end - start)
                    }
                }
            }
            start = end
            progress(start, items.count)
        }
        var out: [RenderedImage] = []
        out.reserveCapacity(items.count)
        for (item, r) in zip(items, results) {
            switch r {
            case .success(let image)?: out.append(image)
            case .failure(let e)?: throw (e as? VinDrError ?? VinDrError(.internal, "\(e)")).prefixed("image \(item.id) (\(item.path)): ")
            case nil: continue  // left after another image failed, which is thrown
            }
        }
        guard out.count == items.count else { throw VinDrError(.internal, "\(items.count - out.count) image(s) were not rendered") }
        return out
    }
}
