// The VRs allowed for each attribute the SDK reads. Every read of such an attribute, in the raw
// pre-parse walk (preflight.cpp) and in the accessors of gdcm_file.cpp and deid.cpp, is checked
// against this one table before GDCM's StringFilter sees the element: Debian's GDCM asserts (and
// aborts the process) when, say, Rows (0028,0010) arrives as SV, UV, OV, OD or OL.
#pragma once
#include <cstdint>
#include <string>

#include <gdcm-3.0/gdcmVR.h>

namespace gdcm {
class DataElement;
class File;
class Tag;
}

namespace cgdcm {

/// The reason the element (g,e) inside the sequence `parent` ((group << 16) | element, 0 at the
/// top level) with value representation `vr` (two characters; nullptr in implicit VR data, where
/// the dictionary VR applies, PS3.5 7.1.3) and `length` value bytes cannot be read as the SDK
/// reads it; "" when it can, or when the SDK does not read that attribute.
///
/// String attributes (PS3.6 VR AE, AS, CS, DS, IS, LO, ...) take any string VR, since all are
/// read as text; binary ones (US, US or SS) take exactly their PS3.6 VRs. UN (PS3.5 6.2.2) is
/// accepted for both, as GDCM then reads the value with the dictionary VR. Binary values must
/// be whole numbers of their unit (2 bytes for US/SS).
std::string attribute_vr_problem(uint32_t parent, uint16_t g, uint16_t e, const char *vr, uint32_t length);

/// The VR the data dictionary gives `tag` (PS3.6; PS3.5 7.1.3: implicit VR data, and UN) at the
/// top level of `file`, resolved as GDCM's DataSetHelper::ComputeVR resolves it but without its
/// assertions, which abort the process in Debian's build: "US or SS" from Pixel Representation
/// (0028,0103), US when the data set has none or when the attribute precedes it (Zero Velocity
/// Pixel Value (0018,9810) does); "OB or OW" as OW for Pixel, Overlay and Waveform Data and OB
/// otherwise; "US or SS or OW" and "US or OW" as OW; UN for a tag the dictionary does not know.
gdcm::VR dictionary_vr(const gdcm::File &file, const gdcm::Tag &tag);

/// The same check on an element GDCM has parsed (its VR as read; implicit VR data has none).
/// For an attribute outside the table, the reason its VR (or without one, `dictionary_vr`) is not a string VR or a fixed-size number (US, SS,
/// UL, SL, FL, FD), which StringFilter would assert on. Every accessor calls this before handing
/// an element to gdcm::StringFilter.
std::string element_vr_problem(const gdcm::DataElement &de, uint32_t parent, const gdcm::File &file);

/// "(GGGG,EEEE)".
std::string tag_string(uint16_t g, uint16_t e);

}  // namespace cgdcm
