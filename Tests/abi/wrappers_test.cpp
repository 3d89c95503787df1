// C++ wrappers beyond DICOM and the loader (vindr.hpp), driven by Tests/python/test_abi.py:
//   wrappers_test wbf BOXES.txt          (lines "model x1 y1 x2 y2 score label") -> fused boxes
//   wrappers_test eval GT.csv PRED.csv [empty]  -> mean AP and per-class AP (empty: missing images
//                                           scored as empty, else an error)
//   wrappers_test annotations CSV SIZES.csv OUT.json  -> image count, sizes set, COCO export
//   wrappers_test dicom FILE.dcm         -> rows and columns (vindr::Dicom built from a char *)
//   wrappers_test kaggle FILE.dcm OUT.raw -> the window_kaggle() uint8 render written to OUT.raw
//   wrappers_test dataset ROOT CSV       -> sample count and the ids skipped with VDR_MISSING_SKIP
//   wrappers_test split CSV FOLDS VALIDATION SEED -> each image's fold, one a line, in index order
//   wrappers_test split_dataset ROOT CSV FOLDS SEED -> per fold, its sample count (Samples::select)
//   wrappers_test cache ROOT CSV OUT PARTS -> raw16 shards of 3 samples at 64 px built as PARTS
//                                           parts then merged; a jittered loader epoch's image ids
//   wrappers_test transcode IN OUT htj2k|explicit-le -> seen, written, failed and not-DICOM counts,
//                                           then the JSON report on a line of its own
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "vindr.hpp"

int main(int argc, char **argv) {
    try {
        if (argc == 3 && std::strcmp(argv[1], "wbf") == 0) {
            std::vector<std::vector<double>> boxes, scores;
            std::vector<std::vector<int64_t>> labels;
            std::ifstream in(argv[2]);
            std::size_t m;
            double x1, y1, x2, y2, s;
            int64_t l;
            while (in >> m >> x1 >> y1 >> x2 >> y2 >> s >> l) {
                if (m >= boxes.size()) boxes.resize(m + 1), scores.resize(m + 1), labels.resize(m + 1);
                boxes[m].insert(boxes[m].end(), {x1, y1, x2, y2});
                scores[m].push_back(s);
                labels[m].push_back(l);
            }
            vindr::Fused f = vindr::weighted_boxes_fusion(boxes, scores, labels, 0.55, 0.0, VDR_CONF_AVG);
            for (std::size_t i = 0; i < f.scores.size(); ++i)
                std::printf("%.17g %.17g %.17g %.17g %.17g %lld\n", f.boxes[4 * i], f.boxes[4 * i + 1], f.boxes[4 * i + 2],
                            f.boxes[4 * i + 3], f.scores[i], static_cast<long long>(f.labels[i]));
        } else if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "eval") == 0) {
            int32_t missing = argc == 5 && std::strcmp(argv[4], "empty") == 0 ? VDR_MISSING_EMPTY : VDR_MISSING_ERROR;
            vindr::Evaluation e = vindr::evaluate(argv[2], argv[3], 0.4, VDR_AP_VOC2010, VDR_GT_AS_GIVEN, nullptr, 0.4, 2, missing);
            std::printf("mean %.17g\n", e.mean_ap);
            for (int c = 0; c < VDR_KAGGLE_CLASS_COUNT; ++c)
                if (!std::isnan(e.ap[c])) std::printf("class %d %.17g %lld\n", c, e.ap[c], static_cast<long long>(e.gt_counts[c]));
        } else if (argc == 5 && std::strcmp(argv[1], "annotations") == 0) {
            vindr::Annotations ann(argv[2]);
            std::printf("images %zu\n", ann.image_count());
            std::printf("sizes %lld\n", static_cast<long long>(ann.load_image_sizes(argv[3])));
            ann.export_to(VDR_EXPORT_COCO, argv[4], VDR_TARGETS_FUSED, 0.5);
            std::vector<uint8_t> labels = ann.labels();
            long ones = 0;
            for (uint8_t v : labels) ones += v;
            std::printf("labels %ld\n", ones);
        } else if (argc == 6 && std::strcmp(argv[1], "split") == 0) {
            vindr::Annotations ann(argv[2]);
            std::vector<int32_t> folds = ann.split(std::strtoull(argv[3], nullptr, 10), std::strtod(argv[4], nullptr),
                                                   std::strtoull(argv[5], nullptr, 10));
            for (int32_t f : folds) std::printf("%d\n", f);
        } else if (argc == 6 && std::strcmp(argv[1], "split_dataset") == 0) {
            vindr::Annotations ann(argv[3]);
            vindr::Samples all = vindr::Samples::from_dataset(argv[2], ann, VDR_MISSING_SKIP, VDR_POLICY_UNION);
            std::size_t k = std::strtoull(argv[4], nullptr, 10);
            std::vector<int32_t> folds = ann.split(k, 0, std::strtoull(argv[5], nullptr, 10));
            std::vector<std::string> ids = ann.image_ids();
            for (std::size_t f = 0; f < k; ++f) {
                std::vector<std::string> chosen;
                for (std::size_t i = 0; i < ids.size(); ++i)
                    if (folds[i] == static_cast<int32_t>(f)) chosen.push_back(ids[i]);
                std::printf("%zu\n", all.select(chosen).size());
            }
        } else if (argc == 3 && std::strcmp(argv[1], "dicom") == 0) {
            vindr::Dicom dcm(argv[2]);
            std::printf("%lld %lld\n", static_cast<long long>(dcm.rows()), static_cast<long long>(dcm.columns()));
        } else if (argc == 4 && std::strcmp(argv[1], "kaggle") == 0) {
            vindr::RenderOptions opts;
            opts.original().window_kaggle();
            std::vector<uint8_t> img = vindr::Dicom(argv[2]).render_u8(opts);
            std::ofstream(argv[3], std::ios::binary).write(reinterpret_cast<const char *>(img.data()), static_cast<std::streamsize>(img.size()));
        } else if (argc == 4 && std::strcmp(argv[1], "dataset") == 0) {
            vindr::Samples s = vindr::Samples::from_dataset(argv[2], vindr::Annotations(argv[3]), VDR_MISSING_SKIP, VDR_POLICY_UNION);
            std::printf("samples %zu\n", s.size());
            for (const std::string &id : s.skipped()) std::printf("skipped %s\n", id.c_str());
        } else if (argc == 6 && std::strcmp(argv[1], "cache") == 0) {
            vindr::Samples s = vindr::Samples::from_dataset(argv[2], vindr::Annotations(argv[3]));
            vindr::RenderOptions render;
            render.exact(64, 64).letterbox();
            vindr::LoaderOptions opts;
            opts.render(render);
            std::size_t parts = std::strtoull(argv[5], nullptr, 10), rendered = 0;
            for (std::size_t i = 0; i < parts; ++i) rendered += vindr::cache_build(s, opts, argv[4], VDR_CACHE_RAW16, 0, 3, i, parts).rendered;
            std::printf("rendered %zu merged %zu\n", rendered, vindr::cache_merge(argv[4]));
            opts.cache(argv[4]).set(VDR_LOPT_WINDOW_JITTER, 0.2).set(VDR_LOPT_SHUFFLE, 0);
            vindr::Loader loader(s, opts);
            loader.start(0);
            while (std::unique_ptr<vindr::Batch> b = loader.next())
                for (std::size_t i = 0; i < b->size(); ++i) std::printf("%s\n", b->target(i, 28).image_id.c_str());
        } else if (argc == 5 && std::strcmp(argv[1], "transcode") == 0) {
            int32_t to = std::strcmp(argv[4], "htj2k") == 0 ? VDR_TRANSCODE_HTJ2K : VDR_TRANSCODE_EXPLICIT_LE;
            vindr::TranscodeReport r = vindr::transcode(argv[2], argv[3], to);
            std::printf("%zu %zu %zu %zu\n%s\n", r.seen, r.written, r.failed, r.not_dicom, r.json.c_str());
        } else {
            std::fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__);
            return 2;
        }
    } catch (const vindr::Error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
