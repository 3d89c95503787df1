// High-Throughput JPEG 2000 (ISO 15444-15; frames encapsulated per PS3.5 A.4) through OpenJPH,
// with decoding at a reduced resolution level. OpenJPH 0.9 trusts its input (fixed-size arrays
// indexed by marker fields, unchecked tile indices) and ignores marker segments it does not
// implement, so the main and tile-part headers are checked here first (ISO 15444-1 Annex A) and
// anything it would mis-decode is refused.
#include "cgdcm.h"
#include "shim_error.hpp"

#include <openjph/ojph_arch.h>  // first: defines OJPH_EXPORT for the other headers
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>

namespace {

/// What the headers say about the image (component 0).
struct Header {
    uint32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // image area on the reference grid
    uint32_t components = 0, precision = 0, xr = 1, yr = 1;
    bool is_signed = false;
    uint32_t decompositions = 0;
};

uint32_t be16(const unsigned char *p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const unsigned char *p) { return be16(p) << 16 | be16(p + 2); }

std::string hex(uint32_t marker) {
    char s[8];
    std::snprintf(s, sizeof s, "%04X", marker);
    return s;
}

/// Size of [a, b) on the reference grid after `k` halvings (ISO 15444-1 B.5: ceil division).
uint64_t level_size(uint64_t a, uint64_t b, uint32_t k) { return ((b + (1ull << k) - 1) >> k) - ((a + (1ull << k) - 1) >> k); }

/// OpenJPH 0.9 reconstructs a tile wrongly when one of its resolution levels is a single sample
/// that stays a single sample in the low band of the next decomposition level (the tile itself
/// not being 1 x 1): such streams decode losslessly with OpenJPEG, not with OpenJPH. Measured
/// on 2000 random lossless streams from ojph_compress (up to 90 x 90, with and without tiles and
/// image offsets, every progression order, 0-5 levels): this rule names every one OpenJPH
/// mis-decodes and no other. Such tiles are a few samples
/// across; the stream is refused instead of mis-decoded.
std::string single_sample_level(const Header &h, uint64_t xt, uint64_t yt, uint64_t xto, uint64_t yto) {
    for (uint64_t ty = yto; ty < h.y1; ty += yt) {
        uint64_t y0 = std::max<uint64_t>(ty, h.y0), y1 = std::min<uint64_t>(ty + yt, h.y1);
        for (uint64_t tx = xto; tx < h.x1; tx += xt) {
            uint64_t x0 = std::max<uint64_t>(tx, h.x0), x1 = std::min<uint64_t>(tx + xt, h.x1);
            if (x1 - x0 == 1 && y1 - y0 == 1) continue;
            for (uint32_t k = 1; k <= h.decompositions; ++k) {
                if (level_size(x0, x1, k - 1) == 1 && level_size(y0, y1, k - 1) == 1 && level_size(x0, x1, k) == 1 &&
                    level_size(y0, y1, k) == 1) {
                    return "a " + std::to_string(x1 - x0) + "x" + std::to_string(y1 - y0) + " tile is a single sample at decomposition levels " +
                           std::to_string(k - 1) + " and " + std::to_string(k) + ", which OpenJPH 0.9 reconstructs wrongly";
                }
            }
        }
    }
    return "";
}

/// Walks the codestream's marker segments (ISO 15444-1 A.2-A.7). Returns "" and fills `h` when
/// OpenJPH can decode it faithfully, or why not.
std::string check_codestream(const unsigned char *p, size_t n, Header &h) {
    if (n < 4 || be16(p) != 0xFF4F) return "no SOC marker";
    if (be16(p + 2) != 0xFF51) return "SIZ marker does not follow SOC";
    // SIZ (A.5.1): Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz, then
    // Ssiz XRsiz YRsiz per component.
    if (n < 4 + 40) return "truncated SIZ marker segment";
    const unsigned char *s = p + 4;
    uint32_t lsiz = be16(s), csiz = be16(s + 36);
    if (csiz < 1 || csiz > 16384 || lsiz != 38 + 3 * csiz) return "SIZ length " + std::to_string(lsiz) + " does not match its " + std::to_string(csiz) + " components";
    if (4 + static_cast<size_t>(lsiz) > n) return "truncated SIZ marker segment";
    if (!(be16(s + 2) & 0x4000)) return "not an HTJ2K codestream (Rsiz bit 14 is clear, ISO 15444-15 A.2)";
    uint64_t xsiz = be32(s + 4), ysiz = be32(s + 8), xo = be32(s + 12), yo = be32(s + 16);
    uint64_t xt = be32(s + 20), yt = be32(s + 24), xto = be32(s + 28), yto = be32(s + 32);
    if (xo >= xsiz || yo >= ysiz) return "empty image area in SIZ";
    if (xt == 0 || yt == 0 || xto > xo || yto > yo || xto + xt <= xo || yto + yt <= yo) return "tile grid in SIZ does not cover the image (ISO 15444-1 A.5.1)";
    uint64_t tiles = ((xsiz - xto + xt - 1) / xt) * ((ysiz - yto + yt - 1) / yt);
    if (tiles > 65535) return "more than 65535 tiles";
    h.x0 = static_cast<uint32_t>(xo);
    h.y0 = static_cast<uint32_t>(yo);
    h.x1 = static_cast<uint32_t>(xsiz);
    h.y1 = static_cast<uint32_t>(ysiz);
    h.components = csiz;
    h.precision = (s[38] & 0x7F) + 1u;
    h.is_signed = s[38] & 0x80;
    h.xr = s[39];
    h.yr = s[40];
    for (uint32_t c = 0; c < csiz; ++c) {
        const unsigned char *comp = s + 38 + 3 * c;
        if ((comp[0] & 0x7F) > 37 || comp[1] == 0 || comp[2] == 0) return "bad component " + std::to_string(c) + " in SIZ";
    }
    // Main header (A.4.2), up to the first SOT.
    size_t i = 4 + lsiz;
    int cod = 0, qcd_subbands = -1, qcc_subbands = -1;
    uint32_t qccs = 0;
    auto quantization = [](const unsigned char *q, uint32_t len, uint32_t index_bytes, int &subbands) -> std::string {
        // QCD/QCC (A.6.4, A.6.5): Sqcd, then one byte (no quantization) or two (scalar expounded)
        // per subband; scalar derived (one value) is not implemented by OpenJPH.
        if (len < 3 + index_bytes) return "truncated quantization marker segment";
        uint32_t style = q[2 + index_bytes] & 0x1F, body = len - 3 - index_bytes;
        if (style == 0) subbands = static_cast<int>(body);
        else if (style == 2 && body % 2 == 0) subbands = static_cast<int>(body / 2);
        else return "quantization style " + std::to_string(style) + " is not supported by OpenJPH";
        if (subbands < 1 || (subbands - 1) % 3 != 0 || subbands > 97) return "bad quantization marker segment length";
        return "";
    };
    while (true) {
        if (i + 4 > n) return "main header ends before the first tile-part (SOT)";
        uint32_t marker = be16(p + i);
        if (marker == 0xFF90) break;
        uint32_t len = be16(p + i + 2);
        if (len < 2 || i + 2 + len > n) return "marker segment " + hex(marker) + " runs past the end of the codestream";
        const unsigned char *v = p + i + 2;
        switch (marker) {
        case 0xFF52: {  // COD (A.6.1)
            if (++cod > 1 || len < 12) return "bad or repeated COD marker segment";
            uint32_t scod = v[2], order = v[3], layers = be16(v + 4), mct = v[6], levels = v[7];
            uint32_t xcb = v[8], ycb = v[9], style = v[10], wavelet = v[11];
            if (scod > 7 || order > 4 || layers == 0 || mct > (csiz >= 3 ? 1u : 0u)) return "bad COD parameters";
            if (levels > 32 || len != 12 + ((scod & 1) ? levels + 1 : 0)) return "bad COD decomposition levels or length";
            if (xcb > 8 || ycb > 8 || xcb + ycb > 8 || wavelet > 1) return "bad COD code-block size or wavelet";
            if ((style & 0xC0) != 0x40) return "code-blocks are not HT-only (ISO 15444-15 A.4): not supported by OpenJPH";
            if (scod & 1) {
                for (uint32_t r = 1; r <= levels; ++r)
                    if ((v[12 + r] & 0x0F) == 0 || (v[12 + r] >> 4) == 0) return "bad COD precinct size";
            }
            h.decompositions = levels;
            break;
        }
        case 0xFF5C: {  // QCD
            if (qcd_subbands >= 0) return "repeated QCD marker segment";
            std::string why = quantization(v, len, 0, qcd_subbands);
            if (!why.empty()) return why;
            break;
        }
        case 0xFF5D: {  // QCC, at most one per component
            uint32_t index_bytes = csiz < 257 ? 1 : 2;
            int subbands = -1;
            std::string why = quantization(v, len, index_bytes, subbands);
            if (!why.empty()) return why;
            uint32_t comp = index_bytes == 1 ? v[2] : be16(v + 2);
            if (comp >= csiz || ++qccs > csiz || (qcc_subbands >= 0 && subbands != qcc_subbands)) return "bad or repeated QCC marker segment";
            qcc_subbands = subbands;
            break;
        }
        case 0xFF50:  // CAP (ISO 15444-15 A.3)
            if (len < 6) return "truncated CAP marker segment";
            break;
        case 0xFF55: case 0xFF56: case 0xFF57: case 0xFF59: case 0xFF63: case 0xFF64:  // TLM PRF PLM CPF CRG COM
            break;
        case 0xFF53: return "COC marker segments are not supported by OpenJPH";
        case 0xFF5E: return "RGN marker segments are not supported by OpenJPH";
        case 0xFF5F: return "POC marker segments are not supported by OpenJPH";
        case 0xFF60: return "PPM marker segments are not supported by OpenJPH";
        default: return "unexpected marker " + hex(marker) + " in the main header";
        }
        i += 2 + len;
    }
    if (cod != 1 || qcd_subbands < 0) return "main header lacks COD or QCD";
    if (static_cast<uint32_t>(qcd_subbands) != 3 * h.decompositions + 1 ||
        (qcc_subbands >= 0 && static_cast<uint32_t>(qcc_subbands) != 3 * h.decompositions + 1)) {
        return "QCD or QCC does not match the COD decomposition levels";
    }
    std::string degenerate = single_sample_level(h, xt, yt, xto, yto);
    if (!degenerate.empty()) return degenerate;
    // Tile-parts (A.4.2): SOT, tile-part header up to SOD, Psot bytes in all; then SOT, or EOC,
    // or the end (zero bytes after it are the fragment's padding, PS3.5 A.4).
    while (i < n) {
        if (i + 2 <= n && be16(p + i) == 0xFFD9) break;
        if (std::all_of(p + i, p + n, [](unsigned char c) { return c == 0; })) break;
        if (i + 12 > n || be16(p + i) != 0xFF90 || be16(p + i + 2) != 10) return "bad SOT marker segment at byte " + std::to_string(i);
        uint32_t tile = be16(p + i + 4), psot = be32(p + i + 6), part = p[i + 10], parts = p[i + 11];
        if (tile >= tiles) return "tile index " + std::to_string(tile) + " out of range";
        if (parts && part >= parts) return "tile-part index out of range";
        // OpenJPH 0.9 takes Psot 0 ("to the end of the codestream") as a negative length.
        if (psot == 0) return "tile-part length Psot 0 (to the end of the codestream) is not supported by OpenJPH";
        if (psot < 14 || psot > n - i) return "tile-part length runs past the end of the codestream";
        size_t end = i + psot;
        size_t j = i + 12;
        while (true) {
            if (j + 2 > end) return "tile-part header without SOD";
            uint32_t marker = be16(p + j);
            if (marker == 0xFF93) break;
            if (marker != 0xFF58 && marker != 0xFF64) return "marker " + hex(marker) + " in a tile-part header is not supported by OpenJPH";
            if (j + 4 > end || be16(p + j + 2) < 2 || j + 2 + be16(p + j + 2) > end) return "truncated tile-part header";
            j += 2 + be16(p + j + 2);
        }
        i = end;
    }
    return "";
}

/// Size of component 0 after skipping `reduce` resolution levels (ISO 15444-1 B.5: ceil division).
void reduced_size(const Header &h, int reduce, uint32_t *w, uint32_t *hgt) {
    uint64_t dx = static_cast<uint64_t>(h.xr) << reduce, dy = static_cast<uint64_t>(h.yr) << reduce;
    *w = static_cast<uint32_t>((h.x1 + dx - 1) / dx - (h.x0 + dx - 1) / dx);
    *hgt = static_cast<uint32_t>((h.y1 + dy - 1) / dy - (h.y0 + dy - 1) / dy);
}

/// The codestream's headers (check_codestream), then `reduce` against its decomposition levels.
int check(const void *data, size_t size, int reduce, Header &h) {
    if (!data) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
    std::string why = check_codestream(static_cast<const unsigned char *>(data), size, h);
    if (!why.empty()) return cgdcm::fail(CGDCM_ERR_DECODE, "HTJ2K: " + why);
    if (reduce < 0 || static_cast<uint32_t>(reduce) > h.decompositions) {
        return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K: reduction " + std::to_string(reduce) + " exceeds the stream's " +
                                                  std::to_string(h.decompositions) + " decomposition levels");
    }
    return CGDCM_OK;
}

/// OpenJPH prints its messages to stdout and stderr and only then throws; they go to /dev/null
/// (the error still surfaces as the exception). Constructing one codestream here also runs its
/// one-time initialisation of global function tables before any decoding thread reads them
/// (create() still stores its code-block decoder in a static member, the same pointer from every
/// thread).
void quiet_openjph() {
    static std::once_flag once;
    std::call_once(once, [] {
        FILE *null = std::fopen("/dev/null", "w");
        FILE *sink = null ? null : stderr;
        ojph::set_info_stream(sink);
        ojph::set_warning_stream(sink);
        ojph::set_error_stream(sink);
        ojph::codestream warm_up;
    });
}

/// Decodes the checked stream with OpenJPH into `out` (see cgdcm_htj2k_decode); OpenJPH reports
/// failures by throwing.
int decode(const void *data, size_t size, int reduce, const Header &h, void *out, size_t width, size_t height,
           int bytes_per_sample) {
    ojph::mem_infile file;
    file.open(static_cast<const ojph::ui8 *>(data), size);
    ojph::codestream cs;
    cs.read_headers(&file);
    if (reduce > 0) cs.restrict_input_resolution(static_cast<ojph::ui32>(reduce), static_cast<ojph::ui32>(reduce));
    ojph::param_siz siz = cs.access_siz();
    if (siz.get_recon_width(0) != width || siz.get_recon_height(0) != height) {
        return cgdcm::fail(CGDCM_ERR_DECODE, "HTJ2K: OpenJPH reconstructs " + std::to_string(siz.get_recon_width(0)) + "x" +
                                                std::to_string(siz.get_recon_height(0)) + ", expected " + std::to_string(width) + "x" +
                                                std::to_string(height));
    }
    cs.create();
    // Reconstructed values beyond the precision's range (lossy overshoot) are clamped, as
    // OpenJPEG does (ISO 15444-1 G.1.2 leaves values outside it undefined).
    int32_t lo = h.is_signed ? -(1 << (h.precision - 1)) : 0;
    int32_t hi = h.is_signed ? (1 << (h.precision - 1)) - 1 : static_cast<int32_t>((1u << h.precision) - 1);
    for (size_t y = 0; y < height; ++y) {
        ojph::ui32 comp = 0;
        ojph::line_buf *line = cs.pull(comp);
        if (!line || comp != 0 || line->size < width) return cgdcm::fail(CGDCM_ERR_DECODE, "HTJ2K: OpenJPH returned no line " + std::to_string(y));
        const int32_t *src = line->i32;
        if (bytes_per_sample == 2) {
            auto *dst = static_cast<uint16_t *>(out) + y * width;
            for (size_t x = 0; x < width; ++x) dst[x] = static_cast<uint16_t>(src[x] < lo ? lo : src[x] > hi ? hi : src[x]);
        } else {
            auto *dst = static_cast<uint8_t *>(out) + y * width;
            for (size_t x = 0; x < width; ++x) dst[x] = static_cast<uint8_t>(src[x] < lo ? lo : src[x] > hi ? hi : src[x]);
        }
    }
    cs.close();
    return CGDCM_OK;
}

}  // namespace

extern "C" {

int cgdcm_htj2k_header(const void *data, size_t size, int reduce, uint32_t *width, uint32_t *height, uint32_t *components,
                       uint32_t *precision, int *is_signed, uint32_t *resolutions) {
    return cgdcm::guard([&]() -> int {
        if (!width || !height || !components || !precision || !is_signed) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        Header h;
        int rc = check(data, size, reduce, h);
        if (resolutions) *resolutions = h.decompositions + 1;  // also when `reduce` is out of range
        if (rc != CGDCM_OK) return rc;
        reduced_size(h, reduce, width, height);
        *components = h.components;
        *precision = h.precision;
        *is_signed = h.is_signed ? 1 : 0;
        return CGDCM_OK;
    });
}

int cgdcm_htj2k_decode(const void *data, size_t size, int reduce, void *out, size_t width, size_t height, int bytes_per_sample) {
    return cgdcm::guard([&]() -> int {
        if (!out || (bytes_per_sample != 1 && bytes_per_sample != 2)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "bad output buffer");
        Header h;
        int rc = check(data, size, reduce, h);
        if (rc != CGDCM_OK) return rc;
        uint32_t w = 0, ht = 0;
        reduced_size(h, reduce, &w, &ht);
        if (h.components != 1 || h.xr != 1 || h.yr != 1 || h.precision > 8u * bytes_per_sample || w != width || ht != height) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "HTJ2K: stream is not one " + std::to_string(width) + "x" + std::to_string(height) +
                                                      " component of at most " + std::to_string(8 * bytes_per_sample) + " bits");
        }
        quiet_openjph();
        try {
            return decode(data, size, reduce, h, out, width, height, bytes_per_sample);
        } catch (const std::exception &) {  // OpenJPH's errors carry no text ("ojph error")
            return cgdcm::fail(CGDCM_ERR_DECODE, "HTJ2K: OpenJPH could not decode the code-block data (corrupt or truncated stream)");
        }
    });
}

}  // extern "C"
