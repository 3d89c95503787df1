// JPEG 2000 (PS3.5 A.4.4, ISO 15444-1) straight through OpenJPEG: threads and decoding at a
// reduced resolution level, which GDCM's codec does not expose.
#include "cgdcm.h"
#include "shim_error.hpp"

#include <openjpeg-2.5/openjpeg.h>

#include <cstring>
#include <memory>
#include <string>

namespace {

struct MemoryStream {
    const unsigned char *data;
    size_t size;
    size_t pos;
};

OPJ_SIZE_T read_cb(void *buffer, OPJ_SIZE_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (m->pos >= m->size) return (OPJ_SIZE_T)-1;
    size_t k = n < m->size - m->pos ? n : m->size - m->pos;
    std::memcpy(buffer, m->data + m->pos, k);
    m->pos += k;
    return k;
}

OPJ_OFF_T skip_cb(OPJ_OFF_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (n < 0) {
        size_t back = static_cast<size_t>(-n);
        if (back > m->pos) back = m->pos;
        m->pos -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    size_t k = static_cast<size_t>(n) < m->size - m->pos ? static_cast<size_t>(n) : m->size - m->pos;
    m->pos += k;
    return static_cast<OPJ_OFF_T>(k);
}

OPJ_BOOL seek_cb(OPJ_OFF_T n, void *user) {
    auto *m = static_cast<MemoryStream *>(user);
    if (n < 0 || static_cast<size_t>(n) > m->size) return OPJ_FALSE;
    m->pos = static_cast<size_t>(n);
    return OPJ_TRUE;
}

void message_cb(const char *msg, void *user) {
    auto *s = static_cast<std::string *>(user);
    if (s->empty()) *s = msg ? msg : "";
    while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
}

void quiet_cb(const char *, void *) {}

/// One decoding session: codec, stream and image, released together.
struct Session {
    MemoryStream mem{};
    opj_codec_t *codec = nullptr;
    opj_stream_t *stream = nullptr;
    opj_image_t *image = nullptr;
    std::string error;

    ~Session() {
        if (image) opj_image_destroy(image);
        if (stream) opj_stream_destroy(stream);
        if (codec) opj_destroy_codec(codec);
    }

    int fail(const std::string &what) {
        return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG 2000: " + what + (error.empty() ? "" : " (" + error + ")"));
    }

    /// Opens the stream, reads the main header and selects resolution `reduce`.
    int open(const void *data, size_t size, int reduce, int threads, uint32_t *resolutions) {
        if (!data || size < 12) return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG 2000: stream too short");
        const auto *p = static_cast<const unsigned char *>(data);
        static const unsigned char jp2_sig[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20};
        OPJ_CODEC_FORMAT format = std::memcmp(p, jp2_sig, 8) == 0 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K;
        if (format == OPJ_CODEC_J2K && !(p[0] == 0xFF && p[1] == 0x4F)) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG 2000: no SOC marker or JP2 signature");
        }
        mem = MemoryStream{p, size, 0};
        codec = opj_create_decompress(format);
        if (!codec) return fail("cannot create decoder");
        opj_set_error_handler(codec, message_cb, &error);
        opj_set_warning_handler(codec, quiet_cb, nullptr);
        opj_set_info_handler(codec, quiet_cb, nullptr);
        opj_dparameters_t params;
        opj_set_default_decoder_parameters(&params);
        if (!opj_setup_decoder(codec, &params)) return fail("cannot set up decoder");
        if (threads > 1) opj_codec_set_threads(codec, threads);
        stream = opj_stream_create(1 << 20, OPJ_TRUE);
        if (!stream) return fail("cannot create stream");
        opj_stream_set_user_data(stream, &mem, nullptr);
        opj_stream_set_user_data_length(stream, size);
        opj_stream_set_read_function(stream, read_cb);
        opj_stream_set_skip_function(stream, skip_cb);
        opj_stream_set_seek_function(stream, seek_cb);
        if (!opj_read_header(stream, codec, &image)) return fail("cannot read the main header");
        if (image->numcomps < 1) return fail("no components");
        opj_codestream_info_v2_t *info = opj_get_cstr_info(codec);
        uint32_t levels = info ? info->m_default_tile_info.tccp_info[0].numresolutions : 1;
        if (info) opj_destroy_cstr_info(&info);
        if (resolutions) *resolutions = levels;
        if (reduce < 0 || static_cast<uint32_t>(reduce) >= levels) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "JPEG 2000: reduction " + std::to_string(reduce) +
                                                      " not below the stream's " + std::to_string(levels) +
                                                      " resolution levels");
        }
        if (reduce > 0 && !opj_set_decoded_resolution_factor(codec, static_cast<OPJ_UINT32>(reduce))) {
            return fail("cannot set the resolution factor");
        }
        return CGDCM_OK;
    }
};

/// Size of component 0 after `reduce` halvings (ISO 15444-1 B.5: ceil division).
void reduced_size(const opj_image_t *image, int reduce, uint32_t *w, uint32_t *h) {
    const opj_image_comp_t &c = image->comps[0];
    uint32_t x0 = (image->x0 + c.dx - 1) / c.dx, x1 = (image->x1 + c.dx - 1) / c.dx;
    uint32_t y0 = (image->y0 + c.dy - 1) / c.dy, y1 = (image->y1 + c.dy - 1) / c.dy;
    uint32_t d = 1u << reduce;
    *w = (x1 + d - 1) / d - (x0 + d - 1) / d;
    *h = (y1 + d - 1) / d - (y0 + d - 1) / d;
}

}  // namespace

extern "C" {

int cgdcm_j2k_header(const void *data, size_t size, int reduce, uint32_t *width, uint32_t *height,
                     uint32_t *components, uint32_t *precision, int *is_signed, uint32_t *resolutions) {
    return cgdcm::guard([&]() -> int {
        if (!width || !height || !components || !precision || !is_signed) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        }
        Session s;
        int rc = s.open(data, size, reduce, 1, resolutions);
        if (rc != CGDCM_OK) return rc;
        reduced_size(s.image, reduce, width, height);
        *components = s.image->numcomps;
        *precision = s.image->comps[0].prec;
        *is_signed = s.image->comps[0].sgnd ? 1 : 0;
        return CGDCM_OK;
    });
}

int cgdcm_j2k_decode(const void *data, size_t size, int reduce, int threads, void *out, size_t width, size_t height,
                     int bytes_per_sample) {
    return cgdcm::guard([&]() -> int {
        if (!out || (bytes_per_sample != 1 && bytes_per_sample != 2)) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "bad output buffer");
        }
        Session s;
        int rc = s.open(data, size, reduce, threads, nullptr);
        if (rc != CGDCM_OK) return rc;
        if (!opj_decode(s.codec, s.stream, s.image)) return s.fail("decoding failed");
        if (!opj_end_decompress(s.codec, s.stream)) return s.fail("decoding failed at end of stream");
        const opj_image_comp_t &c = s.image->comps[0];
        if (!c.data || c.w != width || c.h != height) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG 2000: decoded " + std::to_string(c.w) + "x" + std::to_string(c.h) +
                                                    ", expected " + std::to_string(width) + "x" + std::to_string(height));
        }
        const OPJ_INT32 *src = c.data;
        size_t n = width * height;
        if (bytes_per_sample == 2) {
            auto *dst = static_cast<uint16_t *>(out);
            for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint16_t>(src[i]);
        } else {
            auto *dst = static_cast<uint8_t *>(out);
            for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i]);
        }
        return CGDCM_OK;
    });
}

}  // extern "C"
