// C++ client of libvindr through include/vindr.h: RAII ownership of the handles, renders a
// float32 image and prints its mean, checks that an error leaves the output handle null.
#include <cstdio>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "vindr.h"

namespace {

struct DicomDestroyer {
    void operator()(vdr_dicom *h) const { vdr_dicom_destroy(h); }
};
struct OptionsDestroyer {
    void operator()(vdr_render_options *h) const { vdr_render_options_destroy(h); }
};

void check(int32_t status) {
    if (status != VDR_OK) throw std::runtime_error(std::string(vdr_status_string(status)) + ": " + vdr_last_error());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    try {
        vdr_dicom *raw = nullptr;
        if (vdr_dicom_open("/nonexistent.dcm", &raw) != VDR_ERR_IO || raw != nullptr) return 3;
        check(vdr_dicom_open(argv[1], &raw));
        std::unique_ptr<vdr_dicom, DicomDestroyer> dcm(raw);
        vdr_render_options *raw_opts = nullptr;
        check(vdr_render_options_create(&raw_opts));
        std::unique_ptr<vdr_render_options, OptionsDestroyer> opts(raw_opts);
        check(vdr_render_options_set_size(opts.get(), VDR_SIZE_LONGEST_SIDE, 0, 256));
        check(vdr_render_options_set_int(opts.get(), VDR_OPT_OUTPUT_TYPE, VDR_DTYPE_FLOAT32));
        check(vdr_render_options_set_window(opts.get(), VDR_WINDOW_AUTO, 0, 0, 0, 0));
        int32_t h = 0, w = 0;
        check(vdr_dicom_render_size(dcm.get(), opts.get(), &h, &w));
        std::vector<float> img(static_cast<size_t>(h) * w);
        check(vdr_dicom_render(dcm.get(), opts.get(), img.data(), img.size() * sizeof(float),
                               static_cast<size_t>(w) * sizeof(float), nullptr));
        double mean = std::accumulate(img.begin(), img.end(), 0.0) / static_cast<double>(img.size());
        std::printf("h=%d w=%d mean=%.6f\n", h, w, mean);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
