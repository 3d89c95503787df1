// Data set editing for de-identification (PS3.15 Annex E): read, remove/replace top-level
// elements, write. Pixel Data keeps the exact bytes or fragments it was read with.
#include "cgdcm.h"
#include "attribute_vrs.hpp"
#include "isolated_call.hpp"
#include "cgdcm_deid.h"
#include "file_bytes.hpp"
#include "meta_repair.hpp"
#include "native_pixels.hpp"
#include "shim_error.hpp"

#include <gdcm-3.0/gdcmExplicitDataElement.h>
#include <gdcm-3.0/gdcmFileExplicitFilter.h>
#include <gdcm-3.0/gdcmFileMetaInformation.h>
#include <gdcm-3.0/gdcmFragment.h>
#include <gdcm-3.0/gdcmItem.h>
#include <gdcm-3.0/gdcmReader.h>
#include <gdcm-3.0/gdcmSequenceOfFragments.h>
#include <gdcm-3.0/gdcmSequenceOfItems.h>
#include <gdcm-3.0/gdcmStringFilter.h>
#include <gdcm-3.0/gdcmVR.h>
#include <gdcm-3.0/gdcmWriter.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

struct cgdcm_edit {
    cgdcm::Bytes bytes;
    std::unique_ptr<cgdcm::MemoryBuffer> buffer;
    std::unique_ptr<std::istream> stream;
    std::unique_ptr<gdcm::Reader> reader_ptr = std::make_unique<gdcm::Reader>();
    gdcm::Reader &reader() { return *reader_ptr; }
    // Native little-endian Pixel Data that ends the file is not parsed by GDCM: the whole
    // element (header and value) stays in `bytes` at [pixel_begin, bytes.size()) and is appended
    // verbatim after the edited data set.
    bool pixel_in_place = false;
    bool pixel_removed = false;
    size_t pixel_begin = 0;
    // The data set was read as implicit VR and converted (cgdcm_edit_make_explicit): an in-place
    // native Pixel Data element, encoded implicit, can no longer be appended as it is.
    bool made_explicit = false;
    std::vector<gdcm::Tag> order;  // top-level tags, refreshed after each edit
    bool order_stale = true;
    ~cgdcm_edit() {  // the parser lets go of `bytes` before they go to the thread's spare
        reader_ptr.reset();
        stream.reset();
        buffer.reset();
        cgdcm::recycle(bytes);
    }
};

namespace {

gdcm::Tag to_tag(uint32_t t) { return gdcm::Tag(static_cast<uint16_t>(t >> 16), static_cast<uint16_t>(t & 0xFFFF)); }

std::string tag_text(uint32_t t) {
    char s[16];
    std::snprintf(s, sizeof s, "(%04X,%04X)", t >> 16, t & 0xFFFF);
    return s;
}

const gdcm::Tag kPixelData(0x7fe0, 0x0010);

void refresh(cgdcm_edit *e) {
    if (!e->order_stale) return;
    e->order.clear();
    const gdcm::DataSet &ds = e->reader().GetFile().GetDataSet();
    for (const gdcm::DataElement &de : ds.GetDES()) e->order.push_back(de.GetTag());
    if (e->pixel_in_place && !e->pixel_removed) e->order.push_back(kPixelData);
    e->order_stale = false;
}

/// Reads the data set up to Pixel Data; keeps the Pixel Data element in place when it is native
/// and the last thing in the file.
bool read_up_to_pixels(cgdcm_edit *e) {
    cgdcm::NativePixels px{};
    if (!cgdcm::read_up_to_native_pixels(e->reader(), *e->stream, e->bytes, px)) return false;
    if (px.value + px.length != e->bytes.size()) return false;
    e->pixel_in_place = true;
    e->pixel_begin = px.element;
    return true;
}

/// Checks the structure of `e->bytes`, then parses them.
int parse_bytes(cgdcm_edit *e) {
    std::string why;
    if (cgdcm::not_dicom(e->bytes)) return cgdcm::fail(CGDCM_ERR_PARSE, cgdcm::not_dicom_message);
    if (!cgdcm::check_structure(e->bytes, why)) return cgdcm::fail(CGDCM_ERR_PARSE, "not a readable DICOM file: " + why);
    e->buffer = std::make_unique<cgdcm::MemoryBuffer>(e->bytes.data(), e->bytes.size());
    e->stream = std::make_unique<std::istream>(e->buffer.get());
    e->reader().SetStream(*e->stream);
    if (read_up_to_pixels(e)) return CGDCM_OK;
    e->pixel_in_place = false;
    e->reader_ptr = std::make_unique<gdcm::Reader>();
    e->stream->clear();
    e->stream->seekg(0);
    e->reader().SetStream(*e->stream);
    if (!e->reader().Read()) return cgdcm::parse_failure(e->bytes);
    return CGDCM_OK;
}

/// The element's VR, from the public dictionary when the file does not say (implicit VR).
gdcm::VR effective_vr(const gdcm::File &file, const gdcm::DataElement &de) {
    gdcm::VR vr = de.GetVR();
    if (vr != gdcm::VR::INVALID && vr != gdcm::VR::UN) return vr;
    return cgdcm::dictionary_vr(file, de.GetTag());
}

/// A text value padded to even length (PS3.5 6.2): NUL for UI, space for the other string VRs.
gdcm::DataElement text_element(const gdcm::Tag &tag, gdcm::VR vr, const std::string &value) {
    std::string v = value;
    if (v.size() % 2) v.push_back(vr == gdcm::VR::UI ? '\0' : ' ');
    gdcm::DataElement de(tag);
    de.SetVR(vr);
    de.SetByteValue(v.data(), static_cast<uint32_t>(v.size()));
    return de;
}

/// Repairs a missing transfer syntax, checks the structure, then parses `e->bytes`; an HTJ2K
/// syntax parsed under a stand-in is put back into the parsed meta as the file had it.
int parse(cgdcm_edit *e) {
    std::string uid, stood_in_for;
    cgdcm::repair_missing_transfer_syntax(e->bytes, uid);
    bool stand_in = cgdcm::stand_in_transfer_syntax(e->bytes, stood_in_for);
    int rc = parse_bytes(e);
    if (rc == CGDCM_OK && stand_in) {
        e->reader().GetFile().GetHeader().Replace(text_element(gdcm::Tag(0x0002, 0x0010), gdcm::VR::UI, stood_in_for));
    }
    return rc;
}

/// Completes the file meta (PS3.10 7.1) with what remains after editing: File Meta Information
/// Version and Implementation Class UID when missing, and the group length recomputed.
void finish_meta(gdcm::FileMetaInformation &meta) {
    meta.Remove(gdcm::Tag(0x0002, 0x0000));
    if (!meta.FindDataElement(gdcm::Tag(0x0002, 0x0001))) {
        gdcm::DataElement de(gdcm::Tag(0x0002, 0x0001));
        de.SetVR(gdcm::VR::OB);
        const char version[2] = {0, 1};
        de.SetByteValue(version, 2);
        meta.Insert(de);
    }
    if (!meta.FindDataElement(gdcm::Tag(0x0002, 0x0012))) {
        meta.Insert(text_element(gdcm::Tag(0x0002, 0x0012), gdcm::VR::UI, gdcm::FileMetaInformation::GetImplementationClassUID()));
    }
    uint32_t length = 0;
    for (const gdcm::DataElement &de : meta.GetDES()) length += de.GetLength<gdcm::ExplicitDataElement>();
    gdcm::DataElement group(gdcm::Tag(0x0002, 0x0000));
    group.SetVR(gdcm::VR::UL);
    unsigned char le[4] = {static_cast<unsigned char>(length), static_cast<unsigned char>(length >> 8),
                           static_cast<unsigned char>(length >> 16), static_cast<unsigned char>(length >> 24)};
    group.SetByteValue(reinterpret_cast<const char *>(le), 4);
    meta.Insert(group);
}

/// Puts the new Pixel Data element `de` in place of the old one (and of the Extended Offset
/// Table (7FE0,0001)/(7FE0,0002) and its lengths, which describe the old encoding, PS3.5 A.4),
/// the data set written as `ts` with (0002,0010) `uid`.
void install_pixels(cgdcm_edit *e, const gdcm::DataElement &de, const gdcm::TransferSyntax &ts, const std::string &uid) {
    gdcm::DataSet &ds = e->reader().GetFile().GetDataSet();
    ds.Remove(kPixelData);
    ds.Remove(gdcm::Tag(0x7fe0, 0x0001));
    ds.Remove(gdcm::Tag(0x7fe0, 0x0002));
    ds.Insert(de);
    e->pixel_removed = true;  // the in-place element (if any) is not appended
    gdcm::FileMetaInformation &meta = e->reader().GetFile().GetHeader();
    meta.SetDataSetTransferSyntax(ts);
    meta.Replace(text_element(gdcm::Tag(0x0002, 0x0010), gdcm::VR::UI, uid));
    e->order_stale = true;
}

/// Gives an implicit VR data set the VRs of the data dictionary (GDCM's FileExplicitFilter: UN for
/// unknown private elements, sequences of undefined length) and makes it Explicit VR Little Endian.
/// GDCM asserts on a US-or-SS attribute whose tag precedes Pixel Representation (0028,0103) but
/// Perimeter Value (0028,0071): PS3.6 has two, Zero Velocity Pixel Value (0018,9810) and Mapped
/// Pixel Value (0022,1452). At the top level they are taken out before the conversion and put
/// back with US, or SS when Pixel Representation is 1; in a sequence item the conversion fails.
int convert_to_explicit(cgdcm_edit *e) {
    gdcm::DataSet &ds = e->reader().GetFile().GetDataSet();
    const gdcm::Tag pixel_representation(0x0028, 0x0103);
    std::vector<gdcm::DataElement> early;
    for (const gdcm::Tag t : {gdcm::Tag(0x0018, 0x9810), gdcm::Tag(0x0022, 0x1452)}) {
        if (!ds.FindDataElement(t)) continue;
        early.push_back(ds.GetDataElement(t));
        ds.Remove(t);
    }
    gdcm::FileExplicitFilter filter;
    filter.SetFile(e->reader().GetFile());
    filter.SetChangePrivateTags(false);
    filter.SetUseVRUN(true);  // (GDCM 3.0 does not implement recomputing lengths)
    if (!filter.Change()) return cgdcm::fail(CGDCM_ERR_PARSE, "cannot convert the implicit VR data set to explicit VR");
    bool sgnd = false;
    if (ds.FindDataElement(pixel_representation)) {
        const gdcm::ByteValue *bv = ds.GetDataElement(pixel_representation).GetByteValue();
        sgnd = bv && bv->GetLength() >= 2 && (static_cast<unsigned char>(bv->GetPointer()[0]) | static_cast<unsigned char>(bv->GetPointer()[1]) << 8) == 1;
    }
    for (gdcm::DataElement de : early) {
        de.SetVR(sgnd ? gdcm::VR::SS : gdcm::VR::US);
        ds.Insert(de);
    }
    gdcm::FileMetaInformation &meta = e->reader().GetFile().GetHeader();
    meta.SetDataSetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
    meta.Replace(text_element(gdcm::Tag(0x0002, 0x0010), gdcm::VR::UI, "1.2.840.10008.1.2.1"));
    e->made_explicit = true;
    e->order_stale = true;
    return CGDCM_OK;
}

}  // namespace

extern "C" {

int cgdcm_edit_open_path(const char *path, cgdcm_edit **out) {
    return cgdcm::guard([&]() -> int {
        if (!path || !out) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        cgdcm_quiet();
        auto e = std::make_unique<cgdcm_edit>();
        int rc = cgdcm::read_file(path, e->bytes);
        if (rc != CGDCM_OK) return rc;
        rc = parse(e.get());
        if (rc != CGDCM_OK) return rc;
        *out = e.release();
        return CGDCM_OK;
    });
}

void cgdcm_edit_close(cgdcm_edit *edit) { delete edit; }

int cgdcm_edit_count(cgdcm_edit *edit, size_t *count) {
    return cgdcm::guard([&]() -> int {
        if (!edit || !count) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        refresh(edit);
        *count = edit->order.size();
        return CGDCM_OK;
    });
}

int cgdcm_edit_element(cgdcm_edit *edit, size_t index, uint32_t *tag, char vr[3]) {
    return cgdcm::guard([&]() -> int {
        if (!edit || !tag || !vr) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        refresh(edit);
        if (index >= edit->order.size()) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "element index out of range");
        const gdcm::Tag &t = edit->order[index];
        if (edit->pixel_in_place && t == kPixelData) {
            *tag = 0x7fe00010u;
            bool explicit_vr = edit->reader().GetFile().GetHeader().GetDataSetTransferSyntax().IsExplicit();
            vr[0] = explicit_vr ? edit->bytes[edit->pixel_begin + 4] : 'O';
            vr[1] = explicit_vr ? edit->bytes[edit->pixel_begin + 5] : 'W';
            vr[2] = '\0';
            return CGDCM_OK;
        }
        const gdcm::DataElement &de = edit->reader().GetFile().GetDataSet().GetDataElement(t);
        *tag = static_cast<uint32_t>(t.GetGroup()) << 16 | t.GetElement();
        const char *name = gdcm::VR::GetVRString(effective_vr(edit->reader().GetFile(), de));
        vr[0] = name && std::strlen(name) == 2 ? name[0] : '?';
        vr[1] = name && std::strlen(name) == 2 ? name[1] : '?';
        vr[2] = '\0';
        return CGDCM_OK;
    });
}

int cgdcm_edit_string(cgdcm_edit *edit, uint32_t tag, char *buf, size_t cap, size_t *len) {
    return cgdcm::guard([&]() -> int {
        if (!edit) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        gdcm::Tag t = to_tag(tag);
        const gdcm::File &file = edit->reader().GetFile();
        const gdcm::DataSet &ds = t.GetGroup() == 0x0002 ? static_cast<const gdcm::DataSet &>(file.GetHeader()) : file.GetDataSet();
        if (!ds.FindDataElement(t)) return CGDCM_ABSENT;
        const gdcm::DataElement &de = ds.GetDataElement(t);
        std::string s;
        if (de.IsEmpty()) {
            s = "";
        } else if (effective_vr(file, de) & gdcm::VR::VRASCII) {
            const gdcm::ByteValue *bv = de.GetByteValue();
            if (bv) s.assign(bv->GetPointer(), bv->GetLength());
            while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
        } else {
            std::string problem = cgdcm::element_vr_problem(de, 0, file);
            if (!problem.empty()) return cgdcm::fail(CGDCM_ERR_PARSE, problem);
            gdcm::StringFilter filter;
            filter.SetFile(file);
            s = filter.ToString(t);
        }
        if (len) *len = s.size();
        if (buf && cap > 0) {
            size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
            std::memcpy(buf, s.data(), n);
            buf[n] = '\0';
        }
        return CGDCM_OK;
    });
}

int cgdcm_edit_remove(cgdcm_edit *edit, uint32_t tag) {
    return cgdcm::guard([&]() -> int {
        if (!edit) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        gdcm::Tag t = to_tag(tag);
        if (t == kPixelData && edit->pixel_in_place) edit->pixel_removed = true;
        else edit->reader().GetFile().GetDataSet().Remove(t);
        edit->order_stale = true;
        return CGDCM_OK;
    });
}

int cgdcm_edit_remove_meta(cgdcm_edit *edit, uint32_t tag) {
    return cgdcm::guard([&]() -> int {
        if (!edit) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        if (tag >> 16 != 0x0002) return cgdcm::fail(CGDCM_ERR_ARGUMENT, tag_text(tag) + " is not a file meta attribute");
        edit->reader().GetFile().GetHeader().Remove(to_tag(tag));
        return CGDCM_OK;
    });
}

int cgdcm_edit_set(cgdcm_edit *edit, uint32_t tag, const char *vr, const char *value) {
    return cgdcm::guard([&]() -> int {
        if (!edit || !vr || !value) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        gdcm::VR v = gdcm::VR::GetVRType(vr);
        if (!(v & gdcm::VR::VRASCII)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, tag_text(tag) + ": VR " + vr + " is not a text VR");
        gdcm::Tag t = to_tag(tag);
        gdcm::DataElement de = text_element(t, v, value);
        if (t.GetGroup() == 0x0002) edit->reader().GetFile().GetHeader().Replace(de);
        else edit->reader().GetFile().GetDataSet().Replace(de);
        edit->order_stale = true;
        return CGDCM_OK;
    });
}

int cgdcm_edit_set_codes(cgdcm_edit *edit, uint32_t tag, const char *const *codes, size_t count) {
    return cgdcm::guard([&]() -> int {
        if (!edit || (!codes && count)) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        gdcm::SmartPointer<gdcm::SequenceOfItems> sq = new gdcm::SequenceOfItems;
        sq->SetLengthToUndefined();
        for (size_t i = 0; i < count; ++i) {
            const char *value = codes[3 * i], *scheme = codes[3 * i + 1], *meaning = codes[3 * i + 2];
            if (!value || !scheme || !meaning) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null code string");
            gdcm::Item item;
            item.SetVLToUndefined();
            gdcm::DataSet &nested = item.GetNestedDataSet();
            nested.Insert(text_element(gdcm::Tag(0x0008, 0x0100), gdcm::VR::SH, value));
            nested.Insert(text_element(gdcm::Tag(0x0008, 0x0102), gdcm::VR::SH, scheme));
            nested.Insert(text_element(gdcm::Tag(0x0008, 0x0104), gdcm::VR::LO, meaning));
            sq->AddItem(item);
        }
        gdcm::DataElement de(to_tag(tag));
        de.SetVR(gdcm::VR::SQ);
        de.SetValue(*sq);
        de.SetVLToUndefined();
        edit->reader().GetFile().GetDataSet().Replace(de);
        edit->order_stale = true;
        return CGDCM_OK;
    });
}

int cgdcm_edit_set_native_pixels(cgdcm_edit *edit, const uint8_t *bytes, size_t length, int word_sized,
                                 const char *transfer_syntax) {
    return cgdcm::guard([&]() -> int {
        if (!edit || (!bytes && length) || !transfer_syntax) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        if (length >= 0xFFFFFFFEu) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "native Pixel Data of " + std::to_string(length) + " bytes exceeds a 32-bit length");
        gdcm::FileMetaInformation &meta = edit->reader().GetFile().GetHeader();
        const bool implicit_now = !meta.GetDataSetTransferSyntax().IsExplicit();
        const std::string uid = transfer_syntax;
        gdcm::TransferSyntax ts;
        if (uid == "1.2.840.10008.1.2") ts = gdcm::TransferSyntax::ImplicitVRLittleEndian;
        else if (uid == "1.2.840.10008.1.2.1") ts = gdcm::TransferSyntax::ExplicitVRLittleEndian;
        else return cgdcm::fail(CGDCM_ERR_ARGUMENT, "native pixels are written in Implicit or Explicit VR Little Endian, not " + uid);
        if (implicit_now != !ts.IsExplicit()) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "the data set was read as " + std::string(implicit_now ? "implicit" : "explicit") +
                                                       " VR and cannot be written as " + uid);
        }
        std::string value(reinterpret_cast<const char *>(bytes), length);
        if (value.size() % 2) value.push_back('\0');
        gdcm::DataElement de(kPixelData);
        de.SetVR(word_sized ? gdcm::VR::OW : gdcm::VR::OB);
        de.SetByteValue(value.data(), static_cast<uint32_t>(value.size()));
        install_pixels(edit, de, ts, uid);
        return CGDCM_OK;
    });
}

int cgdcm_edit_make_explicit(cgdcm_edit *edit) {
    return cgdcm::guard([&]() -> int {
        if (!edit) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null handle");
        const gdcm::TransferSyntax &now = edit->reader().GetFile().GetHeader().GetDataSetTransferSyntax();
        if (now.GetSwapCode() == gdcm::SwapCode::BigEndian) {
            return cgdcm::fail(CGDCM_ERR_UNSUPPORTED, "an Explicit VR Big Endian data set cannot be rewritten as little endian");
        }
        if (now.IsExplicit()) return CGDCM_OK;
        // GDCM's VR lookup asserts on some attributes (Debian builds it with assertions on), e.g.
        // a US-or-SS attribute that precedes Pixel Representation (0028,0103): the conversion is
        // tried first in a child process, on its copy, and done here only when it succeeded there.
        char unused = 0;
        int rc = cgdcm::run_isolated("implicit to explicit VR conversion (GDCM)", &unused, 1, 120,
                                     [&](void *) { return convert_to_explicit(edit); });
        return rc == CGDCM_OK ? convert_to_explicit(edit) : rc;
    });
}

int cgdcm_edit_set_encapsulated_pixels(cgdcm_edit *edit, const uint8_t *const *fragments, const size_t *lengths, size_t count,
                                       const char *transfer_syntax) {
    return cgdcm::guard([&]() -> int {
        if (!edit || !transfer_syntax || (count && (!fragments || !lengths))) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        if (count == 0) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "encapsulated Pixel Data needs at least one fragment");
        gdcm::FileMetaInformation &meta = edit->reader().GetFile().GetHeader();
        if (!meta.GetDataSetTransferSyntax().IsExplicit() || meta.GetDataSetTransferSyntax().GetSwapCode() == gdcm::SwapCode::BigEndian) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "encapsulated Pixel Data needs an Explicit VR Little Endian data set");
        }
        // Basic Offset Table (PS3.5 A.4, Table A.4-1): 32-bit offsets, so the items before the
        // last fragment must fit in 2^32 - 1 bytes; every item value below 2^32 - 2 bytes.
        std::string table;
        table.reserve(4 * count);
        uint64_t offset = 0;
        for (size_t i = 0; i < count; ++i) {
            if (!fragments[i] || lengths[i] == 0) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "empty fragment " + std::to_string(i));
            if (lengths[i] >= 0xFFFFFFFEu) return cgdcm::fail(CGDCM_ERR_UNSUPPORTED, "fragment " + std::to_string(i) + " of " + std::to_string(lengths[i]) + " bytes exceeds a 32-bit item length");
            if (offset > 0xFFFFFFFFu) {
                return cgdcm::fail(CGDCM_ERR_UNSUPPORTED, "encapsulated Pixel Data beyond 4 GiB: the Basic Offset Table cannot address fragment " + std::to_string(i));
            }
            const uint32_t o = static_cast<uint32_t>(offset);
            const char le[4] = {static_cast<char>(o), static_cast<char>(o >> 8), static_cast<char>(o >> 16), static_cast<char>(o >> 24)};
            table.append(le, 4);
            offset += 8 + lengths[i] + (lengths[i] % 2);
        }
        if (table.size() >= 0xFFFFFFFEu) return cgdcm::fail(CGDCM_ERR_UNSUPPORTED, "Basic Offset Table too long");
        gdcm::SmartPointer<gdcm::SequenceOfFragments> sq = new gdcm::SequenceOfFragments;
        sq->GetTable().SetByteValue(table.data(), static_cast<uint32_t>(table.size()));
        for (size_t i = 0; i < count; ++i) {
            std::string value(reinterpret_cast<const char *>(fragments[i]), lengths[i]);
            if (value.size() % 2) value.push_back('\0');
            gdcm::Fragment frag;
            frag.SetByteValue(value.data(), static_cast<uint32_t>(value.size()));
            sq->AddFragment(frag);
        }
        gdcm::DataElement de(kPixelData);
        de.SetVR(gdcm::VR::OB);
        de.SetValue(*sq);  // a sequence of fragments has undefined length (PS3.5 A.4)
        if (!de.GetVL().IsUndefined()) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "encapsulated Pixel Data without undefined length");
        // GDCM 3.0 knows no HTJ2K UID: the data set is written as an encapsulated syntax it knows
        // (the same byte layout: Explicit VR Little Endian, PS3.5 A.4) and (0002,0010) names
        // `transfer_syntax`, as the parse of an HTJ2K file does (meta_repair.cpp).
        install_pixels(edit, de, gdcm::TransferSyntax::JPEG2000Lossless, transfer_syntax);
        return CGDCM_OK;
    });
}

int cgdcm_edit_write(cgdcm_edit *edit, const char *path) {
    return cgdcm::guard([&]() -> int {
        if (!edit || !path) return cgdcm::fail(CGDCM_ERR_ARGUMENT, "null argument");
        if (edit->made_explicit && edit->pixel_in_place && !edit->pixel_removed) {
            return cgdcm::fail(CGDCM_ERR_ARGUMENT, "implicit VR Pixel Data kept in a data set converted to explicit VR");
        }
        finish_meta(edit->reader().GetFile().GetHeader());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        if (!out.is_open()) return cgdcm::fail(CGDCM_ERR_IO, std::string("cannot create ") + path);
        gdcm::Writer writer;
        writer.SetFile(edit->reader().GetFile());
        writer.SetStream(out);
        writer.CheckFileMetaInformationOff();  // the meta is written as finish_meta left it
        if (!writer.Write()) return cgdcm::fail(CGDCM_ERR_IO, std::string("cannot write ") + path);
        if (edit->pixel_in_place && !edit->pixel_removed) {
            out.write(edit->bytes.data() + edit->pixel_begin, static_cast<std::streamsize>(edit->bytes.size() - edit->pixel_begin));
        }
        out.close();
        if (!out) return cgdcm::fail(CGDCM_ERR_IO, std::string("cannot write ") + path);
        return CGDCM_OK;
    });
}

}  // extern "C"
