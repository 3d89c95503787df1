// GDCM side of the shim: parsing, attribute access, pixel data layout, GDCM's codecs.
#include "attribute_vrs.hpp"
#include "cgdcm.h"
#include "file_bytes.hpp"
#include "meta_repair.hpp"
#include "native_pixels.hpp"
#include "shim_error.hpp"

#include <gdcm-3.0/gdcmJPEGCodec.h>
#include <gdcm-3.0/gdcmJPEGLSCodec.h>
#include <gdcm-3.0/gdcmReader.h>
#include <gdcm-3.0/gdcmSequenceOfFragments.h>
#include <gdcm-3.0/gdcmSequenceOfItems.h>
#include <gdcm-3.0/gdcmStringFilter.h>
#include <gdcm-3.0/gdcmTrace.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

struct cgdcm_file {
    cgdcm::Bytes bytes;  // the whole file; GDCM parses it in place through `buffer`
    std::unique_ptr<cgdcm::MemoryBuffer> buffer;
    std::unique_ptr<std::istream> stream;
    bool transfer_syntax_inferred = false;
    std::string stood_in_for;  // the file's HTJ2K syntax GDCM parsed under a stand-in (meta_repair.hpp)
    // Native little-endian Pixel Data is not copied by GDCM: its value stays in `bytes` at
    // [native_offset, native_offset + native_length) (length as declared; may exceed the file).
    bool native_in_place = false;
    size_t native_offset = 0;
    size_t native_length = 0;
    std::unique_ptr<gdcm::Reader> reader_ptr = std::make_unique<gdcm::Reader>();
    gdcm::Reader &reader() { return *reader_ptr; }
    gdcm::StringFilter filter;
    ~cgdcm_file() {  // the parser lets go of `bytes` before they go to the thread's spare
        reader_ptr.reset();
        stream.reset();
        buffer.reset();
        cgdcm::recycle(bytes);
    }
};

namespace {

const gdcm::DataElement *find(const gdcm::DataSet &ds, uint16_t g, uint16_t e) {
    gdcm::Tag tag(g, e);
    if (!ds.FindDataElement(tag)) return nullptr;
    const gdcm::DataElement &de = ds.GetDataElement(tag);
    return &de;
}

void put_text(const std::string &s, char *buf, size_t cap, size_t *len) {
    if (len) *len = s.size();
    if (buf && cap > 0) {
        size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
        std::memcpy(buf, s.data(), n);
        buf[n] = '\0';
    }
}

/// The one way attribute values become text: the element's VR is checked against the VRs the
/// SDK allows for its tag (attribute_vrs.hpp, PS3.6) before gdcm::StringFilter sees it, since
/// the filter asserts on binary VRs it does not expect. `parent` is the enclosing sequence's
/// tag, 0 at the top level.
int element_text(cgdcm_file *f, const gdcm::DataElement &de, uint32_t parent, char *buf, size_t cap, size_t *len) {
    std::string problem = cgdcm::element_vr_problem(de, parent, f->reader().GetFile());
    if (!problem.empty()) return cgdcm::fail(CGDCM_ERR_PARSE, problem);
    put_text(f->filter.ToString(de), buf, cap, len);
    return CGDCM_OK;
}

/// Reads the data set up to Pixel Data; when that is native, records where its value lies in
/// `f->bytes` instead of letting GDCM copy it.
bool parse_in_place(cgdcm_file *f) {
    cgdcm::NativePixels px{};
    if (!cgdcm::read_up_to_native_pixels(f->reader(), *f->stream, f->bytes, px)) return false;
    f->native_in_place = true;
    f->native_offset = px.value;
    f->native_length = px.length;
    return true;
}

/// Repairs a missing transfer syntax, then parses `f->bytes` (in place when possible, else fully).
int parse(cgdcm_file *f) {
    std::string uid;
    f->transfer_syntax_inferred = cgdcm::repair_missing_transfer_syntax(f->bytes, uid);
    cgdcm::stand_in_transfer_syntax(f->bytes, f->stood_in_for);
    std::string why;
    if (cgdcm::not_dicom(f->bytes)) return cgdcm::fail(CGDCM_ERR_PARSE, cgdcm::not_dicom_message);
    if (!cgdcm::check_structure(f->bytes, why)) return cgdcm::fail(CGDCM_ERR_PARSE, "not a readable DICOM file: " + why);
    f->buffer = std::make_unique<cgdcm::MemoryBuffer>(f->bytes.data(), f->bytes.size());
    f->stream = std::make_unique<std::istream>(f->buffer.get());
    f->reader().SetStream(*f->stream);
    if (!parse_in_place(f)) {
        f->native_in_place = false;
        f->reader_ptr = std::make_unique<gdcm::Reader>();
        f->stream->clear();
        f->stream->seekg(0);
        f->reader().SetStream(*f->stream);
        if (!f->reader().Read()) return cgdcm::parse_failure(f->bytes);
    }
    f->filter.SetFile(f->reader().GetFile());
    return CGDCM_OK;
}

gdcm::SmartPointer<gdcm::SequenceOfItems> sequence(cgdcm_file *f, uint16_t g, uint16_t e) {
    const gdcm::DataElement *de = find(f->reader().GetFile().GetDataSet(), g, e);
    if (!de) return nullptr;
    return de->GetValueAsSQ();
}

/// Copy of an attribute inside item `item` (0-based) of a top-level sequence; DataElement copies
/// share their value, so this is cheap and outlives any temporary sequence GDCM builds.
int item_element(cgdcm_file *f, uint16_t sg, uint16_t se, size_t item, uint16_t g, uint16_t e,
                 gdcm::DataElement &out) {
    gdcm::SmartPointer<gdcm::SequenceOfItems> sq = sequence(f, sg, se);
    if (!sq || item >= sq->GetNumberOfItems()) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "sequence item out of range");
    const gdcm::DataElement *de = find(sq->GetItem(item + 1).GetNestedDataSet(), g, e);
    if (!de) return CGDCM_ABSENT;
    out = *de;
    return CGDCM_OK;
}

/// The first SOF marker segment of a JPEG stream (ITU-T T.81 B.2.2).
struct JPEGFrame {
    int marker = 0;
    int precision = -1;
    uint32_t height = 0, width = 0, components = 0;
};

/// Finds the first SOF marker of a JPEG stream; false when the stream has none within `n` bytes.
bool jpeg_frame(const unsigned char *p, size_t n, JPEGFrame &out) {
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return false;
    size_t i = 2;
    while (i + 4 < n) {
        if (p[i] != 0xFF) return false;
        unsigned char m = p[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        size_t len = static_cast<size_t>(p[i + 2]) << 8 | p[i + 3];
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (i + 9 >= n) return false;
            out.marker = m;
            out.precision = p[i + 4];
            out.height = static_cast<uint32_t>(p[i + 5]) << 8 | p[i + 6];
            out.width = static_cast<uint32_t>(p[i + 7]) << 8 | p[i + 8];
            out.components = p[i + 9];
            return true;
        }
        i += 2 + len;
    }
    return false;
}

/// Why libjpeg would warn while reading the header of this stream (SOI up to and including the
/// first SOS segment), or "" when it would not. GDCM's JPEG codec asserts on every warning raised
/// while it reads the header but JWRN_MUST_DOWNSCALE (JPEGBITSCodec::DecodeByStreams), and Debian
/// builds it with assertions, so such a stream would abort the process. The header warnings are:
/// bytes between marker segments (JWRN_EXTRANEOUS_DATA), the stream ending inside the header
/// (JWRN_JPEG_EOF), and a JFIF APP0 segment of major version other than 1 (JWRN_JFIF_MAJOR).
std::string jpeg_header_problem(const unsigned char *p, size_t n) {
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return "JPEG stream does not start with SOI";
    size_t i = 2;
    while (true) {
        if (i >= n) return "JPEG stream ends before its scan header (SOS)";
        if (p[i] != 0xFF) return "JPEG stream has bytes between marker segments at offset " + std::to_string(i);
        while (i < n && p[i] == 0xFF) ++i;  // fill bytes
        if (i >= n) return "JPEG stream ends before its scan header (SOS)";
        unsigned char m = p[i++];
        if (m == 0x00) return "JPEG stream has bytes between marker segments at offset " + std::to_string(i - 2);
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // standalone markers
        if (m == 0xD8 || m == 0xD9) return "";                 // libjpeg stops with an error
        if (n - i < 2) return "JPEG stream ends inside a marker segment";
        size_t len = static_cast<size_t>(p[i]) << 8 | p[i + 1];
        if (len < 2) return "JPEG marker segment shorter than its length field";
        if (len > n - i) return "JPEG stream ends inside a marker segment";
        if (m == 0xE0 && len >= 16 && std::memcmp(p + i + 2, "JFIF\0", 5) == 0 && p[i + 7] != 1) {
            return "JPEG stream has a JFIF segment of major version " + std::to_string(p[i + 7]);
        }
        if (m == 0xDA) return "";
        i += len;
    }
}

/// Sample precision P from the first SOF marker of a JPEG stream (ITU-T T.81 B.2.2); -1 if none.
int jpeg_precision(const unsigned char *p, size_t n, bool &lossless) {
    JPEGFrame f;
    if (!jpeg_frame(p, n, f)) return -1;
    lossless = f.marker == 0xC3 || f.marker == 0xC7 || f.marker == 0xCB || f.marker == 0xCF;
    return f.precision;
}

}  // namespace

extern "C" {

void cgdcm_quiet(void) {
    static std::once_flag once;
    std::call_once(once, [] {
        gdcm::Trace::WarningOff();
        gdcm::Trace::ErrorOff();
        gdcm::Trace::DebugOff();
    });
}

int cgdcm_open_path(const char *path, cgdcm_file **out) {
    return cgdcm::guard([&]() -> int {
        if (!path || !out) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm_quiet();
        auto f = std::make_unique<cgdcm_file>();
        int rc = cgdcm::read_file(path, f->bytes);
        if (rc != CGDCM_OK) return rc;
        rc = parse(f.get());
        if (rc != CGDCM_OK) return rc;
        *out = f.release();
        return CGDCM_OK;
    });
}

int cgdcm_open_memory(const void *data, size_t size, cgdcm_file **out) {
    return cgdcm::guard([&]() -> int {
        if ((!data && size) || !out) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm_quiet();
        auto f = std::make_unique<cgdcm_file>();
        cgdcm::take_spare(f->bytes, size);
        if (size) std::memcpy(&f->bytes[0], data, size);
        int rc = parse(f.get());
        if (rc != CGDCM_OK) return rc;
        *out = f.release();
        return CGDCM_OK;
    });
}

void cgdcm_close(cgdcm_file *file) { delete file; }

int cgdcm_transfer_syntax(cgdcm_file *file, char *buf, size_t cap, int *inferred) {
    return cgdcm::guard([&]() -> int {
        if (!file) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        const gdcm::FileMetaInformation &meta = file->reader().GetFile().GetHeader();
        if (inferred) *inferred = file->transfer_syntax_inferred || !meta.FindDataElement(gdcm::Tag(0x0002, 0x0010)) ? 1 : 0;
        const gdcm::TransferSyntax &ts = meta.GetDataSetTransferSyntax();
        const char *uid = !file->stood_in_for.empty() ? file->stood_in_for.c_str() : ts.IsValid() ? ts.GetString() : "";
        put_text(uid ? uid : "", buf, cap, nullptr);
        return CGDCM_OK;
    });
}

int cgdcm_string(cgdcm_file *file, uint16_t group, uint16_t element, char *buf, size_t cap, size_t *len) {
    return cgdcm::guard([&]() -> int {
        if (!file) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        const gdcm::DataSet &ds = group == 0x0002 ? file->reader().GetFile().GetHeader() : file->reader().GetFile().GetDataSet();
        const gdcm::DataElement *de = find(ds, group, element);
        if (!de) return CGDCM_ABSENT;
        return element_text(file, *de, 0, buf, cap, len);
    });
}

int cgdcm_sequence_count(cgdcm_file *file, uint16_t group, uint16_t element, size_t *count) {
    return cgdcm::guard([&]() -> int {
        if (!file || !count) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        gdcm::SmartPointer<gdcm::SequenceOfItems> sq = sequence(file, group, element);
        *count = sq ? sq->GetNumberOfItems() : 0;
        return CGDCM_OK;
    });
}

int cgdcm_sequence_string(cgdcm_file *file, uint16_t sg, uint16_t se, size_t item, uint16_t group, uint16_t element,
                          char *buf, size_t cap, size_t *len) {
    return cgdcm::guard([&]() -> int {
        if (!file) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        gdcm::DataElement de;
        int status = item_element(file, sg, se, item, group, element, de);
        if (status != CGDCM_OK) return status;
        return element_text(file, de, static_cast<uint32_t>(sg) << 16 | se, buf, cap, len);
    });
}

int cgdcm_sequence_words(cgdcm_file *file, uint16_t sg, uint16_t se, size_t item, uint16_t group, uint16_t element,
                         uint16_t *out, size_t cap, size_t *count) {
    return cgdcm::guard([&]() -> int {
        if (!file || !count) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        gdcm::DataElement de;
        int status = item_element(file, sg, se, item, group, element, de);
        if (status != CGDCM_OK) return status;
        const gdcm::ByteValue *bv = de.GetByteValue();
        size_t n = bv ? bv->GetLength() / 2 : 0;
        *count = n;
        if (out && bv) std::memcpy(out, bv->GetPointer(), 2 * (n < cap ? n : cap));
        return CGDCM_OK;
    });
}

int cgdcm_pixel_layout(cgdcm_file *file, int *kind, size_t *fragments, size_t *offsets) {
    return cgdcm::guard([&]() -> int {
        if (!file || !kind || !fragments || !offsets) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        *fragments = 0;
        *offsets = 0;
        if (file->native_in_place) {
            *kind = file->native_length ? CGDCM_PIXELS_NATIVE : CGDCM_PIXELS_ABSENT;
            return CGDCM_OK;
        }
        const gdcm::DataElement *de = find(file->reader().GetFile().GetDataSet(), 0x7fe0, 0x0010);
        if (!de || de->IsEmpty()) {
            *kind = CGDCM_PIXELS_ABSENT;
            return CGDCM_OK;
        }
        if (const gdcm::SequenceOfFragments *sf = de->GetSequenceOfFragments()) {
            *kind = CGDCM_PIXELS_ENCAPSULATED;
            *fragments = sf->GetNumberOfFragments();
            const gdcm::ByteValue *table = sf->GetTable().GetByteValue();
            *offsets = table ? table->GetLength() / 4 : 0;
            return CGDCM_OK;
        }
        *kind = de->GetByteValue() ? CGDCM_PIXELS_NATIVE : CGDCM_PIXELS_ABSENT;
        return CGDCM_OK;
    });
}

int cgdcm_native_pixels(cgdcm_file *file, const void **data, size_t *size) {
    return cgdcm::guard([&]() -> int {
        if (!file || !data || !size) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        if (file->native_in_place) {
            size_t available = file->bytes.size() - file->native_offset;
            *data = file->bytes.data() + file->native_offset;
            *size = file->native_length < available ? file->native_length : available;
            return CGDCM_OK;
        }
        const gdcm::DataElement *de = find(file->reader().GetFile().GetDataSet(), 0x7fe0, 0x0010);
        const gdcm::ByteValue *bv = de ? de->GetByteValue() : nullptr;
        if (!bv) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "no native Pixel Data (7FE0,0010)");
        *data = bv->GetPointer();
        *size = bv->GetLength();
        return CGDCM_OK;
    });
}

int cgdcm_fragment(cgdcm_file *file, size_t index, const void **data, size_t *size) {
    return cgdcm::guard([&]() -> int {
        if (!file || !data || !size) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        const gdcm::DataElement *de = find(file->reader().GetFile().GetDataSet(), 0x7fe0, 0x0010);
        const gdcm::SequenceOfFragments *sf = de ? de->GetSequenceOfFragments() : nullptr;
        if (!sf || index >= sf->GetNumberOfFragments()) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "fragment index out of range");
        const gdcm::ByteValue *bv = sf->GetFragment(index).GetByteValue();
        *data = bv ? bv->GetPointer() : nullptr;
        *size = bv ? static_cast<size_t>(bv->GetLength()) : 0;
        return CGDCM_OK;
    });
}

int cgdcm_offset(cgdcm_file *file, size_t index, uint32_t *offset) {
    return cgdcm::guard([&]() -> int {
        if (!file || !offset) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        const gdcm::DataElement *de = find(file->reader().GetFile().GetDataSet(), 0x7fe0, 0x0010);
        const gdcm::SequenceOfFragments *sf = de ? de->GetSequenceOfFragments() : nullptr;
        const gdcm::ByteValue *table = sf ? sf->GetTable().GetByteValue() : nullptr;
        if (!table || index >= table->GetLength() / 4) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "offset index out of range");
        std::memcpy(offset, table->GetPointer() + 4 * index, 4);
        return CGDCM_OK;
    });
}

int cgdcm_jpeg_header(const void *data, size_t size, int *marker, uint32_t *precision, uint32_t *width, uint32_t *height,
                      uint32_t *components) {
    return cgdcm::guard([&]() -> int {
        if (!data || !marker || !precision || !width || !height || !components) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        JPEGFrame f;
        if (!jpeg_frame(static_cast<const unsigned char *>(data), size, f)) return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG stream has no SOF marker");
        *marker = f.marker;
        *precision = static_cast<uint32_t>(f.precision);
        *width = f.width;
        *height = f.height;
        *components = f.components;
        return CGDCM_OK;
    });
}

int cgdcm_decode_jpeg(const void *data, size_t size, int codec, uint32_t rows, uint32_t columns, uint16_t bits_allocated,
                      uint16_t bits_stored, uint16_t pixel_representation, const char *photometric, void *out,
                      size_t expected) {
    return cgdcm::guard([&]() -> int {
        if (!data || !out || !photometric || size > 0xFFFFFFF0u) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "bad argument");
        // gdcm::PixelFormat asserts (always on) on any other value once the codec compares formats.
        if (pixel_representation > 1) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "Pixel Representation (0028,0103) is " + std::to_string(pixel_representation) +
                                                     ", not 0 (unsigned) or 1 (signed)");
        }
        gdcm::SmartPointer<gdcm::SequenceOfFragments> fragments = new gdcm::SequenceOfFragments;
        gdcm::Fragment fragment;
        fragment.SetByteValue(static_cast<const char *>(data), static_cast<uint32_t>(size));
        fragments->AddFragment(fragment);
        gdcm::DataElement in(gdcm::Tag(0x7fe0, 0x0010));
        in.SetValue(*fragments);
        gdcm::DataElement decoded;
        unsigned int dims[3] = {columns, rows, 1};
        bool ok;
        if (codec == CGDCM_CODEC_JPEG) {
            std::string header = jpeg_header_problem(static_cast<const unsigned char *>(data), size);
            if (!header.empty()) return cgdcm::fail(CGDCM_ERR_DECODE, header);
            // The codec is chosen by sample precision; take it from the stream's SOF so that GDCM
            // never enters its header/stream mismatch path, which aborts on unexpected values.
            bool lossless = false;
            int precision = jpeg_precision(static_cast<const unsigned char *>(data), size, lossless);
            if (precision < 2 || precision > 16 || precision > bits_allocated) {
                return cgdcm::fail(CGDCM_ERR_DECODE, "JPEG stream has no usable SOF marker (precision " + std::to_string(precision) + ")");
            }
            // GDCM picks its 8/12/16-bit libjpeg by bits allocated. A 12-bit DCT stream sent to the
            // 16-bit build fails there first, and libjpeg prints "Unsupported JPEG data precision
            // 12" to stderr before GDCM retries with the 12-bit build; name the 12-bit build
            // directly (the decoded samples are 16-bit either way).
            unsigned short codec_bits = !lossless && precision > 8 && precision <= 12 ? 12 : bits_allocated;
            gdcm::PixelFormat pf(1, codec_bits, static_cast<unsigned short>(precision),
                                 static_cast<unsigned short>(precision - 1), pixel_representation);
            gdcm::JPEGCodec c;
            c.SetNumberOfDimensions(2);
            c.SetDimensions(dims);
            c.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::GetPIType(photometric));
            c.SetPixelFormat(pf);  // last: it configures the internal codec from the settings above
            ok = c.Decode(in, decoded);
        } else if (codec == CGDCM_CODEC_JPEG_LS) {
            gdcm::PixelFormat pf(1, bits_allocated, bits_stored, static_cast<unsigned short>(bits_stored - 1), pixel_representation);
            gdcm::JPEGLSCodec c;
            c.SetNumberOfDimensions(2);
            c.SetDimensions(dims);
            c.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::GetPIType(photometric));
            c.SetPixelFormat(pf);
            ok = c.Decode(in, decoded);
        } else {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "unknown codec");
        }
        const gdcm::ByteValue *bv = decoded.GetByteValue();
        if (!ok || !bv) return cgdcm::fail(CGDCM_ERR_DECODE, codec == CGDCM_CODEC_JPEG ? "JPEG stream could not be decoded" : "JPEG-LS stream could not be decoded");
        if (bv->GetLength() < expected) {
            return cgdcm::fail(CGDCM_ERR_DECODE, "decoded " + std::to_string(bv->GetLength()) + " bytes, expected " + std::to_string(expected));
        }
        std::memcpy(out, bv->GetPointer(), expected);
        return CGDCM_OK;
    });
}

}  // extern "C"
