#include "native_pixels.hpp"

#include <set>

namespace cgdcm {

bool read_up_to_native_pixels(gdcm::Reader &reader, std::istream &stream, std::string_view bytes, NativePixels &out) {
    const gdcm::Tag pixel(0x7fe0, 0x0010);
    std::set<gdcm::Tag> skip{pixel};
    if (!reader.ReadUpToTag(pixel, skip)) return false;
    const gdcm::TransferSyntax &ts = reader.GetFile().GetHeader().GetDataSetTransferSyntax();
    if (!ts.IsValid() || ts.IsEncapsulated() || ts.GetSwapCode() != gdcm::SwapCode::LittleEndian ||
        ts == gdcm::TransferSyntax::DeflatedExplicitVRLittleEndian) {
        return false;
    }
    std::streamoff pos = stream.tellg();
    size_t header = ts.IsExplicit() ? 12 : 8;
    if (pos < static_cast<std::streamoff>(header) || static_cast<size_t>(pos) > bytes.size()) return false;
    size_t at = static_cast<size_t>(pos);
    const unsigned char *b = reinterpret_cast<const unsigned char *>(bytes.data());
    if (!(b[at - header] == 0xE0 && b[at - header + 1] == 0x7F && b[at - header + 2] == 0x10 && b[at - header + 3] == 0x00)) {
        return false;
    }
    uint32_t length = b[at - 4] | b[at - 3] << 8 | b[at - 2] << 16 | static_cast<uint32_t>(b[at - 1]) << 24;
    if (length == 0xFFFFFFFFu) return false;
    out = NativePixels{at - header, at, length};
    return true;
}

}  // namespace cgdcm
