"""De-identification and screening against independent oracles: pydicom reads every output and
finds only the attributes each profile allows (lists written here from the VinDr-CXR paper's
Table 4 and PS3.15 Annex E, not taken from the implementation) and no PHI string in the bytes;
GDCM's gdcminfo/gdcmdump open every output; Pixel Data bytes equal the input's."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pty
import subprocess
import sys
import zlib

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import corpus
import vindr
from vindr import _lib

pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the release's MD5 ids in (0002,0003)

PHI = ["DOE^JANE^QUINN", "PID-99817-X", "19610203", "42 Elm Street Springfield", "St Mary General Hospital",
       "HOUSE^GREGORY", "ACC-7731-Z", "WILSON^JAMES", "555-0199", "PrivateVendorSecret", "OVERLAYSECRET",
       "Cardiology Dept 7", "CURVESECRET"]

# The VinDr-CXR paper's Table 4 (the 25 attributes the release kept), typed from the paper in its
# row order: Patient's Sex, Age, Size, Weight, Rows, Columns, Pixel Spacing, Pixel Aspect Ratio,
# Bits Allocated, Bits Stored, High Bit, Pixel Representation, Smallest and Largest Image Pixel
# Value, Window Center, Window Width, Rescale Intercept, Rescale Slope, Pixel Data, Photometric
# Interpretation, Lossy Image Compression, Lossy Image Compression Method, Image Compression Ratio,
# Samples per Pixel, Number of Frames.
VINDR_ALLOWED = {0x00100040, 0x00101010, 0x00101020, 0x00101030, 0x00280010, 0x00280011, 0x00280030, 0x00280034,
                 0x00280100, 0x00280101, 0x00280102, 0x00280103, 0x00280106, 0x00280107, 0x00281050, 0x00281051,
                 0x00281052, 0x00281053, 0x7FE00010, 0x00280004, 0x00282110, 0x00282114, 0x00282112, 0x00280002,
                 0x00280008}
assert len(VINDR_ALLOWED) == 25
# PS3.15 Annex E Table E.1-1, Basic Profile + Retain Patient Characteristics, for a DX image:
# retained (K/C) attributes, U (UIDs), Z (emptied), and the attributes the profile adds.
BASIC_RETAINED = VINDR_ALLOWED | {0x00080005, 0x00080008, 0x00080016, 0x00080060, 0x00080068, 0x00102160, 0x001021A0,
                                  0x001021C0, 0x00180015, 0x00180060, 0x00181164, 0x00185101, 0x00200011, 0x00200013,
                                  0x00200020, 0x00200062, 0x00280006, 0x00280008, 0x00280030, 0x00280301, 0x00281040,
                                  0x00281054, 0x00281056, 0x20500020}
BASIC_UIDS = {0x0020000D, 0x0020000E, 0x00080018, 0x00200052}
BASIC_EMPTY = {0x00100010, 0x00100020, 0x00100030, 0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00200010}
BASIC_ADDED = {0x00120062, 0x00120063, 0x00120064, 0x00280303}
# The file meta group a PS3.10 file needs (7.1): group length, version, Media Storage SOP Class and
# Instance UIDs, Transfer Syntax UID, and the writer's Implementation Class UID and Version Name.
META_ALLOWED = {0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013}

SYNTAXES = ("explicit", "implicit", "big", "deflated", "jpeg70", "jpegls80", "j2k90", "rle")


def phi_dataset(rows=1100, cols=1040, seed=0, **override) -> Dataset:
    """A CXR full of PHI: top level, nested sequence items two deep, private tags, overlay, curve."""
    v = corpus.Variant("phi", rows, cols, windows=[(2048, 4096)], rescale=(1.0, 0.0))
    ds = corpus.base_dataset(v, corpus.cxr_like(rows, cols, 12, False, seed))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientAddress = PHI[0], PHI[1], PHI[2], PHI[3]
    ds.InstitutionName, ds.ReferringPhysicianName, ds.AccessionNumber = PHI[4], PHI[5], PHI[6]
    ds.PerformingPhysicianName, ds.PatientTelephoneNumbers = PHI[7], PHI[8]
    ds.InstitutionalDepartmentName = PHI[11]
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "20200115", "101010", "S1234", 1, 1
    ds.PatientSize, ds.PatientWeight, ds.BurnedInAnnotation = "1.62", "58", "NO"
    ds.FrameOfReferenceUID = pydicom.uid.generate_uid()
    inner = Dataset()
    inner.PersonName, inner.InstitutionName = PHI[7], PHI[4]
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", ds.StudyInstanceUID
    item.PersonIdentificationCodeSequence = Sequence([inner])
    ds.ReferencedStudySequence = Sequence([item])
    request = Dataset()
    request.RequestingPhysician, request.RequestedProcedureID = PHI[5], PHI[6]
    ds.RequestAttributesSequence = Sequence([request])
    block = ds.private_block(0x0099, "ACME PHI", create=True)
    block.add_new(0x01, "LO", PHI[9])
    block.add_new(0x02, "PN", PHI[0])
    ds.add_new(0x60000010, "US", 16)
    ds.add_new(0x60000011, "US", 16)
    ds.add_new(0x60000022, "LO", PHI[10])  # Overlay Description
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60003000, "OW", b"\xa5" * 32)
    ds.add_new(0x50000022, "LO", PHI[12])  # Curve Description (retired)
    for k, val in override.items():
        setattr(ds, k, val)
    return ds


def write(ds: Dataset, path: pathlib.Path, syntax: str = "explicit") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.with_name(path.stem + "-base.dcm") if syntax != "explicit" else path
    ds.save_as(base, enforce_file_format=True)
    if syntax != "explicit":
        subprocess.run([a.format(i=base, o=path) for a in corpus.CONVERT[syntax]], check=True, capture_output=True)
        base.unlink()
    return path


@pytest.fixture(scope="module")
def phi_tree(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("phi")
    for i, syntax in enumerate(SYNTAXES):
        write(phi_dataset(seed=i), root / "site" / f"{syntax}.dcm", syntax)
    return root


def tree_digest(root: pathlib.Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def plain_bytes(path: pathlib.Path) -> bytes:
    """The file's bytes with a deflated data set inflated, so PHI cannot hide in the compression."""
    data = path.read_bytes()
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    if ds.file_meta.TransferSyntaxUID != "1.2.840.10008.1.2.1.99":
        return data
    meta_end = 132 + 12 + ds.file_meta.FileMetaInformationGroupLength
    return data[:meta_end] + zlib.decompress(data[meta_end:], -15)


def all_tags(ds: Dataset) -> list[tuple[int, int]]:
    """(depth, tag) of every element, nested items included."""
    out = []
    def walk(d, depth):
        for el in d:
            out.append((depth, int(el.tag)))
            if el.VR == "SQ":
                for it in el.value:
                    walk(it, depth + 1)
    walk(ds, 0)
    return out


def check_output(out: pathlib.Path, source: pathlib.Path, allowed: set[int], nested_allowed: dict[int, set[int]]):
    ds = pydicom.dcmread(out)
    for depth, tag in all_tags(ds):
        if depth == 0:
            assert tag in allowed, f"{out.name}: attribute {tag:08X} outside the profile"
    for el in ds:
        if el.VR == "SQ":
            assert int(el.tag) in nested_allowed, f"{out.name}: sequence {int(el.tag):08X} kept"
            for it in el.value:
                assert {int(e.tag) for e in it} <= nested_allowed[int(el.tag)]
    assert set(int(t) for t in ds.file_meta.keys()) <= META_ALLOWED
    data = plain_bytes(out)
    src = pydicom.dcmread(source)
    for text in PHI + [src.StudyInstanceUID, src.SeriesInstanceUID, src.SOPInstanceUID, src.FrameOfReferenceUID]:
        assert text.encode() not in data, f"{out.name}: '{text}' found in the output bytes"
    assert ds.file_meta.TransferSyntaxUID == src.file_meta.TransferSyntaxUID
    assert ds.PixelData == src.PixelData, f"{out.name}: Pixel Data bytes differ"
    for tool in ("gdcminfo", "gdcmdump"):
        r = subprocess.run([tool, str(out)], capture_output=True, text=True)
        assert r.returncode == 0, f"{tool} {out}: {r.stderr}"
    return ds


def test_vindr_profile_keeps_only_table4_and_names_by_md5(phi_tree, tmp_path):
    before = tree_digest(phi_tree)
    out = tmp_path / "out"
    result = vindr.deidentify(phi_tree, out, profile="vindr", min_size=512, workers=2)
    assert result.failed == 0 and result.written == len(SYNTAXES), result.files
    assert tree_digest(phi_tree) == before, "the input tree was modified"
    for rec in result.files:
        src = pathlib.Path(rec["input"])
        original = pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID
        image_id = hashlib.md5(original.encode()).hexdigest()
        assert rec["new_id"] == image_id
        path = out / f"{image_id}.dicom"
        assert pathlib.Path(rec["output"]) == path
        ds = check_output(path, src, VINDR_ALLOWED, {})
        assert ds.file_meta.MediaStorageSOPInstanceUID == image_id
        assert ds.PatientSex == "F" and ds.PatientAge == "045Y" and float(ds.PatientWeight) == 58
        assert [float(x) for x in ds.PixelSpacing] == [0.139, 0.139]
        assert "RescaleType" not in ds and "RescaleSlope" in ds
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{r['new_id']}.dicom" for r in result.files)


SDK_IMPLEMENTATION_CLASS_UID = "2.25.193020325496726818961693851682718260677"


def table4_dataset(rows=1100, cols=1040, frames=1, seed=0) -> Dataset:
    """A CR-like image carrying every attribute of Table 4, plus attributes Table 4 does not list
    (Planar Configuration, Rescale Type, Imager Pixel Spacing, SOP UIDs, PHI, private tags), and
    another writer's implementation identity in the file meta."""
    v = corpus.Variant("table4", rows, cols, windows=[(2048, 4096)], rescale=(1.0, -1024.0), frames=frames)
    ds = phi_dataset(rows, cols, seed)
    ds.PixelData = corpus.cxr_like(rows, cols, 12, False, seed, frames).tobytes()
    ds.NumberOfFrames = frames
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    ds.Modality = "CR"
    ds.PixelSpacing = [0.15, 0.16]
    ds.ImagerPixelSpacing = [0.15, 0.16]
    ds.PixelAspectRatio = [16, 15]
    ds.PatientSize, ds.PatientWeight = "1.62", "58"
    ds.SmallestImagePixelValue, ds.LargestImagePixelValue = 0, 4095
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = str(v.rescale[1]), str(v.rescale[0]), "US"
    ds.LossyImageCompression, ds.LossyImageCompressionRatio, ds.LossyImageCompressionMethod = "00", "1", "ISO_10918_1"
    ds.PlanarConfiguration = 0
    ds.file_meta.ImplementationClassUID = "1.2.3.4.5.6.7"
    ds.file_meta.ImplementationVersionName = "OTHERTOOL_9"
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    return ds


def test_vindr_profile_output_is_exactly_the_table4_attributes_present(tmp_path):
    ds = table4_dataset()
    present = {int(e.tag) for e in ds}
    assert VINDR_ALLOWED <= present, "the input must carry every Table 4 attribute"
    assert {0x00280006, 0x00281054, 0x00181164, 0x00080016, 0x00080018} <= present
    src = write(ds, tmp_path / "in" / "cr.dcm")
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", profile="vindr", min_size=512)
    assert result.written == 1, result.files
    image_id = hashlib.md5(ds.SOPInstanceUID.encode()).hexdigest()
    out = pydicom.dcmread(tmp_path / "out" / f"{image_id}.dicom")
    assert {int(e.tag) for e in out} == VINDR_ALLOWED
    for tag in VINDR_ALLOWED:
        assert out[tag].value == ds[tag].value, f"{tag:08X}"
    assert [float(x) for x in out.PixelSpacing] == [0.15, 0.16]
    # File meta: what PS3.10 7.1 requires, with this SDK as the writer; (0002,0003) holds the
    # release's image id (deliberately, as the released files do).
    meta = out.file_meta
    assert {int(t) for t in meta.keys()} == META_ALLOWED
    assert meta.ImplementationClassUID == SDK_IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == f"VINDR_{vindr.__version__}"
    assert meta.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.1"
    assert meta.MediaStorageSOPInstanceUID == image_id
    assert meta.FileMetaInformationVersion == b"\x00\x01"
    check_output(tmp_path / "out" / f"{image_id}.dicom", src, VINDR_ALLOWED, {})


@pytest.mark.parametrize("syntax", ["explicit", "rle"])
def test_vindr_profile_keeps_both_frames_of_a_two_frame_file(tmp_path, syntax):
    ds = table4_dataset(rows=1030, cols=1030, frames=2, seed=4)
    src = write(ds, tmp_path / "in" / "two.dcm", syntax)
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", profile="vindr", min_size=512)
    assert result.written == 1, result.files
    before = pydicom.dcmread(src)
    out = pydicom.dcmread(tmp_path / "out" / f"{hashlib.md5(ds.SOPInstanceUID.encode()).hexdigest()}.dicom")
    assert {int(e.tag) for e in out} == VINDR_ALLOWED
    assert out.NumberOfFrames == 2
    assert out.PixelData == before.PixelData
    frames = out.pixel_array
    assert frames.shape == (2, 1030, 1030)
    assert np.array_equal(frames, before.pixel_array) and not np.array_equal(frames[0], frames[1])


def test_image_id_is_the_data_sets_sop_instance_uid(tmp_path):
    """(0008,0018) names the output when it and the file meta's (0002,0003) disagree; the meta's
    UID is used only when the data set has none."""
    both = table4_dataset(seed=1)
    both.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.100"
    both.SOPInstanceUID = "1.2.826.0.1.3680043.2.1125.200"
    meta_only = table4_dataset(seed=2)
    meta_only.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.2.1125.300"
    del meta_only.SOPInstanceUID
    (tmp_path / "in").mkdir()
    for name, ds in (("both", both), ("meta_only", meta_only)):
        ds.preamble = b"\0" * 128  # written as given: pydicom's file format check would overwrite the meta
        ds.file_meta.FileMetaInformationVersion = b"\x00\x01"
        pydicom.dcmwrite(tmp_path / "in" / f"{name}.dcm", ds, enforce_file_format=False)
    for name, uid in (("both", "1.2.826.0.1.3680043.2.1125.100"), ("meta_only", "1.2.826.0.1.3680043.2.1125.300")):
        assert pydicom.dcmread(tmp_path / "in" / f"{name}.dcm").file_meta.MediaStorageSOPInstanceUID == uid
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", profile="vindr", min_size=512,
                              mapping_csv=tmp_path / "map.csv")
    ids = {pathlib.Path(r["input"]).stem: r["new_id"] for r in result.files}
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    assert ids == {"both": md5("1.2.826.0.1.3680043.2.1125.200"), "meta_only": md5("1.2.826.0.1.3680043.2.1125.300")}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{i}.dicom" for i in ids.values())
    assert "1.2.826.0.1.3680043.2.1125.200" in (tmp_path / "map.csv").read_text()
    # The basic profile derives (0002,0003) from the same UID as (0008,0018): the two agree.
    basic = vindr.deidentify(tmp_path / "in", tmp_path / "basic", profile="basic", salt="s", min_size=512)
    assert basic.written == 2, basic.files
    out = pydicom.dcmread(tmp_path / "basic" / "both.dcm")
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.ImplementationClassUID == SDK_IMPLEMENTATION_CLASS_UID


def test_basic_profile_annex_e(phi_tree, tmp_path):
    out = tmp_path / "out"
    result = vindr.deidentify(phi_tree, out, profile="basic", salt="k3y", min_size=512)
    assert result.failed == 0 and result.written == len(SYNTAXES), result.files
    allowed = BASIC_RETAINED | BASIC_UIDS | BASIC_EMPTY | BASIC_ADDED
    code_item = {0x00080100, 0x00080102, 0x00080104}
    studies = set()
    for rec in result.files:
        src = pathlib.Path(rec["input"])
        path = out / src.relative_to(phi_tree)
        ds = check_output(path, src, allowed, {0x00120064: code_item})
        assert ds.PatientIdentityRemoved == "YES"
        assert list(ds.DeidentificationMethod) == ["Basic Application Confidentiality Profile",
                                                   "Retain Patient Characteristics Option"]
        assert [(c.CodeValue, c.CodingSchemeDesignator) for c in ds.DeidentificationMethodCodeSequence] == \
            [("113100", "DCM"), ("113108", "DCM")]
        for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber",
                        "ReferringPhysicianName", "StudyID"):
            assert keyword in ds and ds[keyword].value in ("", None), keyword
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
            uid = str(ds[keyword].value)
            assert uid.startswith("2.25.") and len(uid) <= 64 and uid[5:].isdigit(), (keyword, uid)
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID == rec["new_id"]
        assert ds.PatientSex == "F" and ds.PatientAge == "045Y" and ds.BodyPartExamined == "CHEST"
        studies.add(ds.StudyInstanceUID)
    # Every input has its own study: derived UIDs are distinct, and consistent across runs and
    # within a run for the same original (same salt); another salt gives other UIDs.
    assert len(studies) == len(SYNTAXES)
    again = vindr.deidentify(phi_tree, tmp_path / "again", profile="basic", salt="k3y", min_size=512)
    assert [r["new_id"] for r in again.files] == [r["new_id"] for r in result.files]
    other = vindr.deidentify(phi_tree, tmp_path / "other", profile="basic", salt="different", min_size=512)
    assert not {r["new_id"] for r in other.files} & {r["new_id"] for r in result.files}


def test_same_study_keeps_one_derived_study_uid(tmp_path):
    a = phi_dataset(seed=1)
    b = phi_dataset(seed=2)
    b.StudyInstanceUID = a.StudyInstanceUID
    write(a, tmp_path / "in" / "a.dcm")
    write(b, tmp_path / "in" / "b.dcm")
    vindr.deidentify(tmp_path / "in", tmp_path / "out", profile="basic", salt="s", min_size=512)
    da, db = (pydicom.dcmread(tmp_path / "out" / n) for n in ("a.dcm", "b.dcm"))
    assert da.StudyInstanceUID == db.StudyInstanceUID != a.StudyInstanceUID
    assert da.SOPInstanceUID != db.SOPInstanceUID


def test_idempotent_and_atomic(phi_tree, tmp_path):
    out = tmp_path / "out"
    vindr.deidentify(phi_tree, out, profile="basic", salt="s", min_size=512)
    first = {p: h for p, (h, _) in tree_digest(out).items()}
    vindr.deidentify(phi_tree, out, profile="basic", salt="s", min_size=512)
    assert {p: h for p, (h, _) in tree_digest(out).items()} == first
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"], "temporary files left"


def test_unwritable_target_is_a_clean_error(phi_tree, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(vindr.VinDrIOError) as e:
        vindr.deidentify(phi_tree, blocker / "out")
    assert str(blocker / "out") in e.value.message
    with pytest.raises(vindr.VinDrIOError):
        vindr.deidentify(tmp_path / "missing", tmp_path / "out")


def test_unhandled_files_are_reported_and_never_copied(tmp_path):
    src = tmp_path / "in"
    good = write(phi_dataset(), src / "good.dcm")
    (src / "notes.txt").write_text(PHI[0])
    data = good.read_bytes()
    (src / "truncated.dcm").write_bytes(data[: len(data) // 3])
    no_pixels = phi_dataset()
    del no_pixels.PixelData
    write(no_pixels, src / "nopixels.dcm")
    out = tmp_path / "out"
    result = vindr.deidentify(src, out, profile="basic", min_size=512, report_csv=tmp_path / "r.csv")
    status = {pathlib.Path(r["input"]).name: r for r in result.files}
    assert status["good.dcm"]["status"] == "written"
    for name in ("truncated.dcm", "nopixels.dcm"):
        assert status[name]["status"] == "failed" and name in status[name]["error"], status[name]
    # A file of the tree that is no DICOM at all is listed apart from the failures.
    assert status["notes.txt"]["status"] == "not_dicom", status["notes.txt"]
    assert "not a DICOM file (no DICM prefix at byte 128)" in status["notes.txt"]["error"]
    assert "(7FE0,0010)" in status["nopixels.dcm"]["error"]
    assert sorted(p.name for p in out.iterdir()) == ["good.dcm"]
    assert result.failed == 2


def test_screening_reports_and_only_accepted(tmp_path):
    src = tmp_path / "in"
    cases = {
        "adult_pa": ({}, None),
        "skull": ({"BodyPartExamined": "SKULL"}, "not chest"),
        "lateral": ({"ViewPosition": "LL"}, "lateral"),
        "child": ({"PatientAge": "012Y"}, "paediatric"),
        "infant": ({"PatientAge": "006M"}, "paediatric"),
        "burned": ({"BurnedInAnnotation": "YES"}, None),
    }
    for name, (override, _) in cases.items():
        write(phi_dataset(**override), src / f"{name}.dcm")
    write(phi_dataset(rows=600, cols=500), src / "small.dcm")
    rgb = phi_dataset(rows=1100, cols=1040)
    rgb.SamplesPerPixel, rgb.PhotometricInterpretation, rgb.PlanarConfiguration = 3, "RGB", 0
    rgb.BitsAllocated, rgb.BitsStored, rgb.HighBit = 8, 8, 7
    rgb.PixelData = bytes(1100 * 1040 * 3)
    rgb["PixelData"].VR = "OB"
    write(rgb, src / "colour.dcm")
    out = tmp_path / "out"
    result = vindr.deidentify(src, out, profile="vindr", min_size=1024, only_accepted=True,
                              report_csv=tmp_path / "r.csv", report_json=tmp_path / "r.json")
    by_name = {pathlib.Path(r["input"]).stem: r for r in result.files}
    for name, (_, reason) in cases.items():
        rec = by_name[name]
        if reason is None:
            assert rec["status"] == "written" and rec["screening"] is None, rec
        else:
            assert rec["status"] == "rejected" and rec["screening"].startswith(reason), rec
    assert by_name["small"]["screening"].startswith("too small")
    assert by_name["colour"]["screening"].startswith("not monochrome")
    assert by_name["burned"]["burned_in_annotation"] is True and result.burned_in == 1
    assert result.written == 2 and result.rejected == 6
    assert len(list(out.iterdir())) == 2
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0] == "input,status,output,new_id,screening,error,burned_in_annotation" and len(rows) == 9
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["profile"] == "vindr" and len(report["files"]) == 8
    # Without only_accepted every file is written and the screening still reported.
    everything = vindr.deidentify(src, tmp_path / "all", min_size=1024)
    assert everything.written == 8 and sum(r["screening"] is not None for r in everything.files) == 6


def test_mapping_csv_only_when_asked(phi_tree, tmp_path):
    out = tmp_path / "out"
    result = vindr.deidentify(phi_tree, out, profile="vindr", min_size=512, report_json=tmp_path / "r.json")
    assert not any("original_uid" in p.read_text() for p in tmp_path.glob("*.csv"))
    report = (tmp_path / "r.json").read_text()
    for rec in result.files:
        original = pydicom.dcmread(rec["input"], stop_before_pixels=True).file_meta.MediaStorageSOPInstanceUID
        assert original not in report
    mapping = tmp_path / "map.csv"
    vindr.deidentify(phi_tree, out, profile="vindr", min_size=512, mapping_csv=mapping)
    lines = mapping.read_text().splitlines()
    assert lines[0] == "input,original_uid,new_id" and len(lines) == len(SYNTAXES) + 1
    for line in lines[1:]:
        _, original, new = line.split(",")
        assert hashlib.md5(original.encode()).hexdigest() == new


def cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("VINDR_CLI", pathlib.Path(_lib.lib._name).parent / "vindr"))
    if not path.exists():
        pytest.skip(f"vindr command-line tool not built at {path} (set VINDR_CLI)")
    return path


def test_cli_parallel_tree_with_progress_on_a_terminal(tmp_path):
    src = tmp_path / "in"
    for i in range(12):
        write(phi_dataset(rows=1030, cols=1030, seed=i), src / f"d{i % 3}" / f"{i}.dcm")
    out = tmp_path / "out"
    primary, secondary = pty.openpty()
    proc = subprocess.run([str(cli()), "deid", str(src), str(out), "--workers", "2", "--profile", "basic",
                           "--report-json", str(tmp_path / "r.json")],
                          stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    progress = os.read(primary, 65536).decode()
    os.close(primary)
    assert proc.returncode == 0, proc.stdout
    assert "written 12, rejected 0, failed 0" in proc.stdout
    assert "\r[" + "#" * 30 + "] 12/12 files" in progress
    assert len(list(out.rglob("*.dcm"))) == 12
    bad = subprocess.run([str(cli()), "deid", str(src), str(out), "--profile", "nope"], capture_output=True, text=True)
    assert bad.returncode == 64 and "unknown profile" in bad.stderr


def test_duplicate_sop_instance_is_written_once_and_reported(tmp_path):
    ds = phi_dataset()
    write(ds, tmp_path / "in" / "a.dcm")
    write(ds, tmp_path / "in" / "copy.dcm")
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", min_size=512, workers=2)
    assert result.written == 1 and result.failed == 1
    failed = next(r for r in result.files if r["status"] == "failed")
    assert "duplicate SOP Instance UID" in failed["error"]
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_c_abi_rejects_null_and_bad_arguments():
    import ctypes
    from vindr import deid
    out = ctypes.c_void_p()
    assert deid._run(None, b"/tmp", None, ctypes.byref(out)) == 1
    assert "input is NULL" in _lib._last_error().decode()
    opts = ctypes.c_void_p()
    assert deid._opts_create(ctypes.byref(opts)) == 0
    try:
        assert deid._run(b"/nonexistent", b"/tmp/x", opts, None) == 1
        assert deid._opts_int(opts, 1, 7) == 1 and "profile" in _lib._last_error().decode()
        assert deid._opts_int(opts, 4, -1) == 1
        assert deid._opts_int(opts, 999, 0) == 1
        assert deid._opts_string(opts, 999, b"x") == 1
        assert deid._opts_int(None, 1, 0) == 1
        assert deid._counts(None, None) == 1 and deid._json(None, None, 0, None) == 1
    finally:
        deid._opts_destroy(opts)
    deid._opts_destroy(None)
    deid._result_destroy(None)


def test_output_inside_the_input_tree_is_not_walked(tmp_path):
    write(phi_dataset(), tmp_path / "tree" / "a.dcm")
    for _ in range(2):
        result = vindr.deidentify(tmp_path / "tree", tmp_path / "tree" / "out", min_size=512)
        assert [pathlib.Path(r["input"]).name for r in result.files] == ["a.dcm"]


def test_malformed_files_are_failures_not_crashes(tmp_path):
    """Truncations and corrupted lengths (GDCM's Debian build aborts on some): each run happens in a
    child process so an abort would show as a non-zero exit instead of killing the test run."""
    good = write(phi_dataset(rows=1030, cols=1030), tmp_path / "good.dcm").read_bytes()
    src = tmp_path / "bad"
    src.mkdir()
    rng = __import__("random").Random(6)
    for i, cut in enumerate((10, 140, 300, 700, 1500, len(good) - 7)):
        (src / f"cut{i}.dcm").write_bytes(good[:cut])
    for i in range(12):
        data = bytearray(good[:4000])
        at = rng.randrange(132, len(data) - 4)
        data[at:at + 4] = rng.randbytes(4)
        (src / f"flip{i}.dcm").write_bytes(bytes(data) + good[4000:])
    code = ("import sys, vindr; r = vindr.deidentify(sys.argv[1], sys.argv[2], profile=sys.argv[3], min_size=0);"
            "print(r.written, r.failed)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for profile in ("vindr", "basic"):
        proc = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / f"out-{profile}"), profile],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        written, failed = map(int, proc.stdout.split())
        assert written + failed == 18 and failed >= 6
        for out in (tmp_path / f"out-{profile}").rglob("*"):
            if out.is_file():
                pydicom.dcmread(out)


def test_output_over_the_input_is_refused(tmp_path):
    src = write(phi_dataset(), tmp_path / "tree" / "a.dcm")
    before = src.read_bytes()
    result = vindr.deidentify(tmp_path / "tree", tmp_path / "tree", profile="basic", min_size=512)
    assert result.failed == 1 and "would overwrite the input" in result.files[0]["error"]
    assert src.read_bytes() == before


def test_killed_run_leaves_only_complete_outputs(tmp_path):
    """SIGKILL in the middle of a tree: every output under its final name is a whole file (only
    hidden temporary files may be left), and a re-run completes the tree."""
    import signal
    import time
    src = tmp_path / "in"
    for i in range(40):
        write(phi_dataset(rows=1030, cols=1030, seed=i), src / f"{i:02d}.dcm")
    out = tmp_path / "out"
    proc = subprocess.Popen([str(cli()), "deid", str(src), str(out), "--profile", "basic", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finals = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(finals) < 40, "the run finished before it could be interrupted"
    for p in finals:
        assert pydicom.dcmread(p).PixelData == pydicom.dcmread(src / p.name).PixelData
    result = vindr.deidentify(src, out, profile="basic", min_size=512)
    assert result.written == 40
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 40
