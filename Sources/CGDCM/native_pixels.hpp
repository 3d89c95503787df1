// Reading a data set up to Pixel Data and locating native pixel bytes in place, shared by the
// decoder (which lends them to Swift) and the de-identifier (which copies them verbatim).
#pragma once
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

#include <gdcm-3.0/gdcmReader.h>

namespace cgdcm {

/// Where native Pixel Data sits in the file's bytes.
struct NativePixels {
    size_t element;   // offset of the element's tag
    size_t value;     // offset of its value
    uint32_t length;  // declared value length (may run past the end of a truncated file)
};

/// Reads `stream` (over `bytes`) with `reader` up to Pixel Data without reading its value. True
/// with the location when Pixel Data is native, little endian and of defined length (PS3.5 7.1:
/// the 4 bytes before a value are its length, after tag and VR in explicit VR or the tag alone
/// in implicit VR); false when the caller must read the whole file instead.
bool read_up_to_native_pixels(gdcm::Reader &reader, std::istream &stream, std::string_view bytes, NativePixels &out);

}  // namespace cgdcm
