// vindr.hpp: header-only C++17 RAII wrapper over the VinDr C ABI (include/vindr.h).
//
// Handles are owned by move-only objects that destroy them; every failing call throws
// vindr::Error carrying the status code and the library's message; buffers are spans.
//
//   vindr::Dicom dcm("image.dicom");
//   vindr::RenderOptions opts;
//   opts.longest_side(1024);
//   std::vector<uint8_t> img = dcm.render_u8(opts);
#ifndef VINDR_HPP
#define VINDR_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vindr.h"

namespace vindr {

/// A failed call: `status()` is the VDR_* code, `what()` the message (names the file or tag).
class Error : public std::runtime_error {
  public:
    Error(int32_t status, const std::string &message) : std::runtime_error(message), status_(status) {}
    int32_t status() const noexcept { return status_; }

  private:
    int32_t status_;
};

inline void check(int32_t status) {
    if (status != VDR_OK) {
        std::string message = vdr_last_error();
        throw Error(status, message.empty() ? vdr_status_string(status) : message);
    }
}

/// A contiguous view (the subset of std::span this wrapper needs, for C++17).
template <typename T>
class Span {
  public:
    Span() = default;
    Span(T *data, std::size_t size) : data_(data), size_(size) {}
    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    T &operator[](std::size_t i) const { return data_[i]; }
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

namespace detail {
template <typename T, void (*Destroy)(T *)>
struct Destroyer {
    void operator()(T *p) const noexcept { Destroy(p); }
};
/// Owns one handle of kind T (vdr_dicom, vdr_loader, ...), released by its vdr_*_destroy.
template <typename T, void (*Destroy)(T *)>
using Handle = std::unique_ptr<T, Destroyer<T, Destroy>>;
/// A string the library returned, copied and released.
inline std::string take(char *s) {
    std::unique_ptr<char, Destroyer<char, vdr_string_destroy>> owned(s);
    return s ? std::string(s) : std::string();
}
}  // namespace detail

/// Render options (size, aspect, window, output type, threads).
class RenderOptions {
  public:
    RenderOptions() {
        vdr_render_options *h = nullptr;
        check(vdr_render_options_create(&h));
        h_.reset(h);
    }
    RenderOptions &original() { check(vdr_render_options_set_size(h_.get(), VDR_SIZE_ORIGINAL, 0, 0)); return *this; }
    RenderOptions &exact(int32_t height, int32_t width) { check(vdr_render_options_set_size(h_.get(), VDR_SIZE_EXACT, height, width)); return *this; }
    RenderOptions &longest_side(int32_t n) { check(vdr_render_options_set_size(h_.get(), VDR_SIZE_LONGEST_SIDE, 0, n)); return *this; }
    RenderOptions &letterbox(double pad = 0.0) { check(vdr_render_options_set_aspect(h_.get(), VDR_ASPECT_LETTERBOX, pad)); return *this; }
    RenderOptions &stretch() { check(vdr_render_options_set_aspect(h_.get(), VDR_ASPECT_STRETCH, 0.0)); return *this; }
    RenderOptions &window_dicom() { check(vdr_render_options_set_window(h_.get(), VDR_WINDOW_DICOM, 0, 0, 0, 0)); return *this; }
    RenderOptions &window_auto() { check(vdr_render_options_set_window(h_.get(), VDR_WINDOW_AUTO, 0, 0, 0, 0)); return *this; }
    /// The Kaggle notebooks' read_xray: equal bytes at the original size with uint8 output.
    RenderOptions &window_kaggle() { check(vdr_render_options_set_window(h_.get(), VDR_WINDOW_KAGGLE, 0, 0, 0, 0)); return *this; }
    RenderOptions &window(double center, double width, int32_t function = VDR_VOI_LINEAR) {
        check(vdr_render_options_set_window(h_.get(), VDR_WINDOW_EXPLICIT, center, width, function, 0));
        return *this;
    }
    RenderOptions &percentiles(double low, double high) {
        check(vdr_render_options_set_window(h_.get(), VDR_WINDOW_PERCENTILE, low, high, 0, 0));
        return *this;
    }
    RenderOptions &set(int32_t key, int64_t value) { check(vdr_render_options_set_int(h_.get(), key, value)); return *this; }
    /// Window/level change of the chosen window: width scale, center shift in widths.
    RenderOptions &window_adjustment(double width_scale, double center_shift) {
        check(vdr_render_options_set_window_adjustment(h_.get(), width_scale, center_shift));
        return *this;
    }
    vdr_render_options *get() const noexcept { return h_.get(); }

  private:
    detail::Handle<vdr_render_options, vdr_render_options_destroy> h_;
};

/// output = source * scale + offset, per axis.
struct Transform {
    double scale_x = 1, scale_y = 1, offset_x = 0, offset_y = 0;
};

/// An opened DICOM file. Several threads may render the same Dicom at once.
class Dicom {
  public:
    explicit Dicom(const std::string &path) {
        vdr_dicom *h = nullptr;
        check(vdr_dicom_open(path.c_str(), &h));
        h_.reset(h);
    }
    static Dicom from_memory(const void *data, std::size_t size) {
        vdr_dicom *h = nullptr;
        check(vdr_dicom_open_memory(data, size, &h));
        return Dicom(Adopt{}, h);
    }

    int64_t get_int(int32_t key) const {
        int64_t v = 0;
        check(vdr_dicom_get_int(h_.get(), key, &v));
        return v;
    }
    double get_double(int32_t key, std::size_t index = 0) const {
        double v = 0;
        check(vdr_dicom_get_double(h_.get(), key, index, &v));
        return v;
    }
    std::string get_string(int32_t key) const {
        char *s = nullptr;
        check(vdr_dicom_get_string(h_.get(), key, &s));
        return detail::take(s);
    }
    /// The pixel screening rules as JSON (vdr_dicom_screen_pixels): {"aspect"|"inverted"|
    /// "lateral"|"layout": {"flagged", "value", "threshold"}}.
    std::string screen_pixels() const {
        char *s = nullptr;
        check(vdr_dicom_screen_pixels(h_.get(), &s));
        return detail::take(s);
    }
    int64_t rows() const { return get_int(VDR_ATTR_ROWS); }
    int64_t columns() const { return get_int(VDR_ATTR_COLUMNS); }

    /// Output size of a render with `opts`: {height, width}.
    std::pair<int32_t, int32_t> render_size(const RenderOptions &opts) const {
        int32_t h = 0, w = 0;
        check(vdr_dicom_render_size(h_.get(), opts.get(), &h, &w));
        return {h, w};
    }

    /// Renders into caller memory (rows `row_stride` bytes apart); returns the transform.
    Transform render_into(const RenderOptions &opts, Span<unsigned char> out, std::size_t row_stride) const {
        double t[4];
        check(vdr_dicom_render(h_.get(), opts.get(), out.data(), out.size(), row_stride, t));
        return Transform{t[0], t[1], t[2], t[3]};
    }

    /// Renders as 8-bit (set VDR_OPT_OUTPUT_TYPE to VDR_DTYPE_UINT8, the default).
    std::vector<uint8_t> render_u8(const RenderOptions &opts, Transform *transform = nullptr) const {
        auto hw = render_size(opts);
        std::vector<uint8_t> img(static_cast<std::size_t>(hw.first) * static_cast<std::size_t>(hw.second));
        Transform t = render_into(opts, Span<unsigned char>(img.data(), img.size()), static_cast<std::size_t>(hw.second));
        if (transform) *transform = t;
        return img;
    }

  private:
    struct Adopt {};
    Dicom(Adopt, vdr_dicom *h) : h_(h) {}
    detail::Handle<vdr_dicom, vdr_dicom_destroy> h_;
};

/// A dataset index over annotation and image-label CSVs (PhysioNet or Kaggle layouts).
class Annotations {
  public:
    explicit Annotations(const std::string &path) {
        vdr_annotations *h = nullptr;
        check(vdr_annotations_open(path.c_str(), &h, nullptr));
        h_.reset(h);
    }
    /// Adds another CSV (e.g. image_labels_train.csv after annotations_train.csv).
    void add(const std::string &path) { check(vdr_annotations_add(h_.get(), path.c_str(), nullptr)); }
    std::size_t image_count() const {
        std::size_t n = 0;
        check(vdr_annotations_image_count(h_.get(), &n));
        return n;
    }
    /// Image labels by vote: image_count() x VDR_LABEL_COUNT bytes, 1 where a label holds.
    std::vector<uint8_t> labels(int32_t min_votes = 2) const {
        std::vector<uint8_t> out(image_count() * VDR_LABEL_COUNT);
        check(vdr_annotations_labels(h_.get(), min_votes, nullptr, nullptr, out.data()));
        return out;
    }
    /// Sets image sizes from an image_id,width,height (or dim0,dim1) CSV; returns how many.
    std::size_t load_image_sizes(const std::string &path) {
        std::size_t n = 0;
        check(vdr_annotations_load_image_sizes(h_.get(), path.c_str(), &n));
        return n;
    }
    /// Writes the boxes as VDR_EXPORT_COCO / _YOLO / _SUBMISSION (see vdr_annotations_export).
    void export_to(int32_t format, const std::string &path, int32_t mode = VDR_TARGETS_FUSED, double iou_thr = 0.4,
                   int32_t classes = VDR_EXPORT_CLASSES_KAGGLE, int32_t min_votes = 2) const {
        check(vdr_annotations_export(h_.get(), format, mode, iou_thr, classes, min_votes, nullptr, nullptr, path.c_str()));
    }
    /// Counts of a rendered export (vdr_annotations_export_rendered).
    struct RenderedExport {
        std::size_t train = 0, val = 0, skipped = 0;
    };
    /// Renders the images under `dicom_root` with `render` (default: each image's own size) and
    /// writes a training folder (VDR_EXPORT_YOLO: ultralytics layout with data.yaml;
    /// VDR_EXPORT_COCO: images/ and annotations.json); `val_ids` comma-separated (empty: all train).
    RenderedExport export_rendered(int32_t format, const std::string &dicom_root, const std::string &out_dir,
                                   const RenderOptions &render = RenderOptions(),
                                   std::size_t workers = 0, const std::string &val_ids = "", int32_t mode = VDR_TARGETS_FUSED,
                                   double iou_thr = 0.4, int32_t classes = VDR_EXPORT_CLASSES_KAGGLE, int32_t min_votes = 2,
                                   int32_t missing = VDR_MISSING_ERROR) const {
        RenderedExport r;
        check(vdr_annotations_export_rendered(h_.get(), format, dicom_root.c_str(), out_dir.c_str(), mode, iou_thr, classes, min_votes,
                                              nullptr, nullptr, render.get(), workers,
                                              val_ids.empty() ? nullptr : val_ids.c_str(), missing, &r.train, &r.val, &r.skipped));
        return r;
    }
    /// Image ids in index order.
    std::vector<std::string> image_ids() const {
        char *ids = nullptr;
        check(vdr_annotations_image_ids(h_.get(), &ids));
        std::string text = detail::take(ids);
        std::vector<std::string> out;
        for (std::size_t start = 0; start < text.size();) {
            std::size_t end = text.find('\n', start);
            out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
            if (end == std::string::npos) break;
            start = end + 1;
        }
        return out;
    }
    /// Label-stratified folds of the images, in index order (see vdr_annotations_split): `folds`
    /// k >= 2 with `validation` 0, or `folds` 0 with a validation fraction in (0, 1) (fold 1 is
    /// validation). The same seed gives the same folds as Python and `vindr split`.
    std::vector<int32_t> split(std::size_t folds, double validation = 0, uint64_t seed = 0, int32_t min_votes = 2) const {
        std::vector<int32_t> out(image_count());
        check(vdr_annotations_split(h_.get(), folds, validation, seed, min_votes, nullptr, nullptr, out.data(), out.size()));
        return out;
    }
    vdr_annotations *get() const noexcept { return h_.get(); }

  private:
    detail::Handle<vdr_annotations, vdr_annotations_destroy> h_;
};

/// The paper's Table 2 (see vdr_stats_table): `format` VDR_STATS_TEXT, VDR_STATS_JSON or
/// VDR_STATS_SVG (Figure 4); a null annotations pointer or an empty folder leaves that part out.
inline std::string table2(const Annotations *train, const std::string &train_images, const Annotations *test = nullptr,
                          const std::string &test_images = "", int32_t format = VDR_STATS_TEXT, int32_t min_votes = 2,
                          double iou_thr = 0.4) {
    char *out = nullptr;
    check(vdr_stats_table(train ? train->get() : nullptr, train_images.empty() ? nullptr : train_images.c_str(),
                          test ? test->get() : nullptr, test_images.empty() ? nullptr : test_images.c_str(), min_votes, iou_thr,
                          format, &out));
    return detail::take(out);
}

/// Draws Figure 4 (label distribution) to a .png or .svg file (see vdr_stats_plot).
inline void plot_label_distribution(const std::string &path, const Annotations *train, const Annotations *test = nullptr,
                                    int32_t min_votes = 2) {
    check(vdr_stats_plot(train ? train->get() : nullptr, test ? test->get() : nullptr, min_votes, path.c_str()));
}

/// Fused boxes: 4 coordinates per box, best first.
struct Fused {
    std::vector<double> boxes;
    std::vector<double> scores;
    std::vector<int64_t> labels;
};

/// Weighted boxes fusion over several models (ensemble-boxes 1.0.9 semantics, normalised
/// coordinates): boxes[m] holds 4 values per box of model m, scores[m] and labels[m] one each.
inline Fused weighted_boxes_fusion(const std::vector<std::vector<double>> &boxes, const std::vector<std::vector<double>> &scores,
                                   const std::vector<std::vector<int64_t>> &labels, double iou_thr = 0.55,
                                   double skip_box_thr = 0.0, int32_t conf_type = VDR_CONF_AVG) {
    if (boxes.size() != scores.size() || boxes.size() != labels.size()) throw Error(VDR_ERR_ARGUMENT, "one list per model");
    std::vector<double> b, s;
    std::vector<int64_t> l;
    std::vector<std::size_t> sizes;
    for (std::size_t m = 0; m < boxes.size(); ++m) {
        if (boxes[m].size() != 4 * scores[m].size() || labels[m].size() != scores[m].size())
            throw Error(VDR_ERR_ARGUMENT, "model " + std::to_string(m) + ": 4 coordinates, a score and a label per box");
        b.insert(b.end(), boxes[m].begin(), boxes[m].end());
        s.insert(s.end(), scores[m].begin(), scores[m].end());
        l.insert(l.end(), labels[m].begin(), labels[m].end());
        sizes.push_back(scores[m].size());
    }
    Fused out{std::vector<double>(b.size()), std::vector<double>(s.size()), std::vector<int64_t>(s.size())};
    std::size_t n = 0;
    check(vdr_wbf(b.data(), s.data(), l.data(), sizes.data(), sizes.size(), nullptr, iou_thr, skip_box_thr, conf_type, false,
                  true, out.boxes.data(), out.scores.data(), out.labels.data(), &n, nullptr));
    out.boxes.resize(4 * n);
    out.scores.resize(n);
    out.labels.resize(n);
    return out;
}

/// The competition's metric: mean AP and AP per Kaggle class (NaN when absent from the truth).
struct Evaluation {
    double mean_ap = 0;
    double ap[VDR_KAGGLE_CLASS_COUNT] = {};
    std::size_t gt_counts[VDR_KAGGLE_CLASS_COUNT] = {};
};

/// Scores a Kaggle submission file against a ground-truth CSV (see vdr_evaluate_files); `missing`
/// is VDR_MISSING_ERROR (images without a submission row throw), _SKIP (left out) or _EMPTY.
inline Evaluation evaluate(const std::string &gt_path, const std::string &pred_path, double iou_thr = 0.4,
                           int32_t interp = VDR_AP_VOC2010, int32_t gt_mode = VDR_GT_AS_GIVEN, const char *reader = nullptr,
                           double fuse_iou_thr = 0.4, int32_t min_votes = 2, int32_t missing = VDR_MISSING_ERROR) {
    Evaluation e;
    check(vdr_evaluate_files(gt_path.c_str(), pred_path.c_str(), gt_mode, reader, fuse_iou_thr, min_votes, iou_thr, interp,
                             missing, &e.mean_ap, e.ap, e.gt_counts));
    return e;
}

/// The COCO detection summary (pycocotools COCOeval, bbox): stats in COCOeval.stats order
/// (AP, AP50, AP75, AP small/medium/large, AR@1, AR@10, AR@100, AR small/medium/large; -1 where
/// nothing was scored) and AP@[.5:.95] per class (-1 without ground truth).
struct COCOSummary {
    double stats[VDR_COCO_STAT_COUNT] = {};
    std::vector<double> class_ap;
};

/// The COCO summary of a Kaggle submission file over the 15 Kaggle classes (see vdr_coco_evaluate_files).
inline COCOSummary coco_evaluate(const std::string &gt_path, const std::string &pred_path, int32_t gt_mode = VDR_GT_AS_GIVEN,
                                 const char *reader = nullptr, double fuse_iou_thr = 0.4, int32_t min_votes = 2,
                                 int32_t missing = VDR_MISSING_ERROR) {
    COCOSummary s;
    s.class_ap.resize(VDR_KAGGLE_CLASS_COUNT);
    check(vdr_coco_evaluate_files(gt_path.c_str(), pred_path.c_str(), gt_mode, reader, fuse_iou_thr, min_votes, missing, s.stats,
                                  s.class_ap.data()));
    return s;
}

/// The COCO summary from columns (see vdr_coco_evaluate): boxes hold 4 values (x_min, y_min,
/// x_max, y_max) per entry of the matching image/label (and score) vectors.
inline COCOSummary coco_evaluate(const std::vector<int64_t> &gt_image, const std::vector<int64_t> &gt_label,
                                 const std::vector<double> &gt_boxes, const std::vector<int64_t> &det_image,
                                 const std::vector<int64_t> &det_label, const std::vector<double> &det_scores,
                                 const std::vector<double> &det_boxes, std::size_t n_images, std::size_t n_labels) {
    if (gt_label.size() != gt_image.size() || gt_boxes.size() != 4 * gt_image.size() || det_label.size() != det_image.size() ||
        det_scores.size() != det_image.size() || det_boxes.size() != 4 * det_image.size())
        throw Error(VDR_ERR_ARGUMENT, "one image, label (and score) and 4 coordinates per box");
    COCOSummary s;
    s.class_ap.resize(n_labels);
    check(vdr_coco_evaluate(gt_image.data(), gt_label.data(), gt_boxes.data(), gt_image.size(), det_image.data(), det_label.data(),
                            det_scores.data(), det_boxes.data(), det_image.size(), n_images, n_labels, s.stats, s.class_ap.data()));
    return s;
}

/// One image's targets inside a batch (views valid while the Batch lives).
struct Target {
    std::string image_id;
    Span<const float> boxes;  // 4 floats per box, xyxy output pixels
    Span<const int64_t> labels;
    Span<const float> global_labels;
    Span<const double> transform;  // scale_x, scale_y, offset_x, offset_y, flipped
    Span<const double> window;     // width scale, center shift (VDR_LOPT_WINDOW_JITTER's draw)
};

/// A batch from Loader::next(). `images()` is valid until the loader's next next() call.
class Batch {
  public:
    explicit Batch(vdr_batch *h) : h_(h) {
        int64_t epoch = 0, step = 0;
        check(vdr_batch_counts(h_.get(), &count_, &boxes_, &skipped_, &epoch, &step));
        check(vdr_batch_arrays(h_.get(), &images_, &box_data_, &labels_, &offsets_, &globals_, &transforms_));
        check(vdr_batch_window_adjustments(h_.get(), &windows_));
        epoch_ = epoch;
        step_ = step;
    }
    std::size_t size() const noexcept { return count_; }
    int64_t epoch() const noexcept { return epoch_; }
    int64_t step() const noexcept { return step_; }
    const void *images() const noexcept { return images_; }
    std::size_t skipped() const noexcept { return skipped_; }

    Target target(std::size_t i, std::size_t global_count) const {
        if (i >= size()) throw Error(VDR_ERR_ARGUMENT, "target index out of range");
        std::size_t a = static_cast<std::size_t>(offsets_[i]), b = static_cast<std::size_t>(offsets_[i + 1]);
        Target t;
        t.image_id = id(i);
        t.boxes = Span<const float>(box_data_ ? box_data_ + 4 * a : nullptr, 4 * (b - a));
        t.labels = Span<const int64_t>(labels_ ? labels_ + a : nullptr, b - a);
        t.global_labels = Span<const float>(globals_ ? globals_ + i * global_count : nullptr, global_count);
        t.transform = Span<const double>(transforms_ + 5 * i, 5);
        t.window = Span<const double>(windows_ + 2 * i, 2);
        return t;
    }

  private:
    std::string id(std::size_t i) const {
        char *s = nullptr;
        check(vdr_batch_image_id(h_.get(), i, &s));
        return detail::take(s);
    }

    detail::Handle<vdr_batch, vdr_batch_destroy> h_;
    std::size_t count_ = 0, boxes_ = 0, skipped_ = 0;
    int64_t epoch_ = 0, step_ = 0;
    const void *images_ = nullptr;
    const float *box_data_ = nullptr;
    const int64_t *labels_ = nullptr;
    const int64_t *offsets_ = nullptr;
    const float *globals_ = nullptr;
    const double *transforms_ = nullptr;
    const double *windows_ = nullptr;
};

/// Images and their targets for a loader.
class Samples {
  public:
    Samples() {
        vdr_samples *h = nullptr;
        check(vdr_samples_create(&h));
        h_.reset(h);
    }
    void add(const std::string &image_id, const std::string &path, const std::vector<float> &boxes = {},
             const std::vector<int64_t> &labels = {}, const std::vector<float> &global_labels = {}) {
        if (boxes.size() != 4 * labels.size()) throw Error(VDR_ERR_ARGUMENT, "boxes must hold 4 values per label");
        check(vdr_samples_add(h_.get(), image_id.c_str(), path.c_str(), boxes.data(), labels.data(), labels.size(),
                              global_labels.data(), global_labels.size()));
    }
    /// The samples of the images of `annotations` found under `root` (vdr_samples_from_dataset):
    /// `missing` VDR_MISSING_ERROR throws naming absent DICOMs, VDR_MISSING_SKIP leaves them out
    /// (see skipped()); `policy` VDR_POLICY_* (not READER: it needs a reader id), `classes` VDR_CLASSES_*.
    static Samples from_dataset(const std::string &root, const Annotations &annotations, int32_t missing = VDR_MISSING_ERROR,
                                int32_t policy = VDR_POLICY_FUSED, double iou_thr = 0.4, int32_t classes = VDR_CLASSES_TAXONOMY) {
        vdr_samples *h = nullptr;
        check(vdr_samples_from_dataset(root.c_str(), annotations.get(), policy, iou_thr, 2, nullptr, classes, nullptr, 2, missing, &h));
        return Samples(h);
    }
    std::size_t size() const {
        std::size_t n = 0;
        check(vdr_samples_count(h_.get(), &n));
        return n;
    }
    /// Ids of the annotated images from_dataset skipped because their DICOM is absent.
    std::vector<std::string> skipped() const {
        std::size_t n = 0;
        char *ids = nullptr;
        check(vdr_samples_skipped(h_.get(), &n, &ids));
        std::string text = detail::take(ids);
        std::vector<std::string> out;
        for (std::size_t start = 0; out.size() < n; ) {
            std::size_t end = text.find('\n', start);
            out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
            start = end + 1;
        }
        return out;
    }
    /// The samples whose image is one of `image_ids`, in their order (e.g. one fold of
    /// Annotations::split).
    Samples select(const std::vector<std::string> &image_ids) const {
        std::string text;
        for (const std::string &id : image_ids) text += id + "\n";
        vdr_samples *h = nullptr;
        check(vdr_samples_select(h_.get(), text.c_str(), &h));
        return Samples(h);
    }
    vdr_samples *get() const noexcept { return h_.get(); }

  private:
    explicit Samples(vdr_samples *h) : h_(h) {}
    detail::Handle<vdr_samples, vdr_samples_destroy> h_;
};

/// Loader options: render(RenderOptions) for how images are rendered (an exact size), and
/// set(VDR_LOPT_*, value) for the rest.
class LoaderOptions {
  public:
    LoaderOptions() {
        vdr_loader_options *h = nullptr;
        check(vdr_loader_options_create(&h));
        h_.reset(h);
    }
    LoaderOptions &set(int32_t key, double value) { check(vdr_loader_options_set(h_.get(), key, value)); return *this; }
    LoaderOptions &render(const RenderOptions &options) { check(vdr_loader_options_set_render(h_.get(), options.get())); return *this; }
    /// A cache directory, one shard, or shard paths separated by '\n' (vdr_loader_options_set_cache).
    LoaderOptions &cache(const std::string &dir) { check(vdr_loader_options_set_cache(h_.get(), dir.c_str())); return *this; }
    vdr_loader_options *get() const noexcept { return h_.get(); }

  private:
    detail::Handle<vdr_loader_options, vdr_loader_options_destroy> h_;
};

/// Native loader; one consumer thread.
class Loader {
  public:
    Loader(const Samples &samples, const LoaderOptions &options) {
        vdr_loader *h = nullptr;
        check(vdr_loader_create(samples.get(), options.get(), &h));
        h_.reset(h);
    }
    std::size_t batches_per_epoch() const {
        std::size_t n = 0, bytes = 0;
        check(vdr_loader_shape(h_.get(), &n, &bytes));
        return n;
    }
    void start(int64_t epoch, int64_t step = 0) { check(vdr_loader_start(h_.get(), epoch, step)); }
    /// The next batch, or nullptr at the end of the epoch.
    std::unique_ptr<Batch> next() {
        vdr_batch *b = nullptr;
        check(vdr_loader_next(h_.get(), &b));
        return b ? std::make_unique<Batch>(b) : nullptr;
    }
    void stop() { check(vdr_loader_stop(h_.get())); }

  private:
    detail::Handle<vdr_loader, vdr_loader_destroy> h_;
};

/// Counts of a cache build.
struct CacheReport {
    std::size_t rendered = 0, reused = 0, failed = 0;
};

/// Renders `samples` once into WebDataset shards in `dir` (vdr_cache_build): `format`
/// VDR_CACHE_JPEG (at `quality`), _RAW or _RAW16, `shard_size` samples per shard, only the shards
/// numbered `part_index` modulo `part_count` (then cache_merge when every part is done).
inline CacheReport cache_build(const Samples &samples, const LoaderOptions &options, const std::string &dir,
                               int32_t format = VDR_CACHE_JPEG, int32_t quality = 90, std::size_t shard_size = 1000,
                               std::size_t part_index = 0, std::size_t part_count = 1) {
    CacheReport r;
    check(vdr_cache_build(samples.get(), options.get(), dir.c_str(), format, quality, shard_size, part_index, part_count,
                          nullptr, nullptr, &r.rendered, &r.reused, &r.failed));
    return r;
}

/// Checks a cache built in parts and writes its index.json (vdr_cache_merge); returns the sample count.
inline std::size_t cache_merge(const std::string &dir) {
    std::size_t n = 0;
    check(vdr_cache_merge(dir.c_str(), &n));
    return n;
}

/// Removes burned-in text from one monochrome image of unsigned 16-bit stored values in place
/// (vdr_scrub_text): `height` rows of `width` samples, contiguous. Returns the text mask (1 =
/// text, row-major) and sets `*changed` to the number of pixels changed when given.
inline std::vector<uint8_t> scrub_text(std::vector<uint16_t> &pixels, std::size_t width, std::size_t height,
                                       std::size_t *changed = nullptr) {
    std::vector<uint8_t> mask(pixels.size());
    check(vdr_scrub_text(pixels.data(), pixels.size() * sizeof(uint16_t), width, height, width * sizeof(uint16_t),
                         mask.data(), mask.size(), width, changed));
    return mask;
}

/// Counts of a transcode run (vdr_transcode).
struct TranscodeReport {
    std::size_t seen = 0, written = 0, failed = 0, not_dicom = 0;
    /// Per-file report as JSON (see vdr_transcode).
    std::string json;
};

/// Transcodes a DICOM file or tree losslessly (vdr_transcode; `to`: VDR_TRANSCODE_HTJ2K or
/// VDR_TRANSCODE_EXPLICIT_LE); per-file failures are in the report, not thrown.
inline TranscodeReport transcode(const std::string &input, const std::string &output, int32_t to = VDR_TRANSCODE_HTJ2K,
                                 bool verify = true, int32_t workers = 0) {
    std::size_t counts[4] = {0, 0, 0, 0};
    char *json = nullptr;
    check(vdr_transcode(input.c_str(), output.c_str(), to, verify ? 1 : 0, workers, counts, &json));
    TranscodeReport r;
    r.json = detail::take(json);
    r.seen = counts[0];
    r.written = counts[1];
    r.failed = counts[2];
    r.not_dicom = counts[3];
    return r;
}

}  // namespace vindr

#endif  // VINDR_HPP
