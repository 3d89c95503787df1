// A training-loop skeleton in C++: every DICOM in a folder, 512x512 letterboxed batches of 4
// from the native loader, two epochs; prints per-batch ids and mean intensity.
//   loader_loop DIR
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>

#include "vindr.hpp"

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    try {
        vindr::Samples samples;
        std::size_t count = 0;
        for (const auto &entry : std::filesystem::recursive_directory_iterator(argv[1])) {
            auto ext = entry.path().extension().string();
            if (ext != ".dcm" && ext != ".dicom") continue;
            samples.add(entry.path().stem().string(), entry.path().string());
            ++count;
        }
        vindr::LoaderOptions options;
        options.render(vindr::RenderOptions().exact(512, 512).letterbox()).set(VDR_LOPT_BATCH_SIZE, 4).set(VDR_LOPT_WORKERS, 2);
        vindr::Loader loader(samples, options);
        std::printf("%zu images, %zu batches per epoch\n", count, loader.batches_per_epoch());
        for (int epoch = 0; epoch < 2; ++epoch) {
            loader.start(epoch);
            while (auto batch = loader.next()) {
                const auto *px = static_cast<const unsigned char *>(batch->images());
                std::size_t n = batch->size() * 512 * 512;
                double mean = std::accumulate(px, px + n, 0.0) / static_cast<double>(n);
                std::printf("epoch %lld step %lld: %zu images, first %s, mean %.2f\n", static_cast<long long>(batch->epoch()),
                            static_cast<long long>(batch->step()), batch->size(), batch->target(0, 0).image_id.c_str(), mean);
            }
        }
    } catch (const vindr::Error &e) {
        std::fprintf(stderr, "error %d: %s\n", e.status(), e.what());
        return 1;
    }
    return 0;
}
