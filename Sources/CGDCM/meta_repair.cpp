// Files whose File Meta Information (PS3.10 7.1) lacks Transfer Syntax UID (0002,0010), as
// some VinDr-CXR releases do: the syntax is inferred from the bytes and the element inserted,
// so GDCM (which refuses such files) can parse them. Also why GDCM could not parse a file: a
// transfer syntax it does not know is named as unsupported rather than reported as corruption.
#include "meta_repair.hpp"

#include "cgdcm.h"
#include "shim_error.hpp"

#include <gdcm-3.0/gdcmTransferSyntax.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

uint16_t u16(std::string_view b, size_t at) {
    return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | static_cast<unsigned char>(b[at + 1]) << 8);
}

uint32_t u32(std::string_view b, size_t at) { return u16(b, at) | static_cast<uint32_t>(u16(b, at + 2)) << 16; }

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
/// JPEG 2000 codestream/JP2, JPEG (by SOF marker, PS3.5 A.4.1), JPEG-LS (SOF55), RLE header.
std::string sniff_fragment(std::string_view b, size_t at, size_t len) {
    if (at + len > b.size() || len < 4) return "";
    const auto *p = reinterpret_cast<const unsigned char *>(b.data() + at);
    if (p[0] == 0xFF && p[1] == 0x4F) return "1.2.840.10008.1.2.4.90";
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

/// Walks the File Meta Information group (PS3.10 7.1, always Explicit VR Little Endian) from
/// byte 132, calling `visit(element, at, header, length)` for each element until it returns
/// false. Returns where the walk stopped (the element `visit` refused, or the end of the group),
/// or 0 when an element runs past the end of `b`.
template <typename Visit> size_t walk_meta(std::string_view b, Visit &&visit) {
    size_t pos = 132;
    while (pos + 8 <= b.size() && u16(b, pos) == 0x0002) {
        size_t header = long_vr(b.data() + pos + 4) ? 12 : 8;
        if (pos + header > b.size()) return 0;
        size_t len = header == 12 ? u32(b, pos + 8) : u16(b, pos + 6);
        if (pos + header + len > b.size()) return 0;
        if (!visit(u16(b, pos + 2), pos, header, len)) return pos;
        pos += header + len;
    }
    return pos;
}

/// Transfer Syntax UID (0002,0010) of a PS3.10 file's meta, without its padding; "" when the
/// file has no meta or no such element.
std::string meta_transfer_syntax(std::string_view b) {
    if (b.size() < 144 || std::memcmp(b.data() + 128, "DICM", 4) != 0) return "";
    std::string uid;
    walk_meta(b, [&](uint16_t element, size_t at, size_t header, size_t len) {
        if (element != 0x0010) return true;
        uid = std::string(b.substr(at + header, len));
        while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.pop_back();
        return false;
    });
    return uid;
}

/// Names of the registered syntaxes GDCM 3.0 does not know that a CXR archive may hold.
const char *syntax_name(const std::string &uid) {
    if (uid == "1.2.840.10008.1.2.4.110") return "JPEG XL Lossless";
    if (uid == "1.2.840.10008.1.2.4.111") return "JPEG XL JPEG Recompression";
    if (uid == "1.2.840.10008.1.2.4.112") return "JPEG XL";
    return nullptr;
}

}  // namespace

namespace cgdcm {

int parse_failure(std::string_view bytes) {
    std::string uid = meta_transfer_syntax(bytes);
    if (!uid.empty() && gdcm::TransferSyntax::GetTSType(uid.c_str()) == gdcm::TransferSyntax::TS_END) {
        const char *name = syntax_name(uid);
        return fail(CGDCM_ERR_UNSUPPORTED, "transfer syntax " + uid + (name ? std::string(" (") + name + ")" : std::string()) +
                                                " in (0002,0010) is not supported");
    }
    return fail(CGDCM_ERR_PARSE, "not a readable DICOM file (GDCM could not parse it)");
}

bool stand_in_transfer_syntax(Bytes &b, std::string &uid) {
    if (b.size() < 144 || std::memcmp(b.data() + 128, "DICM", 4) != 0) return false;
    static const char stand_in[] = "1.2.840.10008.1.2.4.100";  // MPEG2 Main Profile @ Main Level
    bool replaced = false;
    walk_meta(b, [&](uint16_t element, size_t at, size_t header, size_t len) {
        if (element != 0x0010) return true;
        std::string value(b.data() + at + header, len);
        while (!value.empty() && (value.back() == '\0' || value.back() == ' ')) value.pop_back();
        if (value == "1.2.840.10008.1.2.4.201" || value == "1.2.840.10008.1.2.4.202" || value == "1.2.840.10008.1.2.4.203") {
            const std::string padded = std::string(stand_in).append(len - value.size(), '\0');
            b.replace(at + header, len, padded.data(), padded.size());
            uid = value;
            replaced = true;
        }
        return false;
    });
    return replaced;
}

bool repair_missing_transfer_syntax(Bytes &b, std::string &uid) {
    if (b.size() < 144 || std::memcmp(b.data() + 128, "DICM", 4) != 0) return false;
    size_t insert_at = 0, group_length_at = 0;
    bool present = false;
    size_t end = walk_meta(b, [&](uint16_t element, size_t at, size_t header, size_t len) {
        if (element == 0x0010) {  // present: nothing to repair
            present = true;
            return false;
        }
        if (element == 0x0000) group_length_at = at + 8;
        if (element < 0x0010) insert_at = at + header + len;
        return true;
    });
    if (present || end == 0) return false;
    if (insert_at == 0) insert_at = 132;
    if (end + 8 > b.size()) return false;
    bool explicit_vr = known_vr(b.data() + end + 4);
    uid = explicit_vr ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2";
    // Encapsulated Pixel Data (undefined length) decides the compression.
    static const char pixel_tag[] = {'\xE0', '\x7F', '\x10', '\x00'};
    size_t at = b.rfind(pixel_tag, Bytes::npos, 4);
    if (at != Bytes::npos && at >= end) {
        size_t value = 0;
        if (explicit_vr && at + 12 <= b.size() && long_vr(b.data() + at + 4) && u32(b, at + 8) == 0xFFFFFFFFu) value = at + 12;
        if (!explicit_vr && at + 8 <= b.size() && u32(b, at + 4) == 0xFFFFFFFFu) value = at + 8;
        // Basic Offset Table item, then the first fragment item (PS3.5 A.4).
        if (value && value + 8 <= b.size() && u16(b, value) == 0xFFFE && u16(b, value + 2) == 0xE000) {
            size_t frag = value + 8 + u32(b, value + 4);
            if (frag + 8 <= b.size() && u16(b, frag) == 0xFFFE && u16(b, frag + 2) == 0xE000) {
                std::string compressed = sniff_fragment(b, frag + 8, u32(b, frag + 4));
                if (compressed.empty()) return false;
                uid = compressed;
            }
        }
    }
    std::string value = uid;
    if (value.size() % 2) value.push_back('\0');
    std::string element("\x02\x00\x10\x00UI", 6);
    element.push_back(static_cast<char>(value.size() & 0xFF));
    element.push_back(static_cast<char>(value.size() >> 8));
    element += value;
    if (group_length_at) {
        uint32_t gl = u32(b, group_length_at) + static_cast<uint32_t>(element.size());
        for (int i = 0; i < 4; ++i) b[group_length_at + i] = static_cast<char>((gl >> (8 * i)) & 0xFF);
    }
    b.insert(insert_at, element.data(), element.size());
    return true;
}

}  // namespace cgdcm
