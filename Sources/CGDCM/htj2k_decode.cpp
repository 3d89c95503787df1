// High-Throughput JPEG 2000 (ISO 15444-15; DICOM transfer syntaxes 1.2.840.10008.1.2.4.201,
// .202, .203, PS3.5 A.4.11) through OpenJPH: header, reduced resolution, line-by-line decoding.
#include "cgdcm.h"
#include "htj2k_messages.hpp"
#include "isolated_call.hpp"
#include "shim_error.hpp"

#include <openjph/ojph_arch.h>  // first: the other headers use its OJPH_EXPORT
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

/// How long the child process decoding one frame may take (a 6-megapixel frame takes about 0.2 s).
constexpr unsigned kDecodeSeconds = 120;

uint16_t be16(const unsigned char *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint32_t be32(const unsigned char *p) { return static_cast<uint32_t>(be16(p)) << 16 | be16(p + 2); }

/// Quantization entries of a QCD or QCC body (Sqcd, then SPqcd; ISO 15444-1 A.6.4): 1 + 3 x
/// the decomposition levels it covers; -1 when the style or the length does not fit.
int quantization_levels(const unsigned char *body, size_t length) {
    int style = body[0] & 0x1F;
    size_t entry = style == 0 ? 1 : style == 2 ? 2 : 0;
    if (entry == 0 || length < 1 + entry || (length - 1) % (3 * entry) != entry) return -1;
    return static_cast<int>((length - 1 - entry) / (3 * entry));
}

/// What OpenJPH 0.9 reads without checking, checked before it reads: the main header (ISO
/// 15444-1 A.5, A.6) must be SIZ then marker segments OpenJPH knows, each inside the stream, up
/// to the first SOT; one component at full sampling, an image area inside the reference grid, a
/// grid of at most 65535 tiles covering it (A.5.1); one COD, one QCD and at most one QCC whose
/// decomposition levels (at most 32) agree, a known progression order, code-blocks of at most
/// 4096 samples and precincts of at least 2x2 above level 0 (A.6.1). OpenJPH copies COD and QCD
/// into fixed arrays for 32 levels and indexes its tiles with a tile-part's Isot (A.4.2)
/// unchecked at the tile count; it finds each SOT by scanning for the marker, so every SOT-like
/// sequence (FF90, Lsot 10) after the main header is checked. OpenJPH also decodes a stream cut
/// inside a tile-part as if the rest were there, so each tile-part's length Psot must fit the
/// stream. "" when the stream passes, else why not; `layout` then holds what the stream declares.
struct Layout {
    uint64_t tiles = 0, tile_width = 0;
    int levels = 0;
};
std::string stream_problem(const unsigned char *p, size_t size, Layout &layout) {
    if (!p || size < 4 || be16(p) != 0xFF4F || be16(p + 2) != 0xFF51) return "no SOC and SIZ markers";
    if (size < 4 + 41) return "stream ends in its SIZ marker segment";
    if (be16(p + 4) != 41) return "SIZ is not that of one component";
    const unsigned char *siz = p + 6;  // Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, Ssiz, XRsiz, YRsiz
    if (be16(siz + 34) != 1) return std::to_string(be16(siz + 34)) + " components; only monochrome is supported";
    if (siz[37] != 1 || siz[38] != 1) return "component subsampled " + std::to_string(siz[37]) + "x" + std::to_string(siz[38]);
    uint64_t xsiz = be32(siz + 2), ysiz = be32(siz + 6), x0 = be32(siz + 10), y0 = be32(siz + 14);
    uint64_t tw = be32(siz + 18), th = be32(siz + 22), tx0 = be32(siz + 26), ty0 = be32(siz + 30);
    if (x0 >= xsiz || y0 >= ysiz) return "SIZ image offset outside the image";
    if (tw == 0 || th == 0 || tx0 > x0 || ty0 > y0 || tx0 + tw <= x0 || ty0 + th <= y0) return "SIZ tile grid does not cover the image";
    uint64_t tiles = (xsiz - tx0 + tw - 1) / tw * ((ysiz - ty0 + th - 1) / th);
    if (tiles > 65535) return std::to_string(tiles) + " tiles, more than the 65535 a codestream can index (A.4.2)";
    layout.tiles = tiles;
    layout.tile_width = tw < xsiz - x0 ? tw : xsiz - x0;
    static const unsigned char known[] = {0x50, 0x52, 0x53, 0x55, 0x56, 0x57, 0x59, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x63, 0x64};
    int cod_levels = -1, qcd_levels = -1, qcc_levels = -1, cods = 0, qcds = 0, qccs = 0;
    size_t pos = 2 + 2 + 41;
    while (true) {
        if (pos + 4 > size) return "stream ends in its main header";
        if (p[pos] != 0xFF) return "no marker at byte " + std::to_string(pos) + " of the main header";
        unsigned char m = p[pos + 1];
        if (m == 0x90) break;
        if (std::memchr(known, m, sizeof known) == nullptr) {
            char name[8];
            std::snprintf(name, sizeof name, "FF%02X", m);
            return std::string("unexpected marker ") + name + " in the main header";
        }
        size_t length = be16(p + pos + 2);
        if (length < 2 || pos + 2 + length > size) return "marker segment runs past the stream";
        const unsigned char *body = p + pos + 4;
        size_t n = length - 2;
        if (m == 0x52) {  // COD
            ++cods;
            if (n < 10) return "COD too short";
            int levels = body[5];
            if (n != 10 + ((body[0] & 1) ? 1 + static_cast<size_t>(levels) : 0) || levels > 32) return "COD malformed";
            if (body[1] > 4 || be16(body + 2) == 0 || body[6] > 8 || body[7] > 8 || body[6] + body[7] > 8 || body[9] > 1) {
                return "COD progression, layers, code-block size or transform invalid";
            }
            if (body[0] & 1) {
                for (int r = 1; r <= levels; ++r)
                    if ((body[10 + r] & 0x0F) == 0 || (body[10 + r] >> 4) == 0) return "COD precinct size invalid";
            }
            cod_levels = layout.levels = levels;
        } else if (m == 0x5C) {  // QCD
            ++qcds;
            if (n < 1 || (qcd_levels = quantization_levels(body, n)) < 0) return "QCD malformed";
        } else if (m == 0x5D) {  // QCC (one component: Cqcc is one byte)
            ++qccs;
            if (n < 2 || body[0] != 0 || (qcc_levels = quantization_levels(body + 1, n - 1)) < 0) return "QCC malformed";
        }
        pos += 2 + length;
    }
    if (cods != 1 || qcds != 1 || qccs > 1 || cod_levels != qcd_levels || (qccs && qcc_levels != cod_levels)) {
        return "main header needs one COD, one QCD and at most one QCC for the same decomposition levels";
    }
    for (size_t at = pos; at + 12 <= size && be16(p + at) == 0xFF90;) {  // tile-parts by their Psot
        uint32_t length = be32(p + at + 6);
        if (length == 0) {  // the last tile-part, up to EOC
            if (be16(p + size - 2) != 0xFFD9) return "truncated: the last tile-part has no EOC after it";
            break;
        }
        if (length < 14 || length > size - at) {
            return "truncated: the tile-part at byte " + std::to_string(at) + " has " + std::to_string(length) + " bytes, the stream " +
                   std::to_string(size - at) + " from there";
        }
        at += length;
    }
    for (; pos + 6 <= size; ++pos) {  // memchr: a byte-by-byte scan took a tenth of a frame's decode
        const void *mark = std::memchr(p + pos, 0xFF, size - 5 - pos);
        if (!mark) break;
        pos = static_cast<size_t>(static_cast<const unsigned char *>(mark) - p);
        if (p[pos + 1] != 0x90 || be16(p + pos + 2) != 10) continue;
        uint16_t index = be16(p + pos + 4);
        if (index >= tiles) return "tile-part of tile " + std::to_string(index) + " in a stream of " + std::to_string(tiles) + " tiles";
    }
    return "";
}

/// One decoding session over a stream in memory; `open` reads the main header and selects
/// resolution reduction `reduce`.
struct Session {
    ojph::mem_infile file;
    ojph::codestream cs;

    void open(const void *data, size_t size, int reduce, uint32_t *decompositions) {
        const auto *p = static_cast<const unsigned char *>(data);
        Layout layout;
        std::string problem = stream_problem(p, size, layout);
        if (!problem.empty()) throw std::runtime_error(problem);
        file.open(p, size);
        cs.read_headers(&file);
        uint32_t levels = cs.access_cod().get_num_decompositions();
        if (decompositions) *decompositions = levels;
        if (reduce < 0 || static_cast<uint32_t>(reduce) > levels) {
            throw std::runtime_error("reduction " + std::to_string(reduce) + " beyond the stream's " + std::to_string(levels) +
                                     " decomposition levels");
        }
        cs.restrict_input_resolution(static_cast<ojph::ui32>(reduce), static_cast<ojph::ui32>(reduce));
    }
};

/// Runs `body`, turning OpenJPH's errors into CGDCM_ERR_DECODE.
template <typename F> int run(F &&body) { return cgdcm::htj2k_run(std::forward<F>(body), CGDCM_ERR_DECODE); }

/// Decodes into `out` in this process (the child of `cgdcm_htj2k_decode`).
int decode_frame(const void *data, size_t size, int reduce, void *out, size_t width, size_t height, int bytes_per_sample) {
    return run([&]() -> int {
        Session s;
        s.open(data, size, reduce, nullptr);
        ojph::param_siz siz = s.cs.access_siz();
        if (siz.get_recon_width(0) != width || siz.get_recon_height(0) != height) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "HTJ2K: stream is " + std::to_string(siz.get_recon_width(0)) + "x" +
                                                     std::to_string(siz.get_recon_height(0)) + ", expected " + std::to_string(width) +
                                                     "x" + std::to_string(height));
        }
        // Reconstructed values clamped to the stream's sample range (the irreversible path can
        // overshoot it; OpenJPEG clamps the same way, ISO 15444-1 G.1.2), then kept in the low
        // bytes_per_sample bytes (two's complement).
        const uint32_t bits = siz.get_bit_depth(0);
        const bool sgnd = siz.is_signed(0);
        const int64_t lo = sgnd ? -(int64_t(1) << (bits - 1)) : 0;
        const int64_t hi = sgnd ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
        s.cs.create();
        for (size_t y = 0; y < height; ++y) {
            ojph::ui32 component = 0;
            ojph::line_buf *line = s.cs.pull(component);
            if (!line || component != 0 || line->size < width) throw std::runtime_error("line " + std::to_string(y) + " missing");
            const ojph::si32 *src = line->i32;
            if (bytes_per_sample == 2) {
                auto *dst = static_cast<uint16_t *>(out) + y * width;
                for (size_t x = 0; x < width; ++x) {
                    int64_t v = src[x] < lo ? lo : src[x] > hi ? hi : src[x];
                    dst[x] = static_cast<uint16_t>(v);
                }
            } else {
                auto *dst = static_cast<uint8_t *>(out) + y * width;
                for (size_t x = 0; x < width; ++x) {
                    int64_t v = src[x] < lo ? lo : src[x] > hi ? hi : src[x];
                    dst[x] = static_cast<uint8_t>(v);
                }
            }
        }
        return CGDCM_OK;
    });
}

}  // namespace

namespace cgdcm {

std::string &ojph_message() {
    thread_local std::string message;
    return message;
}

namespace {
ssize_t keep_message(void *, const char *buf, size_t size) {
    ojph_message().append(buf, size);
    return static_cast<ssize_t>(size);
}

ssize_t drop_message(void *, const char *, size_t size) { return static_cast<ssize_t>(size); }
}  // namespace

void route_ojph_messages() {
    static std::once_flag once;
    std::call_once(once, [] {
        FILE *errors = fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, keep_message, nullptr, nullptr});
        FILE *others = fopencookie(nullptr, "w", cookie_io_functions_t{nullptr, drop_message, nullptr, nullptr});
        if (!errors || !others) throw std::runtime_error("cannot redirect OpenJPH's messages");
        setvbuf(errors, nullptr, _IONBF, 0);
        setvbuf(others, nullptr, _IONBF, 0);
        ojph::set_error_stream(errors);
        ojph::set_warning_stream(others);
        ojph::set_info_stream(others);
    });
}

}  // namespace cgdcm

extern "C" {

int cgdcm_htj2k_header(const void *data, size_t size, int reduce, uint32_t *width, uint32_t *height,
                       uint32_t *components, uint32_t *precision, int *is_signed, uint32_t *resolutions) {
    return run([&]() -> int {
        if (!width || !height || !components || !precision || !is_signed) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        Session s;
        uint32_t levels = 0;
        s.open(data, size, reduce, &levels);
        ojph::param_siz siz = s.cs.access_siz();
        *width = siz.get_recon_width(0);
        *height = siz.get_recon_height(0);
        *components = siz.get_num_components();
        *precision = siz.get_bit_depth(0);
        *is_signed = siz.is_signed(0) ? 1 : 0;
        if (resolutions) *resolutions = levels + 1;
        return CGDCM_OK;
    });
}

int cgdcm_htj2k_working_size(const void *data, size_t size, uint64_t *bytes) {
    return run([&]() -> int {
        if (!bytes) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        Layout layout;
        std::string problem = stream_problem(static_cast<const unsigned char *>(data), size, layout);
        if (!problem.empty()) throw std::runtime_error(problem);
        // Fitted above OpenJPH 0.9's measured peak: 29-129 KiB per tile for 16-64 px tiles of 1-5
        // levels, about 600 KiB for 2048 x 16 tiles of 3 levels.
        *bytes = layout.tiles * ((static_cast<uint64_t>(layout.levels) + 1) * 32768 + layout.tile_width * 512);
        return CGDCM_OK;
    });
}

int cgdcm_htj2k_decode(const void *data, size_t size, int reduce, void *out, size_t width, size_t height, int bytes_per_sample) {
    if (!out || (bytes_per_sample != 1 && bytes_per_sample != 2)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "bad output buffer");
    if (width != 0 && height > SIZE_MAX / width / static_cast<size_t>(bytes_per_sample)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "output too large");
    // OpenJPH's block decoders assert on code-block bytes (Debian builds them with assertions on),
    // which no header check can rule out: the frame is decoded in a child process.
    return cgdcm::run_isolated("HTJ2K", out, width * height * static_cast<size_t>(bytes_per_sample), kDecodeSeconds,
                               [&](void *shared) { return decode_frame(data, size, reduce, shared, width, height, bytes_per_sample); });
}

}  // extern "C"
