#include "attribute_vrs.hpp"

#include <gdcm-3.0/gdcmDataElement.h>
#include <gdcm-3.0/gdcmDicts.h>
#include <gdcm-3.0/gdcmGlobal.h>
#include <gdcm-3.0/gdcmFile.h>

#include <cstdio>
#include <cstring>

namespace cgdcm {

namespace {

constexpr uint32_t tag(uint16_t g, uint16_t e) { return static_cast<uint32_t>(g) << 16 | e; }

/// One attribute the SDK reads: where it sits, and its VRs from PS3.6 (space separated; "text"
/// for any string VR).
struct ReadAttribute {
    uint32_t parent;  // enclosing sequence, 0 for the top level
    uint32_t tag;
    const char *vrs;
    const char *name;
};

constexpr uint32_t kModalityLUT = tag(0x0028, 0x3000), kVOILUT = tag(0x0028, 0x3010);

const ReadAttribute kRead[] = {
    // PS3.3 C.7.6.3 Image Pixel
    {0, tag(0x0028, 0x0002), "US", "Samples per Pixel"},
    {0, tag(0x0028, 0x0004), "text", "Photometric Interpretation"},
    {0, tag(0x0028, 0x0006), "US", "Planar Configuration"},
    {0, tag(0x0028, 0x0008), "text", "Number of Frames"},
    {0, tag(0x0028, 0x0010), "US", "Rows"},
    {0, tag(0x0028, 0x0011), "US", "Columns"},
    {0, tag(0x0028, 0x0030), "text", "Pixel Spacing"},
    {0, tag(0x0018, 0x1164), "text", "Imager Pixel Spacing"},
    {0, tag(0x0028, 0x0100), "US", "Bits Allocated"},
    {0, tag(0x0028, 0x0101), "US", "Bits Stored"},
    {0, tag(0x0028, 0x0102), "US", "High Bit"},
    {0, tag(0x0028, 0x0103), "US", "Pixel Representation"},
    {0, tag(0x0028, 0x0301), "text", "Burned In Annotation"},
    // PS3.3 C.11.1 Modality LUT, C.11.2 VOI LUT
    {0, tag(0x0028, 0x1050), "text", "Window Center"},
    {0, tag(0x0028, 0x1051), "text", "Window Width"},
    {0, tag(0x0028, 0x1052), "text", "Rescale Intercept"},
    {0, tag(0x0028, 0x1053), "text", "Rescale Slope"},
    {0, tag(0x0028, 0x1054), "text", "Rescale Type"},
    {0, tag(0x0028, 0x1055), "text", "Window Center & Width Explanation"},
    {0, tag(0x0028, 0x1056), "text", "VOI LUT Function"},
    {0, kModalityLUT, "SQ", "Modality LUT Sequence"},
    {0, kVOILUT, "SQ", "VOI LUT Sequence"},
    {kModalityLUT, tag(0x0028, 0x3002), "US SS", "LUT Descriptor"},
    {kModalityLUT, tag(0x0028, 0x3003), "text", "LUT Explanation"},
    {kModalityLUT, tag(0x0028, 0x3006), "US SS OW", "LUT Data"},
    {kVOILUT, tag(0x0028, 0x3002), "US SS", "LUT Descriptor"},
    {kVOILUT, tag(0x0028, 0x3003), "text", "LUT Explanation"},
    {kVOILUT, tag(0x0028, 0x3006), "US SS OW", "LUT Data"},
    // Patient, study and equipment attributes read for screening and the Python API
    {0, tag(0x0010, 0x0040), "text", "Patient's Sex"},
    {0, tag(0x0010, 0x1010), "text", "Patient's Age"},
    {0, tag(0x0008, 0x0018), "text", "SOP Instance UID"},
    {0, tag(0x0008, 0x0060), "text", "Modality"},
    {0, tag(0x0018, 0x0015), "text", "Body Part Examined"},
    {0, tag(0x0018, 0x5101), "text", "View Position"},
};

/// PS3.5 Table 6.2-1 string VRs.
bool text_vr(const char *vr) {
    static const char *kinds[] = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"};
    for (const char *k : kinds)
        if (std::memcmp(vr, k, 2) == 0) return true;
    return false;
}

bool listed(const char *vrs, const char *vr) {
    for (const char *p = vrs; *p; p += p[2] ? 3 : 2)
        if (std::memcmp(p, vr, 2) == 0) return true;
    return false;
}

const ReadAttribute *find_read(uint32_t parent, uint16_t g, uint16_t e) {
    const ReadAttribute *a = nullptr;
    for (const ReadAttribute &r : kRead)
        if (r.parent == parent && r.tag == tag(g, e)) a = &r;
    return a;
}

/// The VRs gdcm::StringFilter turns into text: the string VRs and the fixed-size numbers. It
/// asserts on others (UV, SV, OV... arrived after Debian's GDCM 3.0 was written).
bool filter_reads(gdcm::VR vr) {
    if (vr == gdcm::VR::INVALID || vr == gdcm::VR::UN) return false;
    if ((vr & gdcm::VR::VRASCII) == vr) return true;
    return vr == gdcm::VR::US || vr == gdcm::VR::SS || vr == gdcm::VR::UL || vr == gdcm::VR::SL ||
           vr == gdcm::VR::FL || vr == gdcm::VR::FD;
}

}  // namespace

std::string tag_string(uint16_t g, uint16_t e) {
    char s[16];
    std::snprintf(s, sizeof s, "(%04X,%04X)", g, e);
    return s;
}

std::string attribute_vr_problem(uint32_t parent, uint16_t g, uint16_t e, const char *vr, uint32_t length) {
    const ReadAttribute *a = find_read(parent, g, e);
    if (!a) return "";
    bool text = std::strcmp(a->vrs, "text") == 0;
    bool unknown = !vr || std::memcmp(vr, "UN", 2) == 0;  // implicit VR or UN: the dictionary VR applies
    if (!unknown && !(text ? text_vr(vr) : listed(a->vrs, vr))) {
        return a->name + std::string(" ") + tag_string(g, e) + " has VR " + std::string(vr, 2) + "; PS3.6 allows " +
               (text ? std::string("a string VR") : std::string(a->vrs)) + " (PS3.5 6.2)";
    }
    bool words = !text && std::strcmp(a->vrs, "SQ") != 0;
    if (words && length != 0xFFFFFFFFu && length % 2 != 0) {
        return a->name + std::string(" ") + tag_string(g, e) + " has " + std::to_string(length) +
               " value bytes, not a whole number of 16-bit values (PS3.5 6.2)";
    }
    return "";
}

namespace {

/// The dictionary's entry for `tag` as it stands: possibly several VRs ("US or SS"), INVALID when
/// the tag is unknown.
gdcm::VR listed_vr(const gdcm::File &file, const gdcm::Tag &tag) {
    if (tag.IsGroupLength()) return gdcm::VR::UL;
    if (tag.IsPrivateCreator()) return gdcm::VR::LO;
    std::string owner;
    if (tag.IsPrivate()) owner = file.GetDataSet().GetPrivateCreator(tag);
    return gdcm::Global::GetInstance().GetDicts().GetDictEntry(tag, tag.IsPrivate() ? owner.c_str() : nullptr).GetVR();
}

}  // namespace

gdcm::VR dictionary_vr(const gdcm::File &file, const gdcm::Tag &tag) {
    const gdcm::DataSet &ds = file.GetDataSet();
    const gdcm::VR vr = listed_vr(file, tag);
    switch (vr) {
    case gdcm::VR::US_SS: {
        const gdcm::Tag pixel_representation(0x0028, 0x0103);
        if (tag < pixel_representation || !ds.FindDataElement(pixel_representation)) return gdcm::VR::US;
        const gdcm::ByteValue *bv = ds.GetDataElement(pixel_representation).GetByteValue();
        const bool sgnd = bv && bv->GetLength() >= 2 && (static_cast<unsigned char>(bv->GetPointer()[0]) | static_cast<unsigned char>(bv->GetPointer()[1])) != 0;
        return sgnd ? gdcm::VR::SS : gdcm::VR::US;
    }
    case gdcm::VR::OB_OW: {
        const uint16_t g = tag.GetGroup();
        const bool words = tag == gdcm::Tag(0x7fe0, 0x0010) || ((g & 0xFF00) == 0x6000 && tag.GetElement() == 0x3000) ||
                           tag == gdcm::Tag(0x5400, 0x1010) || tag == gdcm::Tag(0x5400, 0x100a);
        return words ? gdcm::VR::OW : gdcm::VR::OB;
    }
    case gdcm::VR::US_SS_OW:
    case gdcm::VR::US_OW:
        return gdcm::VR::OW;
    default:
        return vr.IsVRFile() ? vr : gdcm::VR(gdcm::VR::UN);
    }
}

std::string element_vr_problem(const gdcm::DataElement &de, uint32_t parent, const gdcm::File &file) {
    gdcm::VR vr = de.GetVR();
    const char *name = vr == gdcm::VR::INVALID ? nullptr : gdcm::VR::GetVRString(vr);
    if (name && std::strlen(name) != 2) name = nullptr;  // a dictionary VR such as "US or SS"
    const gdcm::VL &vl = de.GetVL();
    uint32_t length = vl.IsUndefined() ? 0xFFFFFFFFu : static_cast<uint32_t>(vl);
    const uint16_t g = de.GetTag().GetGroup(), e = de.GetTag().GetElement();
    if (find_read(parent, g, e)) return attribute_vr_problem(parent, g, e, name, length);
    // Any other attribute read as text (a UID to be replaced, a file meta attribute): its VR as
    // written, or without one (implicit VR, UN) the dictionary's, must be one StringFilter reads.
    if (vr == gdcm::VR::INVALID || vr == gdcm::VR::UN) {
        if (de.GetTag().IsPrivate()) return tag_string(g, e) + " is a private attribute of unknown VR; it is not read as text";
        vr = listed_vr(file, de.GetTag());
        // StringFilter resolves a choice of VRs itself, with assertions ("US or SS" before Pixel
        // Representation, or outside (0028,0104)-(0028,0111), aborts it).
        if (vr != gdcm::VR::INVALID && !vr.IsVRFile()) {
            return tag_string(g, e) + " has no VR in the file and PS3.6 allows " + gdcm::VR::GetVRString(vr) + "; it is not read as text";
        }
        name = vr == gdcm::VR::INVALID ? nullptr : gdcm::VR::GetVRString(vr);
    }
    if (filter_reads(vr)) return "";
    std::string shown = name && std::strlen(name) == 2 ? name : "unknown";
    return tag_string(g, e) + " has VR " + shown + ", which is not read as text (PS3.5 6.2)";
}

}  // namespace cgdcm
