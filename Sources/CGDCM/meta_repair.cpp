// Transfer Syntax UID (0002,0010) fixes before GDCM parses a file (PS3.10 7.1). Some VinDr-CXR
// releases lack the element: the syntax is inferred from the bytes and the element inserted.
// Syntaxes newer than GDCM (HTJ2K, PS3.6 Table A-1) get a stand-in GDCM reads the same way.
#include "meta_repair.hpp"
#include "cgdcm.h"
#include "shim_error.hpp"

#include <gdcm-3.0/gdcmFileMetaInformation.h>
#include <gdcm-3.0/gdcmTransferSyntax.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

uint16_t u16(const std::string &b, size_t at) {
    return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

uint32_t u32(const std::string &b, size_t at) { return u16(b, at) | static_cast<uint32_t>(u16(b, at + 2)) << 16; }

bool long_vr(const char *vr) {
    static const char *kinds[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"};
    for (const char *k : kinds)
        if (std::memcmp(vr, k, 2) == 0) return true;
    return false;
}

bool known_vr(const char *vr) {
    static const char *kinds[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN",
                                  "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"};
    for (const char *k : kinds)
        if (std::memcmp(vr, k, 2) == 0) return true;
    return long_vr(vr);
}

/// Compression of the first fragment of encapsulated Pixel Data, from its leading bytes:
/// JPEG 2000 codestream/JP2 (HTJ2K when the SIZ marker's Rsiz has bit 14 set, ISO 15444-15),
/// JPEG (by SOF marker, PS3.5 A.4.1), JPEG-LS (SOF55), RLE header.
std::string sniff_fragment(const std::string &b, size_t at, size_t len) {
    if (at + len > b.size() || len < 4) return "";
    const auto *p = reinterpret_cast<const unsigned char *>(b.data() + at);
    if (p[0] == 0xFF && p[1] == 0x4F) {
        bool ht = len >= 8 && p[2] == 0xFF && p[3] == 0x51 && (p[6] & 0x40);
        return ht ? "1.2.840.10008.1.2.4.203" : "1.2.840.10008.1.2.4.90";
    }
    if (len >= 12 && std::memcmp(p + 4, "jP  ", 4) == 0) return "1.2.840.10008.1.2.4.90";
    if (p[0] == 0xFF && p[1] == 0xD8) {
        for (size_t i = 2; i + 4 <= len;) {
            if (p[i] != 0xFF) return "";
            unsigned char m = p[i + 1];
            if (m == 0xC0) return "1.2.840.10008.1.2.4.50";
            if (m == 0xC1) return "1.2.840.10008.1.2.4.51";
            if (m == 0xC3) return "1.2.840.10008.1.2.4.70";
            if (m == 0xF7) return "1.2.840.10008.1.2.4.80";
            i += 2 + (static_cast<size_t>(p[i + 2]) << 8 | p[i + 3]);
        }
        return "";
    }
    uint32_t segments = u32(b, at);
    if (len >= 64 && segments >= 1 && segments <= 15 && u32(b, at + 4) == 64) return "1.2.840.10008.1.2.5";
    return "";
}

}  // namespace

namespace cgdcm {

/// The File Meta Information group (PS3.10 7.1, always Explicit VR Little Endian) of `b`.
struct MetaGroup {
    size_t end = 0;              // first byte of the data set
    size_t insert_at = 0;        // where a missing (0002,0010) belongs (tag order)
    size_t group_length_at = 0;  // value of (0002,0000), 0 when absent
    size_t uid_at = 0;           // (0002,0010) element, 0 when absent
    size_t uid_value = 0, uid_length = 0;
};

static bool walk_meta(const std::string &b, MetaGroup &m) {
    if (b.size() < 144 || std::memcmp(b.data() + 128, "DICM", 4) != 0) return false;
    size_t pos = 132;
    while (pos + 8 <= b.size() && u16(b, pos) == 0x0002) {
        uint16_t element = u16(b, pos + 2);
        const char *vr = b.data() + pos + 4;
        size_t header = long_vr(vr) ? 12 : 8;
        if (pos + header > b.size()) return false;
        size_t len = header == 12 ? u32(b, pos + 8) : u16(b, pos + 6);
        if (element == 0x0000) m.group_length_at = pos + 8;
        if (element == 0x0010) {
            m.uid_at = pos;
            m.uid_value = pos + header;
            m.uid_length = len;
        }
        if (element < 0x0010) m.insert_at = pos + header + len;
        pos += header + len;
        if (pos > b.size()) return false;
    }
    m.end = pos;
    if (m.insert_at == 0) m.insert_at = 132;
    return true;
}

/// Offset of the first fragment item of top-level encapsulated Pixel Data (after the Basic
/// Offset Table item, PS3.5 A.4), 0 when Pixel Data is absent, native or not encapsulated.
static size_t first_fragment(const std::string &b, size_t data_set, bool explicit_vr) {
    static const char pixel_tag[] = {'\xE0', '\x7F', '\x10', '\x00'};
    size_t at = b.rfind(std::string(pixel_tag, 4));
    if (at == std::string::npos || at < data_set) return 0;
    size_t value = 0;
    if (explicit_vr && at + 12 <= b.size() && long_vr(b.data() + at + 4) && u32(b, at + 8) == 0xFFFFFFFFu) value = at + 12;
    if (!explicit_vr && at + 8 <= b.size() && u32(b, at + 4) == 0xFFFFFFFFu) value = at + 8;
    if (!value || value + 8 > b.size() || u16(b, value) != 0xFFFE || u16(b, value + 2) != 0xE000) return 0;
    size_t frag = value + 8 + u32(b, value + 4);
    if (frag + 8 > b.size() || u16(b, frag) != 0xFFFE || u16(b, frag + 2) != 0xE000) return 0;
    return frag;
}

/// Adds `delta` to the value of (0002,0000) when the meta has one.
static void adjust_group_length(std::string &b, const MetaGroup &m, int64_t delta) {
    if (!m.group_length_at) return;
    uint32_t gl = static_cast<uint32_t>(u32(b, m.group_length_at) + delta);
    for (int i = 0; i < 4; ++i) b[m.group_length_at + i] = static_cast<char>((gl >> (8 * i)) & 0xFF);
}

/// A UI element (0002,0010) holding `uid` padded to even length (PS3.5 6.2).
static std::string uid_element(const std::string &uid) {
    std::string value = uid;
    if (value.size() % 2) value.push_back('\0');
    std::string element("\x02\x00\x10\x00UI", 6);
    element.push_back(static_cast<char>(value.size() & 0xFF));
    element.push_back(static_cast<char>(value.size() >> 8));
    return element + value;
}

bool repair_missing_transfer_syntax(std::string &b, std::string &uid) {
    MetaGroup m;
    if (!walk_meta(b, m) || m.uid_at) return false;  // not PS3.10, or present: nothing to repair
    if (m.end + 8 > b.size()) return false;
    bool explicit_vr = known_vr(b.data() + m.end + 4);
    uid = explicit_vr ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2";
    // Encapsulated Pixel Data (undefined length) decides the compression.
    if (size_t frag = first_fragment(b, m.end, explicit_vr)) {
        std::string compressed = sniff_fragment(b, frag + 8, u32(b, frag + 4));
        if (compressed.empty()) return false;
        uid = compressed;
    }
    std::string element = uid_element(uid);
    adjust_group_length(b, m, static_cast<int64_t>(element.size()));
    b.insert(m.insert_at, element);
    return true;
}

bool stand_in_transfer_syntax(std::string &b, std::string &uid) {
    MetaGroup m;
    if (!walk_meta(b, m) || !m.uid_at) return false;
    uid.assign(b, m.uid_value, m.uid_length);
    while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
    if (gdcm::TransferSyntax::GetTSType(uid.c_str()) != gdcm::TransferSyntax::TS_END) return false;
    const char *stand_in = first_fragment(b, m.end, true) ? "1.2.840.10008.1.2.4.90" : "1.2.840.10008.1.2.1";
    std::string element = uid_element(stand_in);
    size_t old_size = m.uid_value + m.uid_length - m.uid_at;
    adjust_group_length(b, m, static_cast<int64_t>(element.size()) - static_cast<int64_t>(old_size));
    b.replace(m.uid_at, old_size, element);
    return true;
}

void restore_transfer_syntax(gdcm::FileMetaInformation &meta, const std::string &uid) {
    std::string value = uid;
    if (value.size() % 2) value.push_back('\0');
    gdcm::DataElement de(gdcm::Tag(0x0002, 0x0010));
    de.SetVR(gdcm::VR::UI);
    de.SetByteValue(value.data(), static_cast<uint32_t>(value.size()));
    meta.Replace(de);
}

bool is_htj2k(const std::string &uid) {
    return uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" || uid == "1.2.840.10008.1.2.4.203";
}

int unreadable(const std::string &stood_in, const std::string &why) {
    if (!stood_in.empty() && !is_htj2k(stood_in)) {
        return fail(CGDCM_ERR_UNSUPPORTED, "transfer syntax " + stood_in + " (0002,0010) is not supported (" + why + ")");
    }
    return fail(CGDCM_ERR_PARSE, why);
}

}  // namespace cgdcm
