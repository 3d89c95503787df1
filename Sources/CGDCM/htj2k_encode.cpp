// Lossless High-Throughput JPEG 2000 encoding (ISO/IEC 15444-15; DICOM transfer syntax
// 1.2.840.10008.1.2.4.201, HTJ2K Lossless Only, PS3.5 A.4.11) of one monochrome frame through
// OpenJPH: reversible 5/3 wavelet, no quantisation, one tile, RPCL. The samples come from the
// SDK's own decoders, not from a file, so the encoder runs in this process (decoding untrusted
// code-blocks is what cgdcm_htj2k_decode isolates in a child).
#include "cgdcm.h"
#include "htj2k_messages.hpp"
#include "shim_error.hpp"

#include <openjph/ojph_arch.h>  // first: the other headers use its OJPH_EXPORT
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_params.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace {

/// Decomposition levels: 5 (the usual choice for radiographs), fewer for an image whose shorter
/// side has fewer than 2^5 samples, so that every level still halves something.
ojph::ui32 levels_for(size_t width, size_t height) {
    size_t side = width < height ? width : height;
    ojph::ui32 levels = 0;
    while (levels < 5 && (side >> (levels + 1)) >= 1) ++levels;
    return levels;
}

}  // namespace

extern "C" {

int cgdcm_htj2k_encode(const void *samples, size_t size, size_t width, size_t height, int bytes_per_sample, uint32_t bits,
                       int is_signed, void **out, size_t *out_size) {
    return cgdcm::htj2k_run([&]() -> int {
        if (!samples || !out || !out_size) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        *out = nullptr;
        *out_size = 0;
        if (bytes_per_sample != 1 && bytes_per_sample != 2) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: " + std::to_string(bytes_per_sample) + " bytes per sample (1 or 2)");
        }
        if (width == 0 || height == 0 || width > 0xFFFFFFFFu || height > 0xFFFFFFFFu) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: image size " + std::to_string(width) + "x" + std::to_string(height));
        }
        if (bits < 1 || bits > 8u * static_cast<uint32_t>(bytes_per_sample)) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: " + std::to_string(bits) + " bits in " +
                                                       std::to_string(bytes_per_sample) + "-byte samples");
        }
        size_t pixels = 0, bytes = 0;
        if (__builtin_mul_overflow(width, height, &pixels) || __builtin_mul_overflow(pixels, static_cast<size_t>(bytes_per_sample), &bytes)) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: image size overflows");
        }
        if (bytes != size) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: " + std::to_string(size) + " bytes of samples, " + std::to_string(width) +
                                                       "x" + std::to_string(height) + " need " + std::to_string(bytes));
        }
        ojph::codestream cs;
        cs.set_planar(false);
        ojph::param_siz siz = cs.access_siz();
        siz.set_image_extent(ojph::point(static_cast<ojph::ui32>(width), static_cast<ojph::ui32>(height)));
        siz.set_image_offset(ojph::point(0, 0));
        siz.set_tile_size(ojph::size(static_cast<ojph::ui32>(width), static_cast<ojph::ui32>(height)));
        siz.set_tile_offset(ojph::point(0, 0));
        siz.set_num_components(1);
        siz.set_component(0, ojph::point(1, 1), bits, is_signed != 0);
        ojph::param_cod cod = cs.access_cod();
        cod.set_num_decomposition(levels_for(width, height));
        cod.set_block_dims(64, 64);
        cod.set_progression_order("RPCL");
        cod.set_color_transform(false);
        cod.set_reversible(true);

        ojph::mem_outfile file;
        file.open();
        cs.write_headers(&file);
        // Stored values (sign-extended when signed) go in as they are: OpenJPH applies the DC
        // level shift of unsigned components itself (ISO 15444-1 G.1.2).
        const int64_t lo = is_signed ? -(int64_t(1) << (bits - 1)) : 0;
        const int64_t hi = is_signed ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
        ojph::ui32 component = 0;
        ojph::line_buf *line = cs.exchange(nullptr, component);
        for (size_t y = 0; y < height; ++y) {
            if (!line || component != 0 || line->size < width) throw std::runtime_error("no line buffer for row " + std::to_string(y));
            ojph::si32 *dst = line->i32;
            for (size_t x = 0; x < width; ++x) {
                int64_t v;
                size_t i = y * width + x;
                if (bytes_per_sample == 2) {
                    uint16_t raw;
                    std::memcpy(&raw, static_cast<const unsigned char *>(samples) + 2 * i, 2);
                    v = is_signed ? static_cast<int64_t>(static_cast<int16_t>(raw)) : raw;
                } else {
                    uint8_t raw = static_cast<const uint8_t *>(samples)[i];
                    v = is_signed ? static_cast<int64_t>(static_cast<int8_t>(raw)) : raw;
                }
                if (v < lo || v > hi) {
                    return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: sample " + std::to_string(v) + " at row " + std::to_string(y) +
                                                               ", column " + std::to_string(x) + " outside the " + std::to_string(bits) +
                                                               "-bit " + (is_signed ? "signed" : "unsigned") + " range");
                }
                dst[x] = static_cast<ojph::si32>(v);
            }
            line = cs.exchange(line, component);
        }
        cs.flush();
        const ojph::si64 length = file.tell();
        if (length <= 0) throw std::runtime_error("empty codestream");
        void *copy = std::malloc(static_cast<size_t>(length));
        if (!copy) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K encode: cannot allocate " + std::to_string(length) + " bytes");
        std::memcpy(copy, file.get_data(), static_cast<size_t>(length));
        cs.close();
        *out = copy;
        *out_size = static_cast<size_t>(length);
        return CGDCM_OK;
    }, CGDCM_ERR_DECODE);
}

}  // extern "C"
