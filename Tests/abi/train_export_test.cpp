// C++ wrappers of the training exports and the COCO summary (vindr.hpp), driven by
// Tests/python/test_abi.py:
//   train_export_test export yolo|coco CSV DICOM_ROOT OUT SIZE [VAL_IDS]  -> train/val/skipped counts
//   train_export_test coco_files GT.csv PRED.csv   -> the 12 stats, then AP per Kaggle class
//   train_export_test coco_arrays BOXES.txt IMAGES LABELS  -> the 12 stats, then AP per label; lines
//       "g image label x1 y1 x2 y2" (ground truth) or "d image label score x1 y1 x2 y2"
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "vindr.hpp"

static void print(const vindr::COCOSummary &s) {
    for (double v : s.stats) std::printf("%.17g ", v);
    std::printf("\n");
    for (double v : s.class_ap) std::printf("%.17g ", v);
    std::printf("\n");
}

int main(int argc, char **argv) {
    try {
        if ((argc == 7 || argc == 8) && std::strcmp(argv[1], "export") == 0) {
            int32_t format = std::strcmp(argv[2], "yolo") == 0 ? VDR_EXPORT_YOLO : VDR_EXPORT_COCO;
            vindr::Annotations ann(argv[3]);
            auto size = static_cast<int32_t>(std::stoi(argv[6]));
            auto r = ann.export_rendered(format, argv[4], argv[5], vindr::RenderOptions().exact(size, size).letterbox(), 2,
                                         argc == 8 ? argv[7] : "");
            std::printf("%zu %zu %zu\n", r.train, r.val, r.skipped);
        } else if (argc == 4 && std::strcmp(argv[1], "coco_files") == 0) {
            print(vindr::coco_evaluate(argv[2], argv[3]));
        } else if (argc == 5 && std::strcmp(argv[1], "coco_arrays") == 0) {
            std::vector<int64_t> gi, gl, di, dl;
            std::vector<double> gb, ds, db;
            std::ifstream in(argv[2]);
            std::string kind;
            while (in >> kind) {
                int64_t image, label;
                double s = 0, x1, y1, x2, y2;
                in >> image >> label;
                if (kind == "d") in >> s;
                in >> x1 >> y1 >> x2 >> y2;
                if (kind == "g") {
                    gi.push_back(image), gl.push_back(label), gb.insert(gb.end(), {x1, y1, x2, y2});
                } else {
                    di.push_back(image), dl.push_back(label), ds.push_back(s), db.insert(db.end(), {x1, y1, x2, y2});
                }
            }
            print(vindr::coco_evaluate(gi, gl, gb, di, dl, ds, db, std::stoul(argv[3]), std::stoul(argv[4])));
        } else {
            std::fprintf(stderr, "usage: see the comment at the top of train_export_test.cpp\n");
            return 2;
        }
    } catch (const vindr::Error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
