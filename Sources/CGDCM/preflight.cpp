// A structural walk of the data set before GDCM sees it. Debian's GDCM is built with assertions
// enabled, and some truncated or inconsistent files reach an assert() inside it, which aborts
// the whole process. Checking here that every element, item and fragment lies within the file
// (PS3.5 7.1, 7.5, A.4) turns those files into ordinary errors.
#include "attribute_vrs.hpp"
#include "cgdcm.h"
#include "file_bytes.hpp"
#include "meta_repair.hpp"
#include "shim_error.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include <zlib.h>

namespace {

struct Walker {
    const unsigned char *p;
    size_t size;
    bool explicit_vr;
    bool big_endian;
    std::string error;
    // Header-only walks stop at top-level Pixel Data and note Rows/Columns on the way.
    bool stop_at_pixels = false;
    bool reached_pixels = false;
    bool past_meta = false;
    uint16_t rows = 0, columns = 0;
    // Patient's Sex (0010,0040) and Patient's Age (0010,1010) as read (top level only).
    std::string sex, age;
    bool has_sex = false, has_age = false;

    uint16_t u16(size_t at, bool big) const {
        return big ? static_cast<uint16_t>(p[at] << 8 | p[at + 1]) : static_cast<uint16_t>(p[at] | p[at + 1] << 8);
    }
    uint32_t u32(size_t at, bool big) const {
        return big ? static_cast<uint32_t>(u16(at, true)) << 16 | u16(at + 2, true)
                   : u16(at, false) | static_cast<uint32_t>(u16(at + 2, false)) << 16;
    }

    bool fail(const std::string &why, uint16_t g, uint16_t e) {
        char tag[16];
        std::snprintf(tag, sizeof tag, "(%04X,%04X)", g, e);
        error = std::string("element ") + tag + ": " + why;
        return false;
    }

    /// A VR of PS3.5 Table 6.2-1.
    static bool known_vr(const unsigned char *vr) {
        static const char *kinds[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
                                      "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
                                      "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
        for (const char *k : kinds)
            if (std::memcmp(vr, k, 2) == 0) return true;
        return false;
    }

    static bool long_vr(const unsigned char *vr) {
        static const char *kinds[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
        for (const char *k : kinds)
            if (std::memcmp(vr, k, 2) == 0) return true;
        return false;
    }

    /// Walks elements in [pos, end) (end = size for the top level); stops at an item delimiter
    /// when `in_item` and an undefined-length item is being walked. `parent` is the tag of the
    /// enclosing sequence ((group << 16) | element; 0 at the top level).
    bool dataset(size_t &pos, size_t end, bool big, bool explicit_vr_here, int depth, bool undefined_item, uint32_t parent = 0) {
        if (depth > 32) return fail("sequences nested deeper than 32 levels", 0, 0);
        while (pos < end) {
            if (pos + 8 > end) return fail("truncated element header at byte " + std::to_string(pos), 0, 0);
            // The leading group 0002 is always explicit little endian (PS3.10 7.1); anywhere else
            // GDCM reads it in the data set's syntax.
            bool meta = depth == 0 && !past_meta && u16(pos, false) == 0x0002;
            if (depth == 0 && !meta) past_meta = true;
            bool bg = meta ? false : big;
            uint16_t g = u16(pos, bg), e = u16(pos + 2, bg);
            if (g == 0xFFFE && e == 0xE00D) {  // item delimitation
                if (!undefined_item) return fail("item delimiter outside an item", g, e);
                if (u32(pos + 4, bg) != 0) return fail("item delimiter with a non-zero length (PS3.5 7.5.2)", g, e);
                pos += 8;
                return true;
            }
            // Item and delimiter tags belong to sequences (PS3.5 7.5); GDCM asserts on an item
            // tag where it expects an element.
            if (g == 0xFFFE) return fail("item or delimiter tag outside a sequence (PS3.5 7.5)", g, e);
            bool ex = meta ? true : explicit_vr_here;
            if (stop_at_pixels && depth == 0 && g == 0x7FE0 && e == 0x0010) {
                reached_pixels = true;
                return true;
            }
            size_t header;
            uint32_t len;
            bool sequence = false;
            const char *vr_text = ex ? reinterpret_cast<const char *>(p + pos + 4) : nullptr;
            if (ex) {
                const unsigned char *vr = p + pos + 4;
                if (vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z') return fail("invalid VR", g, e);
                // GDCM guesses a length layout for a VR it does not know and then asserts or
                // allocates what the guessed length says.
                if (!known_vr(vr)) return fail(std::string("unknown VR ") + vr_text[0] + vr_text[1] + " (PS3.5 Table 6.2-1)", g, e);
                if (long_vr(vr)) {
                    if (pos + 12 > end) return fail("truncated element header", g, e);
                    header = 12;
                    len = u32(pos + 8, bg);
                } else {
                    header = 8;
                    len = u16(pos + 6, bg);
                }
                sequence = std::memcmp(vr, "SQ", 2) == 0;
                bool un = std::memcmp(vr, "UN", 2) == 0;
                bool pixels = g == 0x7FE0 && e == 0x0010;
                // Undefined lengths belong to SQ, UN and encapsulated Pixel Data (OB/OW) only
                // (PS3.5 7.1.2, A.4); GDCM asserts on any other, and on Pixel Data that is an SQ.
                if (pixels && sequence && len != 0) return fail("Pixel Data with VR SQ", g, e);
                if (len == 0xFFFFFFFFu && !(sequence || un || (pixels && (vr[0] == 'O' && (vr[1] == 'B' || vr[1] == 'W'))))) {
                    return fail(std::string("undefined length on VR ") + vr_text[0] + vr_text[1] + " (PS3.5 7.1.2)", g, e);
                }
                // GDCM reads File Meta Information elements with asserts: an unknown VR, a sequence
                // or an undefined length there aborts the process.
                if (meta && (sequence || len == 0xFFFFFFFFu)) {
                    return fail(std::string("File Meta Information element with VR ") + vr_text[0] + vr_text[1] +
                                    (len == 0xFFFFFFFFu ? " and undefined length" : ""),
                                g, e);
                }
                if (len == 0xFFFFFFFFu && un) sequence = true;
            } else {
                header = 8;
                len = u32(pos + 4, bg);
                sequence = len == 0xFFFFFFFFu;
            }
            // An attribute the SDK reads must carry one of its VRs before GDCM parses it.
            std::string vr_problem = cgdcm::attribute_vr_problem(parent, g, e, vr_text, len);
            if (!vr_problem.empty()) {
                error = vr_problem;
                return false;
            }
            pos += header;
            if (len == 0xFFFFFFFFu) {
                // Undefined-length Pixel Data holds fragments whatever its VR (GDCM reads it so).
                bool fragments = g == 0x7FE0 && e == 0x0010;
                if (fragments || !ex || (vr_text[0] == 'S' && vr_text[1] == 'Q')) {
                    if (!items(pos, end, bg, ex && !fragments, depth, fragments, g, e, true)) return false;
                    continue;
                }
                // UN of undefined length holds Implicit VR Little Endian items (PS3.5 6.2.2),
                // which is how GDCM reads it first; it re-reads a file whose UN items are explicit.
                size_t start = pos;
                if (items(pos, end, bg, false, depth, false, g, e, true)) continue;
                std::string implicit_error = error;
                pos = start;
                if (!items(pos, end, bg, true, depth, false, g, e, true)) {
                    error = implicit_error;
                    return false;
                }
                continue;
            }
            if (len > end - pos) {
                return fail("value length " + std::to_string(len) + " runs past the end of the " +
                                (end == size ? "file" : "enclosing item") + " (" + std::to_string(end - pos) +
                                " bytes left): truncated or corrupt",
                            g, e);
            }
            if (depth == 0 && g == 0x0028 && (e == 0x0010 || e == 0x0011) && len == 2) {
                (e == 0x0010 ? rows : columns) = u16(pos, bg);
            }
            if (depth == 0 && g == 0x0010 && (e == 0x0040 || e == 0x1010) && len <= 64) {
                std::string value(reinterpret_cast<const char *>(p + pos), len);
                while (!value.empty() && (value.back() == ' ' || value.back() == '\0')) value.pop_back();
                (e == 0x0040 ? sex : age) = value;
                (e == 0x0040 ? has_sex : has_age) = true;
            }
            if (sequence) {
                size_t sq = pos;
                if (!items(sq, pos + len, bg, ex, depth, false, g, e, false)) return false;
            }
            pos += len;
        }
        // An item of undefined length ends with its delimiter, inside its sequence (PS3.5 7.5.2);
        // GDCM asserts when the enclosing length runs out first.
        if (undefined_item) return fail("item of undefined length not terminated within its sequence", 0xFFFE, 0xE000);
        return true;
    }

    /// Items of a sequence or encapsulated Pixel Data, up to a sequence delimiter (`delimited`:
    /// undefined length) or `end` (defined length).
    bool items(size_t &pos, size_t end, bool big, bool explicit_vr_here, int depth, bool fragments, uint16_t sg, uint16_t se,
               bool delimited) {
        while (pos < end) {
            if (pos + 8 > end) return fail("truncated item header", sg, se);
            uint16_t g = u16(pos, big), e = u16(pos + 2, big);
            uint32_t len = u32(pos + 4, big);
            pos += 8;
            if (g == 0xFFFE && e == 0xE0DD) {  // sequence delimitation
                // GDCM reads a delimiter's length as a value to allocate: a corrupt one costs gigabytes.
                if (len != 0) return fail("sequence delimiter with a non-zero length (PS3.5 7.5.2)", sg, se);
                return true;
            }
            if (g != 0xFFFE || e != 0xE000) return fail("expected an item tag inside the sequence", sg, se);
            if (len == 0xFFFFFFFFu) {
                if (fragments) return fail("fragment of undefined length", sg, se);
                if (!dataset(pos, end, big, explicit_vr_here, depth + 1, true, static_cast<uint32_t>(sg) << 16 | se)) return false;
                continue;
            }
            if (len > end - pos) return fail("item length " + std::to_string(len) + " runs past the end: truncated or corrupt", sg, se);
            if (!fragments) {
                size_t inner = pos;
                if (!dataset(inner, pos + len, big, explicit_vr_here, depth + 1, false, static_cast<uint32_t>(sg) << 16 | se)) return false;
            }
            pos += len;
        }
        if (delimited) return fail("sequence or encapsulated data not terminated" + std::string(end == size ? ": truncated" : " within its item"), sg, se);
        return true;
    }
};

/// Inflates a Deflated Explicit VR Little Endian data set (PS3.5 A.5: raw deflate, no header).
bool inflate_dataset(const unsigned char *data, size_t size, std::string &out, std::string &why) {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        why = "cannot initialise zlib";
        return false;
    }
    z.next_in = const_cast<unsigned char *>(data);
    z.avail_in = static_cast<uInt>(size);
    int rc = Z_OK;
    char chunk[1 << 16];
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<unsigned char *>(chunk);
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(chunk, sizeof chunk - z.avail_out);
        if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        why = "deflated data set is truncated or corrupt (zlib: " + std::string(z.msg ? z.msg : "incomplete stream") + ")";
        return false;
    }
    return true;
}

}  // namespace

namespace cgdcm {

/// Transfer syntax of a PS3.10 file's bytes, from the meta group's (0002,0010): where the data
/// set starts and whether it is explicit VR, big endian, deflated.
struct Syntax {
    size_t start = 0;
    size_t meta_end = 0;
    bool explicit_vr = true, big = false, deflated = false;
};

static Syntax read_syntax(const unsigned char *p, size_t size) {
    Syntax sx;
    if (size >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) sx.start = 132;
    sx.meta_end = sx.start;
    bool has_syntax = false;
    for (size_t at = sx.start; at + 8 <= size && p[at] == 0x02 && p[at + 1] == 0x00;) {
        bool lv = Walker::long_vr(p + at + 4);
        if (at + (lv ? 12 : 8) > size) break;
        uint32_t len = lv ? (p[at + 8] | p[at + 9] << 8 | p[at + 10] << 16 | static_cast<uint32_t>(p[at + 11]) << 24)
                          : (p[at + 6] | p[at + 7] << 8);
        size_t value = at + (lv ? 12 : 8);
        if (len > size - value) break;
        if (p[at + 2] == 0x10 && p[at + 3] == 0x00) {
            std::string uid(reinterpret_cast<const char *>(p + value), len);
            while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
            if (uid == "1.2.840.10008.1.2") sx.explicit_vr = false;
            if (uid == "1.2.840.10008.1.2.2") sx.big = true;
            sx.deflated = uid == "1.2.840.10008.1.2.1.99";
            has_syntax = true;
        }
        at = value + len;
        sx.meta_end = at;
    }
    // No (0002,0010): explicit VR when the first data set element carries a VR.
    if (!has_syntax && sx.meta_end + 6 <= size) {
        const unsigned char *vr = p + sx.meta_end + 4;
        sx.explicit_vr = vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' && vr[1] <= 'Z';
    }
    return sx;
}

bool not_dicom(std::string_view bytes) {
    const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
    if (bytes.size() >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) return false;
    if (bytes.size() < 8) return true;
    uint16_t group = static_cast<uint16_t>(p[0] | p[1] << 8);
    return group % 2 != 0 || group > 0x0008;
}

const char *const not_dicom_message = "not a DICOM file (no DICM prefix at byte 128)";

bool read_header(std::string_view prefix, bool complete, Header &out, std::string &why) {
    const auto *p = reinterpret_cast<const unsigned char *>(prefix.data());
    Syntax sx = read_syntax(p, prefix.size());
    auto take = [&](const Walker &w) {
        out.rows = w.rows;
        out.columns = w.columns;
        out.sex = w.sex;
        out.age = w.age;
        out.has_sex = w.has_sex;
        out.has_age = w.has_age;
    };
    if (sx.deflated) {
        std::string inflated;
        if (!complete) return false;  // needs the whole file
        if (!inflate_dataset(p + sx.meta_end, prefix.size() - sx.meta_end, inflated, why)) return false;
        Walker w{reinterpret_cast<const unsigned char *>(inflated.data()), inflated.size(), true, false, {}};
        w.stop_at_pixels = true;
        size_t pos = 0;
        bool ok = w.dataset(pos, inflated.size(), false, true, 0, false);
        take(w);
        if (!(ok || w.reached_pixels) || !out.rows || !out.columns) why = w.error.empty() ? "no Rows / Columns" : w.error;
        return (ok || w.reached_pixels) && out.rows && out.columns;
    }
    Walker w{p, prefix.size(), sx.explicit_vr, sx.big, {}};
    w.stop_at_pixels = true;
    size_t pos = sx.start;
    bool ok = w.dataset(pos, prefix.size(), sx.big, sx.explicit_vr, 0, false);
    if (w.reached_pixels || (ok && complete)) {
        take(w);
        if (!out.rows || !out.columns) why = "no Rows (0028,0010) / Columns (0028,0011)";
        return out.rows && out.columns;
    }
    if (complete) why = w.error.empty() ? "no image attributes" : w.error;
    return false;
}

bool check_structure(std::string_view bytes, std::string &why) {
    const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
    size_t size = bytes.size();
    Syntax sx = read_syntax(p, size);
    if (sx.start == 0 && size < 8) {
        why = "file too short to be DICOM (" + std::to_string(size) + " bytes)";
        return false;
    }
    if (sx.meta_end == size || (sx.start == 132 && sx.meta_end == sx.start)) {
        why = sx.start == 132 && sx.meta_end == sx.start ? "no File Meta Information after the DICM prefix"
                                                         : "no data set after the File Meta Information";
        return false;
    }
    if (sx.deflated) {
        // The File Meta Information stays uncompressed (PS3.5 A.5): walk it on its own.
        Walker meta{p, sx.meta_end, true, false, {}};
        size_t at = sx.start;
        if (!meta.dataset(at, sx.meta_end, false, true, 0, false)) {
            why = meta.error;
            return false;
        }
        std::string inflated;
        if (!inflate_dataset(p + sx.meta_end, size - sx.meta_end, inflated, why)) return false;
        Walker w{reinterpret_cast<const unsigned char *>(inflated.data()), inflated.size(), true, false, {}};
        size_t start = 0;
        if (!w.dataset(start, inflated.size(), false, true, 0, false)) {
            why = w.error + " (in the inflated data set)";
            return false;
        }
        return true;
    }
    Walker w{p, size, sx.explicit_vr, sx.big, {}};
    size_t pos = sx.start;
    if (!w.dataset(pos, size, sx.big, sx.explicit_vr, 0, false)) {
        why = w.error;
        return false;
    }
    return true;
}

}  // namespace cgdcm

namespace {

/// Reads a growing prefix of the file at `path` until the header walk reaches Pixel Data
/// (headers are a few kilobytes); a file that is not DICOM fails on its first bytes.
int header_of(const char *path, cgdcm::Header &out) {
    cgdcm::OpenFile file;
    int rc = file.open(path);
    if (rc != CGDCM_OK) return rc;
    std::string prefix;
    size_t want = 1 << 16;
    while (true) {
        size_t have = prefix.size();
        prefix.resize(want);
        const size_t got = file.read_up_to(&prefix[have], want - have);
        if (file.error) return cgdcm::fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(file.error) + ")");
        prefix.resize(have + got);
        bool complete = have + got < want;
        if (have == 0 && cgdcm::not_dicom(prefix)) return cgdcm::fail(CGDCM_ERR_PARSE, cgdcm::not_dicom_message);
        std::string why;
        if (cgdcm::read_header(prefix, complete, out, why)) return CGDCM_OK;
        if (complete) return cgdcm::fail(CGDCM_ERR_PARSE, "no image size in the header: " + why);
        want *= 8;
    }
}

}  // namespace

extern "C" int cgdcm_image_size(const char *path, uint32_t *rows, uint32_t *columns) {
    return cgdcm::guard([&]() -> int {
        if (!path || !rows || !columns) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm::Header h;
        int rc = header_of(path, h);
        if (rc != CGDCM_OK) return rc;
        *rows = h.rows;
        *columns = h.columns;
        return CGDCM_OK;
    });
}

extern "C" int cgdcm_read_header(const char *path, cgdcm_header *out) {
    return cgdcm::guard([&]() -> int {
        if (!path || !out) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm::Header h;
        int rc = header_of(path, h);
        if (rc != CGDCM_OK) return rc;
        *out = cgdcm_header{};
        out->rows = h.rows;
        out->columns = h.columns;
        out->has_sex = h.has_sex;
        out->has_age = h.has_age;
        std::snprintf(out->sex, sizeof out->sex, "%s", h.sex.c_str());
        std::snprintf(out->age, sizeof out->age, "%s", h.age.c_str());
        return CGDCM_OK;
    });
}

extern "C" int cgdcm_probe_path(const char *path) {
    return cgdcm::guard([&]() -> int {
        if (!path) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm::OpenFile file;
        int rc = file.open(path);
        if (rc != CGDCM_OK) return rc;
        std::string prefix(132, '\0');
        prefix.resize(file.read_up_to(&prefix[0], 132));
        if (file.error) return cgdcm::fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(file.error) + ")");
        return cgdcm::not_dicom(prefix) ? cgdcm::fail(CGDCM_ERR_PARSE, cgdcm::not_dicom_message) : CGDCM_OK;
    });
}
