// JPEG-LS (ISO 14495-1, PS3.5 A.4.3) straight through CharLS into the caller's buffer: GDCM's
// codec routes the same decoder through several stream copies of the whole image.
#include "cgdcm.h"
#include "shim_error.hpp"

#include <charls/charls.h>

#include <memory>
#include <string>

extern "C" int cgdcm_jpegls_header(const void *data, size_t size, uint32_t *width, uint32_t *height, uint32_t *components,
                                   uint32_t *bits_per_sample) {
    return cgdcm::guard([&]() -> int {
        if (!data || !width || !height || !components || !bits_per_sample) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        std::unique_ptr<charls_jpegls_decoder, void (*)(const charls_jpegls_decoder *)> decoder(charls_jpegls_decoder_create(),
                                                                                               charls_jpegls_decoder_destroy);
        if (!decoder) return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG-LS: cannot create decoder");
        charls_jpegls_errc e = charls_jpegls_decoder_set_source_buffer(decoder.get(), data, size);
        if (e == charls::jpegls_errc::success) e = charls_jpegls_decoder_read_header(decoder.get());
        charls_frame_info info{};
        if (e == charls::jpegls_errc::success) e = charls_jpegls_decoder_get_frame_info(decoder.get(), &info);
        if (e != charls::jpegls_errc::success) return cgdcm::fail(CGDCM_ERR_DECODE, std::string("JPEG-LS: ") + charls_get_error_message(e));
        *width = info.width;
        *height = info.height;
        *components = static_cast<uint32_t>(info.component_count);
        *bits_per_sample = static_cast<uint32_t>(info.bits_per_sample);
        return CGDCM_OK;
    });
}

namespace {

/// Whether the stream ends with EOI (FFD9), after the fragment's zero padding (PS3.5 A.4).
bool ends_with_eoi(const unsigned char *p, size_t size) {
    while (size > 0 && p[size - 1] == 0) --size;
    return size >= 2 && p[size - 2] == 0xFF && p[size - 1] == 0xD9;
}

}  // namespace

extern "C" int cgdcm_jpegls_decode(const void *data, size_t size, uint32_t rows, uint32_t columns, int bytes_per_sample,
                                   void *out, size_t expected) {
    return cgdcm::guard([&]() -> int {
        if (!data || !out || (bytes_per_sample != 1 && bytes_per_sample != 2)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "bad argument");
        // A scan cut short without EOI makes Debian's CharLS 2.4.1 read past its end one bit at a
        // time until a 32-bit count wraps (seconds on a 1 KB stream). Ending such a stream with
        // EOI makes CharLS stop at the marker and report the stream as invalid at once.
        std::string terminated;
        if (!ends_with_eoi(static_cast<const unsigned char *>(data), size)) {
            terminated.assign(static_cast<const char *>(data), size);
            terminated += "\xFF\xD9";
            data = terminated.data();
            size = terminated.size();
        }
        std::unique_ptr<charls_jpegls_decoder, void (*)(const charls_jpegls_decoder *)> decoder(charls_jpegls_decoder_create(),
                                                                                               charls_jpegls_decoder_destroy);
        if (!decoder) return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG-LS: cannot create decoder");
        auto failed = [](charls_jpegls_errc e) {
            return cgdcm::fail(CGDCM_ERR_DECODE, std::string("JPEG-LS: ") + charls_get_error_message(e));
        };
        charls_jpegls_errc e = charls_jpegls_decoder_set_source_buffer(decoder.get(), data, size);
        if (e != charls::jpegls_errc::success) return failed(e);
        if ((e = charls_jpegls_decoder_read_header(decoder.get())) != charls::jpegls_errc::success) return failed(e);
        charls_frame_info info{};
        if ((e = charls_jpegls_decoder_get_frame_info(decoder.get(), &info)) != charls::jpegls_errc::success) return failed(e);
        if (info.width != columns || info.height != rows || info.component_count != 1 ||
            info.bits_per_sample > 8 * bytes_per_sample || (bytes_per_sample == 2) != (info.bits_per_sample > 8)) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG-LS stream is " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                                                     ", " + std::to_string(info.component_count) + " component(s) of " +
                                                     std::to_string(info.bits_per_sample) + " bits; the data set says " +
                                                     std::to_string(columns) + "x" + std::to_string(rows) + " monochrome, " +
                                                     std::to_string(8 * bytes_per_sample) + "-bit samples");
        }
        size_t needed = 0;
        if ((e = charls_jpegls_decoder_get_destination_size(decoder.get(), 0, &needed)) != charls::jpegls_errc::success) return failed(e);
        if (needed != expected) return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG-LS: decoded size " + std::to_string(needed) + ", expected " + std::to_string(expected));
        if ((e = charls_jpegls_decoder_decode_to_buffer(decoder.get(), out, expected, 0)) != charls::jpegls_errc::success) return failed(e);
        return CGDCM_OK;
    });
}
