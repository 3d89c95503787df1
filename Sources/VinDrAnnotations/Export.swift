import VinDrBoxes

/// Detection targets written for training tools: COCO JSON, YOLO label files, a Kaggle
/// submission and a consensus CSV, from an annotation index, per reader or under the consensus
/// rules (`ConsensusRules`). The library makes the files' text; callers (CLI, C ABI) write it.
/// Coordinates are written as the shortest decimal that reads back as the same Double, so a box
/// that was not merged keeps the value it was read with.
public enum Export {
    /// The class list of an export: the 14 Kaggle finding classes (ids 0-13, the competition's)
    /// or the 22 local labels of the taxonomy (ids 0-21).
    public enum Classes: String, Sendable, CaseIterable {
        case kaggle, local

        /// The labels in class-id order.
        public var labels: [Label] {
            switch self {
            case .kaggle: Taxonomy.kaggleClasses.filter { $0.kind == .local }
            case .local: Taxonomy.labels.filter { $0.kind == .local }
            }
        }
    }

    /// What to export and how readers are combined.
    public struct Options: Sendable {
        public var boxes: BoxConsensus
        public var classes: Classes
        public var filter: ReaderFilter
        /// Readers needed for a label (and its boxes) under `.fused` (`ConsensusRules`).
        public var minimumVotes: Int

        public init(boxes: BoxConsensus = .fused(iouThreshold: 0.4, confidenceType: .avg), classes: Classes = .kaggle,
                    filter: ReaderFilter = ReaderFilter(), minimumVotes: Int = 2) {
            self.boxes = boxes
            self.classes = classes
            self.filter = filter
            self.minimumVotes = minimumVotes
        }
    }

    /// COCO detection JSON: images (ids from 1, `<image_id>.dicom`, width/height when known),
    /// annotations (ids from 1; bbox x, y, width, height in source pixels, area, score) and
    /// categories (ids from 1 in class order, as COCO tools expect; a YOLO class k is COCO
    /// category k + 1).
    public static func coco(_ index: AnnotationIndex, _ options: Options = Options()) throws -> String {
        try cocoJSON(index.images.map { ($0, "\($0.id).dicom", $0.width, $0.height, nil) }, options)
    }

    /// COCO detection JSON of rendered images (`images` in their order): file names and sizes of
    /// the rendered files, boxes in rendered pixels (`RenderedImage.map`).
    public static func coco(_ index: AnnotationIndex, rendered images: [RenderedImage], _ options: Options = Options()) throws -> String {
        try cocoJSON(try images.map { r in
            guard let record = index.image(r.imageID) else { throw VinDrError(.argument, "image \(r.imageID) is not in the annotations") }
            return (record, r.fileName, r.width, r.height, r)
        }, options)
    }

    static func cocoJSON(_ entries: [(ImageRecord, String, Int?, Int?, RenderedImage?)], _ options: Options) throws -> String {
        let classID = classIDs(options.classes)
        var images = [JSONValue](), annotations = [JSONValue]()
        for (k, (image, fileName, width, height, rendered)) in entries.enumerated() {
            var fields: [(String, JSONValue)] = [("id", .integer(k + 1)), ("file_name", .string(fileName))]
            if let w = width, let h = height { fields += [("width", .integer(w)), ("height", .integer(h))] }
            images.append(.object(fields))
            let d = try image.consensusBoxes(options.boxes, minimumVotes: options.minimumVotes, filter: options.filter)
            for i in 0..<d.count {
                guard let c = classID[d.labels[i]] else { continue }
                var b = d.boxes[i]
                if let rendered {
                    guard let m = rendered.map(b) else { continue }
                    b = m
                }
                annotations.append(.object([
                    ("id", .integer(annotations.count + 1)), ("image_id", .integer(k + 1)), ("category_id", .integer(c + 1)),
                    ("bbox", .array([.number(b.x1), .number(b.y1), .number(b.width), .number(b.height)])),
                    ("area", .number(b.area)), ("iscrowd", .integer(0)), ("score", .number(d.scores[i])),
                ]))
            }
        }
        let categories: [JSONValue] = options.classes.labels.enumerated().map {
            .object([("id", .integer($0.offset + 1)), ("name", .string($0.element.name))])
        }
        return JSONValue.object([("images", .array(images)), ("annotations", .array(annotations)),
                                 ("categories", .array(categories))]).text + "\n"
    }

    /// YOLO label files: (file name, text) for `<image_id>.txt` per image (one
    /// `class cx cy w h` line per box, normalised by the image size) and `classes.txt`. Every image
    /// needs its size (AnnotationIndex.setImageSize, `loadImageSizes`, or the DICOM headers).
    public static func yolo(_ index: AnnotationIndex, _ options: Options = Options()) throws -> [(name: String, text: String)] {
        let classID = classIDs(options.classes)
        var files: [(name: String, text: String)] = []
        for image in index.images {
            guard let w = image.width, let h = image.height else {
                throw VinDrError(.argument, "no size for image \(image.id): YOLO needs every image's width and height")
            }
            let d = try image.consensusBoxes(options.boxes, minimumVotes: options.minimumVotes, filter: options.filter)
            var text = ""
            for i in 0..<d.count {
                guard let c = classID[d.labels[i]] else { continue }
                text += try YOLOLabel(classID: c, pixelBox: d.boxes[i], width: w, height: h).line + "\n"
            }
            files.append(("\(image.id).txt", text))
        }
        files.append(("classes.txt", options.classes.labels.map(\.name).joined(separator: "\n") + "\n"))
        return files
    }

    /// The YOLO label file of one rendered image: `class cx cy w h` per box, the box mapped to
    /// rendered pixels (`RenderedImage.map`) and normalised by the rendered size.
    public static func yoloLabels(_ index: AnnotationIndex, rendered r: RenderedImage, _ options: Options = Options()) throws -> String {
        guard let image = index.image(r.imageID) else { throw VinDrError(.argument, "image \(r.imageID) is not in the annotations") }
        let classID = classIDs(options.classes)
        let d = try image.consensusBoxes(options.boxes, minimumVotes: options.minimumVotes, filter: options.filter)
        var text = ""
        for i in 0..<d.count {
            guard let c = classID[d.labels[i]], let b = r.map(d.boxes[i]) else { continue }
            text += try YOLOLabel(classID: c, pixelBox: b, width: r.width, height: r.height).line + "\n"
        }
        return text
    }

    /// The ultralytics dataset file (docs.ultralytics.com/datasets/detect): the dataset root
    /// `path`, the `train` and `val` image folders relative to it, `nc` and `names` as a mapping
    /// class id -> name. Strings are written double-quoted (YAML 1.2 escapes).
    public static func yoloDataYAML(path: String, train: String, val: String, classes: Classes) -> String {
        func quoted(_ s: String) -> String {
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 || u.value == 0x7F {
                        let hex = String(u.value, radix: 16)
                        out += "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
            return out + "\""
        }
        var text = "path: \(quoted(path))\ntrain: \(quoted(train))\nval: \(quoted(val))\nnc: \(classes.labels.count)\nnames:\n"
        for (k, label) in classes.labels.enumerated() { text += "  \(k): \(quoted(label.name))\n" }
        return text
    }

    /// A Kaggle submission of each image's `ImageRecord.kaggleConsensus`: boxes in Kaggle classes
    /// with their scores, and "No finding" as `14 1 0 0 1 1` when it holds.
    public static func submission(_ index: AnnotationIndex, _ options: Options = Options()) throws -> String {
        var submission = Submission()
        for image in index.images {
            submission.imageIDs.append(image.id)
            submission.predictions[image.id] = try image.kaggleConsensus(options.boxes, minimumVotes: options.minimumVotes,
                                                                         filter: options.filter)
        }
        return submission.csvText
    }

    /// A consensus CSV (`image_id,class_name,x_min,y_min,x_max,y_max,score`, the
    /// annotations_test.csv layout plus score): each image's consensus boxes scoring at least
    /// `minimumScore`, then its image-level labels that carry no box ("No finding" and global
    /// labels) with empty box fields. Read back, it is a consensus file: the answer as given.
    public static func consensusCSV(_ index: AnnotationIndex, _ options: Options = Options(), minimumScore: Double = 0) throws -> String {
        var out = "image_id,class_name,x_min,y_min,x_max,y_max,score\n"
        for image in index.images {
            let d = try image.consensusBoxes(options.boxes, minimumVotes: options.minimumVotes, filter: options.filter)
            for i in 0..<d.count where d.scores[i] >= minimumScore {
                let b = d.boxes[i]
                out += "\(image.id),\(csvField(Taxonomy.labels[d.labels[i]].name)),\(b.x1),\(b.y1),\(b.x2),\(b.y2),\(d.scores[i])\n"
            }
            for l in image.consensusLabels(minimumVotes: options.minimumVotes, filter: options.filter)
            where Taxonomy.labels[l].kind == .global {
                out += "\(image.id),\(csvField(Taxonomy.labels[l].name)),,,,,\n"
            }
        }
        return out
    }

    /// Sets image sizes from a CSV with `image_id,width,height` or Kaggle's `image_id,dim0,dim1`
    /// (rows, columns) columns; images not in the index are ignored. Returns how many were set.
    @discardableResult
    public static func loadImageSizes(_ path: String, into index: AnnotationIndex) throws -> Int {
        var columns: (id: Int, width: Int, height: Int)?
        var set = 0
        try CSVReader.forEachRow(path: path) { row in
            guard let c = columns else {
                let names = (0..<row.count).map { row.string($0).lowercased() }
                guard let id = names.firstIndex(of: "image_id") else {
                    throw VinDrError(file: path, line: row.line, reason: "no image_id column")
                }
                if let w = names.firstIndex(of: "width"), let h = names.firstIndex(of: "height") {
                    columns = (id, w, h)
                } else if let h = names.firstIndex(of: "dim0"), let w = names.firstIndex(of: "dim1") {
                    columns = (id, w, h)
                } else {
                    throw VinDrError(file: path, line: row.line, reason: "need width,height or dim0,dim1 columns")
                }
                return
            }
            guard let w = row.double(c.width).flatMap({ Int(exactly: $0) }),
                  let h = row.double(c.height).flatMap({ Int(exactly: $0) }), w > 0, h > 0 else {
                throw VinDrError(file: path, line: row.line, reason: "image size must be two positive integers")
            }
            let id = row.string(c.id)
            if index.position(of: id) != nil {
                try index.setImageSize(id, width: w, height: h)
                set += 1
            }
        }
        return set
    }

    /// taxonomy label index -> class id of `classes`.
    static func classIDs(_ classes: Classes) -> [Int: Int] {
        var out = [Int: Int]()
        for (k, l) in classes.labels.enumerated() { out[l.index] = k }
        return out
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
}

/// An image written by a rendering export: its file name, its rendered size, and where the
/// source landed (rendered = source * scale + offset, the renderer's `RenderGeometry`, so boxes
/// move with the pixels, letterbox included).
public struct RenderedImage: Sendable, Equatable {
    public var imageID: String
    public var fileName: String
    public var width: Int
    public var height: Int
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var scaleX: Double
    public var scaleY: Double
    public var offsetX: Double
    public var offsetY: Double

    public init(imageID: String, fileName: String, width: Int, height: Int, sourceWidth: Int, sourceHeight: Int,
                scaleX: Double, scaleY: Double, offsetX: Double, offsetY: Double) {
        self.imageID = imageID
        self.fileName = fileName
        self.width = width
        self.height = height
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.scaleX = scaleX
        self.scaleY = scaleY
        self.offsetX = offsetX
        self.offsetY = offsetY
    }

    /// A box in source pixels clipped to the source image, then mapped to rendered pixels; nil
    /// when nothing of it is inside the image.
    public func map(_ b: Box) -> Box? {
        let (w, h) = (Double(sourceWidth), Double(sourceHeight))
        let (x1, y1) = (Swift.min(Swift.max(b.x1, 0), w), Swift.min(Swift.max(b.y1, 0), h))
        let (x2, y2) = (Swift.min(Swift.max(b.x2, 0), w), Swift.min(Swift.max(b.y2, 0), h))
        guard x2 > x1, y2 > y1 else { return nil }
        return Box(x1: x1 * scaleX + offsetX, y1: y1 * scaleY + offsetY, x2: x2 * scaleX + offsetX, y2: y2 * scaleY + offsetY)
    }
}
