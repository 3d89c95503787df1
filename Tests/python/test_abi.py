"""The C ABI as C, C++ and Python see it: programs built against include/vindr.h with strict
flags, the exported symbol set, the header and the Python prototype table agreeing, versions."""
from __future__ import annotations

import ctypes
import importlib.util
import pathlib
import re
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_voi_lut

import vindr
from conftest import oracle_pixels
from vindr import _lib
from test_annotations import kaggle_train_csv  # noqa: F401  (shared fixture)

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "vindr.h"
LIBDIR = pathlib.Path(_lib.lib._name).parent


def build(tmp_path, source: str, compiler: list[str]) -> pathlib.Path:
    exe = tmp_path / pathlib.Path(source).stem
    cmd = compiler + ["-I", str(ROOT / "include"), "-I", str(ROOT / "bindings" / "cpp"), str(ROOT / "Tests" / "abi" / source),
                      "-o", str(exe), "-L", str(LIBDIR), "-lvindr", f"-Wl,-rpath,{LIBDIR}"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def parse(output: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for line in output.splitlines() for kv in line.split())


def test_header_compiles_cleanly_as_c99_and_cpp17(tmp_path):
    for cmd in (["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-x", "c"],
                ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-x", "c++"]):
        subprocess.run(cmd + ["-fsyntax-only", str(HEADER)], check=True)


HANDLE_KINDS = ["vdr_dicom", "vdr_render_options", "vdr_annotations", "vdr_targets", "vdr_samples", "vdr_loader_options",
                "vdr_loader", "vdr_batch", "vdr_deid_options", "vdr_deid_result"]


@pytest.mark.parametrize("compiler", [["gcc", "-std=c99", "-pedantic-errors", "-Werror", "-x", "c"],
                                      ["g++", "-std=c++17", "-Werror", "-x", "c++"]], ids=["c99", "c++17"])
def test_a_handle_of_another_kind_does_not_compile(tmp_path, compiler):
    """Each handle kind is its own type: render options passed as a DICOM handle, or a loader
    destroyed as a batch, is a compile error; the right kinds compile."""
    header = HEADER.read_text()
    assert set(re.findall(r"^typedef struct (vdr_\w+) \1;$", header, re.M)) == set(HANDLE_KINDS)

    def compiles(body: str) -> bool:
        src = tmp_path / "kinds.c"
        src.write_text(f'#include "vindr.h"\nvoid f(vdr_dicom *d, vdr_render_options *o, vdr_loader *l, vdr_batch *b) {{ {body} }}\n')
        return subprocess.run(compiler + ["-fsyntax-only", "-I", str(ROOT / "include"), str(src)], capture_output=True).returncode == 0

    assert compiles("int32_t h, w; (void)vdr_dicom_render_size(d, o, &h, &w); vdr_loader_destroy(l); vdr_batch_destroy(b);")
    assert not compiles("int32_t h, w; (void)vdr_dicom_render_size(o, o, &h, &w); (void)d; (void)l; (void)b;")
    assert not compiles("vdr_batch_destroy(l); (void)d; (void)o; (void)b;")
    assert not compiles("vdr_dicom_destroy(o); (void)d; (void)l; (void)b;")


def test_c_program(tmp_path, corpus):
    exe = build(tmp_path, "abi_test.c", ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
    path = corpus["u12m2"]["explicit"]
    out = subprocess.run([str(exe), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
    kv = parse(out.stdout)
    ds = pydicom.dcmread(path)
    assert int(kv["rows"]) == ds.Rows and int(kv["columns"]) == ds.Columns
    assert kv["ts"] == ds.file_meta.TransferSyntaxUID
    assert int(kv["stored_sum"]) == int(ds.pixel_array.astype(np.uint64).sum())
    # The C render equals the Python render of the same options.
    im = vindr.read_dicom(path)
    py, t = im.render(size=(512, 512), aspect="letterbox", threads=2, return_transform=True)
    assert (int(kv["render_h"]), int(kv["render_w"])) == py.shape
    assert int(kv["render_sum"]) == int(py.astype(np.uint64).sum())
    assert [float(v) for v in kv["transform"].split(",")] == pytest.approx(list(t))
    assert [float(v) for v in kv["box"].split(",")] == pytest.approx(t.apply([[10, 20, 110, 220]])[0].tolist())
    assert kv["version"] == kv["header_version"] == str(vindr.version_number())


def test_cpp_program(tmp_path, corpus):
    exe = build(tmp_path, "abi_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    path = corpus["u12m1rescale"]["j2k90"]
    out = subprocess.run([str(exe), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kv = parse(out.stdout)
    expected = vindr.read_dicom(path).render(size=256, window="auto", dtype="float32")
    assert (int(kv["h"]), int(kv["w"])) == expected.shape
    assert float(kv["mean"]) == pytest.approx(float(expected.mean()), abs=1e-6)


def test_cpp_wrappers_for_annotations_fusion_and_evaluation(tmp_path, corpus, kaggle_train_csv):
    """vindr::Annotations, weighted_boxes_fusion and evaluate against independent results:
    ensemble-boxes for the fusion, the Python layer's export bytes and evaluation."""
    from ensemble_boxes import weighted_boxes_fusion

    exe = build(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    rng = np.random.default_rng(11)
    models = []
    lines = []
    for m in range(3):
        b = np.sort(rng.random((25, 4)), axis=1)[:, [0, 2, 1, 3]]
        s, lab = rng.random(25), rng.integers(0, 3, 25)
        models.append((b, s, lab))
        lines += [f"{m} {' '.join(repr(float(v)) for v in row)} {float(sc)!r} {int(la)}" for row, sc, la in zip(b, s, lab)]
    (tmp_path / "boxes.txt").write_text("\n".join(lines) + "\n")
    out = subprocess.run([str(exe), "wbf", str(tmp_path / "boxes.txt")], capture_output=True, text=True, check=True).stdout
    got = np.array([[float(v) for v in line.split()] for line in out.splitlines()])
    eb, es, el = weighted_boxes_fusion([m[0] for m in models], [m[1] for m in models], [m[2] for m in models],
                                       iou_thr=0.55, skip_box_thr=0.0)
    assert got.shape == (len(es), 6)
    np.testing.assert_allclose(got[:, :4], eb, atol=1e-6)
    np.testing.assert_allclose(got[:, 4], es, atol=1e-6)
    assert np.array_equal(got[:, 5], el)

    ann = vindr.Annotations(kaggle_train_csv)
    ids = ann.image_ids[:40]
    small = tmp_path / "small.csv"
    with open(kaggle_train_csv) as f:
        small.write_text("".join(line for line in f if line.startswith("image_id") or line.split(",", 1)[0] in set(ids)))
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("image_id,width,height\n" + "".join(f"{i},3000,2500\n" for i in ids))
    out = subprocess.run([str(exe), "annotations", str(small), str(sizes), str(tmp_path / "cpp.json")], capture_output=True,
                         text=True, check=True).stdout
    py = vindr.Annotations(small)
    py.load_image_sizes(sizes)
    py.export("coco", tmp_path / "py.json", mode="fused", iou_thr=0.5)
    assert (tmp_path / "cpp.json").read_bytes() == (tmp_path / "py.json").read_bytes()
    assert out.split() == ["images", "40", "sizes", "40", "labels", str(int(py.labels().sum()))]

    sub = tmp_path / "sub.csv"
    py.export("submission", sub, mode="all", reader="R9")
    out = subprocess.run([str(exe), "eval", str(small), str(sub)], capture_output=True, text=True, check=True).stdout
    want = vindr.evaluate(small, sub)
    assert float(out.split()[1]) == want["mAP"]
    # A submission without rows for some images: an error naming them, or scored as empty.
    partial = tmp_path / "partial.csv"
    partial.write_text("".join(sub.read_text().splitlines(keepends=True)[:3]))
    bad = subprocess.run([str(exe), "eval", str(small), str(partial)], capture_output=True, text=True)
    assert bad.returncode == 1 and f"error {vindr._constants.VDR_ERR_ARGUMENT}: " in bad.stderr
    assert "no row for 38 of 40 ground-truth images: " + ", ".join(ids[2:12]) + " and 28 more" in bad.stderr
    out = subprocess.run([str(exe), "eval", str(small), str(partial), "empty"], capture_output=True, text=True,
                         check=True).stdout
    assert float(out.split()[1]) == vindr.evaluate(small, partial, missing="empty")["mAP"]

    path = corpus["u12m2"]["explicit"]
    out = subprocess.run([str(exe), "dicom", str(path)], capture_output=True, text=True, check=True).stdout
    im = vindr.read_dicom(path)
    assert out.split() == [str(im.rows), str(im.columns)]


def test_cpp_wrappers_for_training_exports_and_the_coco_summary(tmp_path):
    """Annotations::export_rendered writes the folder the Python layer writes (same files, same
    bytes but data.yaml's path); coco_evaluate (files and arrays) gives the Python layer's numbers."""
    exe = build(tmp_path, "train_export_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    root = tmp_path / "sample"
    vindr.write_sample(root, train=4, test=3, size=128, seed=8)
    csv = root / "annotations" / "annotations_train.csv"
    ann = vindr.Annotations(csv)
    val = ann.image_ids[:1]
    out = subprocess.run([str(exe), "export", "yolo", str(csv), str(root), str(tmp_path / "cpp"), "64", val[0]],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(len(ann) - 1), "1", "0"]
    ann.export("yolo", tmp_path / "py", dicom=root, size=64, val=val)
    files = sorted(p.relative_to(tmp_path / "py") for p in (tmp_path / "py").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "cpp") for p in (tmp_path / "cpp").rglob("*") if p.is_file())
    assert all((tmp_path / "py" / f).read_bytes() == (tmp_path / "cpp" / f).read_bytes() for f in files if f.name != "data.yaml")
    bad = subprocess.run([str(exe), "export", "coco", str(csv), str(root), str(tmp_path / "cpp"), "64"], capture_output=True, text=True)
    assert bad.returncode == 1 and "not an empty folder" in bad.stderr

    gt_csv = root / "annotations" / "annotations_test.csv"
    sub = tmp_path / "sub.csv"
    vindr.Annotations(gt_csv).export("submission", sub, mode="all")
    out = subprocess.run([str(exe), "coco_files", str(gt_csv), str(sub)], capture_output=True, text=True, check=True).stdout
    stats, class_ap = ([float(v) for v in line.split()] for line in out.splitlines())
    want = vindr.coco_evaluate_files(gt_csv, sub)
    assert stats == want["stats"] and len(class_ap) == 15
    rng = np.random.default_rng(3)
    lines, gt, det = [], [], []
    for _ in range(60):
        image, label = int(rng.integers(0, 5)), int(rng.integers(0, 4))
        x, y, w, h = (float(v) for v in rng.uniform(0, 300, 4))
        gt.append((image, label, [x, y, x + w, y + h]))
        lines.append(f"g {image} {label} {x!r} {y!r} {x + w!r} {y + h!r}")
        s, j = float(rng.random()), rng.normal(0, 5, 4)
        det.append((image, label, s, [x + j[0], y + j[1], x + w + 30 + j[2], y + h + 30 + j[3]]))
        lines.append(f"d {image} {label} {s!r} " + " ".join(repr(float(v)) for v in det[-1][3]))
    (tmp_path / "boxes.txt").write_text("\n".join(lines) + "\n")
    out = subprocess.run([str(exe), "coco_arrays", str(tmp_path / "boxes.txt"), "5", "5"], capture_output=True, text=True,
                         check=True).stdout
    stats, class_ap = ([float(v) for v in line.split()] for line in out.splitlines())
    want = vindr.coco_evaluate([b for *_, b in gt], [g[1] for g in gt], [g[0] for g in gt], [d[3] for d in det],
                               [d[2] for d in det], [d[1] for d in det], [d[0] for d in det], num_images=5, num_classes=5)
    assert stats == want["stats"] and class_ap == list(want["class_ap"]) and class_ap[4] == -1
    assert len(set(stats)) > 4


def test_cpp_wrappers_for_the_kaggle_window_and_skipped_images(tmp_path, corpus):
    """RenderOptions::window_kaggle gives the Kaggle notebooks' read_xray bytes (pydicom);
    Samples::from_dataset with VDR_MISSING_SKIP lists the annotated images without a DICOM."""
    exe = build(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    path = corpus["u12m1rescale"]["explicit"]
    subprocess.run([str(exe), "kaggle", str(path), str(tmp_path / "k.raw")], check=True)
    ds = pydicom.dcmread(path)
    data = apply_voi_lut(oracle_pixels(path), ds)
    data = np.amax(data) - data  # MONOCHROME1
    data = data - np.min(data)
    expected = (data / np.max(data) * 255).astype(np.uint8)
    assert (tmp_path / "k.raw").read_bytes() == expected.tobytes()

    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "present.dcm").symlink_to(path)
    csv = tmp_path / "a.csv"
    csv.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n" +
                   "".join(f"{i},R1,No finding,,,,\n" for i in ("gone1", "present", "gone2")))
    out = subprocess.run([str(exe), "dataset", str(tmp_path / "root"), str(csv)], capture_output=True, text=True, check=True).stdout
    assert out.split("\n") == ["samples 1", "skipped gone1", "skipped gone2", ""]


def exported_symbols() -> dict[str, str]:
    """name -> symbol version of everything the library defines for others (the version node
    itself, an absolute symbol, left out)."""
    out = subprocess.run(["nm", "-D", "--defined-only", "--extern-only", "--with-symbol-versions", str(_lib.lib._name)],
                         capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "A":
            name, _, version = parts[2].partition("@")
            found[name] = version.lstrip("@")
    return found


def header_functions() -> set[str]:
    return set(re.findall(r"\b(vdr_[a-z0-9_]+)\s*\(", HEADER.read_text()))


def test_exports_header_and_python_prototypes_agree():
    exported = exported_symbols()
    assert exported, "no exported symbols"
    non_vdr = sorted(s for s in exported if not s.startswith("vdr_"))
    assert not non_vdr, f"symbols other than vdr_* leave the library: {non_vdr[:10]}"
    major = re.search(r"#define VDR_VERSION_MAJOR (\d+)", HEADER.read_text()).group(1)
    assert set(exported.values()) == {f"VINDR_{major}"}, "every export carries the ABI's symbol version"
    exported = set(exported)
    declared = header_functions()
    assert exported == declared, (sorted(exported - declared), sorted(declared - exported))
    assert set(_lib.PROTOTYPES) == declared, (sorted(declared - set(_lib.PROTOTYPES)), sorted(set(_lib.PROTOTYPES) - declared))


C_SCALARS = {"int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "uint8_t": ctypes.c_uint8, "uint32_t": ctypes.c_uint32,
             "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "ptrdiff_t": ctypes.c_ssize_t,
             "double": ctypes.c_double, "float": ctypes.c_float, "bool": ctypes.c_bool}


def _gen_header():
    spec = importlib.util.spec_from_file_location("gen_header", ROOT / "scripts" / "gen_header.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


split_params = _gen_header().split_params


def header_signatures() -> dict[str, tuple[str, list[str]]]:
    """name -> (return type, parameter declarations) of every function in the header."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", HEADER.read_text(), flags=re.S)
    sigs = {}
    for ret, name, params in re.findall(r"([A-Za-z_][\w \*]*?)\s*\b(vdr_\w+)\s*\(((?:[^()]|\([^()]*\))*)\)\s*;", text):
        sigs[name] = (ret.strip(), split_params(params))
    return sigs


def matches(c_decl: str, py_type) -> bool:
    """Whether a ctypes type passes a C parameter or return value of type `c_decl` unchanged:
    scalars must agree in size, signedness and kind; a typed pointer must point at a matching
    type (c_void_p, an untyped address, passes any pointer; c_char_p only `char const *`)."""
    if "(" in c_decl:  # a callback
        return isinstance(py_type, type) and issubclass(py_type, ctypes._CFuncPtr)
    if "*" in c_decl:
        inner = c_decl[:c_decl.rindex("*")]
        if py_type is ctypes.c_void_p:
            return True
        if py_type is ctypes.c_char_p:
            return re.fullmatch(r"\s*char\s+const\s*", inner) is not None
        return isinstance(py_type, type) and issubclass(py_type, ctypes._Pointer) and matches(inner, py_type._type_)
    words = [w for w in re.findall(r"[A-Za-z_]\w*", c_decl) if w != "const"]
    if words[0] == "void":
        return py_type is None
    if words[0] not in C_SCALARS:  # a handle struct: only reachable through c_void_p
        return False
    return py_type is C_SCALARS[words[0]] or (
        py_type in C_SCALARS.values() and ctypes.sizeof(py_type) == ctypes.sizeof(C_SCALARS[words[0]])
        and issubclass(py_type, ctypes._SimpleCData) and py_type._type_ == C_SCALARS[words[0]]._type_)


def test_the_signature_check_can_fail():
    assert matches("size_t *", ctypes.POINTER(ctypes.c_size_t)) and not matches("size_t *", ctypes.POINTER(ctypes.c_int64))
    assert matches("vdr_dicom * * out_", ctypes.POINTER(ctypes.c_void_p)) and not matches("vdr_dicom *", ctypes.POINTER(ctypes.c_int32))
    assert matches("char const * path", ctypes.c_char_p) and not matches("char * * out_", ctypes.c_char_p)
    assert not matches("double const * boxes", ctypes.POINTER(ctypes.c_float)) and not matches("int32_t", ctypes.c_int64)


def test_python_prototypes_match_the_header_signatures():
    """Every argument and return type the Python layer declares passes the C type unchanged (an
    int64_t declared as c_int32, or a size_t as a signed type, fails here)."""
    sigs = header_signatures()
    assert len(sigs) == len(header_functions())
    wrong = []
    for name, (restype, argtypes) in _lib.PROTOTYPES.items():
        ret, params = sigs[name]
        if len(params) != len(argtypes):
            wrong.append(f"{name}: {len(argtypes)} arguments, the header has {len(params)}")
            continue
        if not matches(ret, restype):
            wrong.append(f"{name}: returns {ret}, declared {restype}")
        for i, (c_decl, py) in enumerate(zip(params, argtypes)):
            if not matches(c_decl, py):
                wrong.append(f"{name} argument {i}: {c_decl}, declared {py}")
    assert not wrong, wrong


def test_python_constants_are_the_header_constants():
    from vindr import _constants

    header = dict(re.findall(r"^#define (VDR_\w+) (-?\d+)$", HEADER.read_text(), re.M))
    python = {k: v for k, v in vars(_constants).items() if k.startswith("VDR_")}
    assert python == {k: int(v) for k, v in header.items()}


def test_header_is_generated_from_the_sources():
    subprocess.run(["python3", str(ROOT / "scripts" / "gen_header.py"), "--check"], check=True)


def test_versions_agree():
    text = HEADER.read_text()
    major, minor, patch = (int(re.search(rf"#define VDR_VERSION_{k} (\d+)", text).group(1)) for k in ("MAJOR", "MINOR", "PATCH"))
    text_version = f"{major}.{minor}.{patch}"
    assert vindr.version_number() == major * 10000 + minor * 100 + patch
    assert vindr.__version__ == text_version == re.search(r'#define VDR_VERSION_STRING "(.*)"', text).group(1)
    assert subprocess.run(["python3", str(ROOT / "scripts" / "gen_header.py"), "--print-version"], capture_output=True,
                          text=True, check=True).stdout.strip() == text_version
    cli = ROOT / ".build" / "release" / "vindr"
    assert subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout.strip() == text_version
    # the newest released section (changes not yet released sit above it under "## Unreleased")
    assert re.search(r"^## (?!Unreleased$)(\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M).group(1) == text_version
    soname = subprocess.run(["readelf", "-d", str(_lib.lib._name)], capture_output=True, text=True, check=True).stdout
    assert f"Library soname: [libvindr.so.{major}]" in soname


# -- the entrance rule: no @c body does unchecked arithmetic on a caller's value -----------------

ARITHMETIC = r"(?:[+\-*/%]|<<|>>)"
# Parameter types whose conversion to Int (or narrower) can trap: size_t, 64-bit unsigned, floating.
NARROWING = {"UInt", "UInt64", "Double", "Float"}


def abi_bodies(source: str):
    """(function name, {parameter: Swift type}, body) of every @c function; comments and string
    literals are blanked so that only code is checked."""
    code = re.sub(r'//[^\n]*|"(?:[^"\\\n]|\\.)*"', lambda m: " " * len(m.group(0)), source)
    for m in re.finditer(r"@c public func (\w+)\((.*?)\)\s*(?:->\s*[\w<>?]+\s*)?\{", code, re.S):
        params = dict(re.findall(r"_\s+(\w+)\s*:\s*([^,]+?)\s*(?=,\s*_\s|\Z)", m.group(2).strip(), re.S))
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        yield m.group(1), params, code[m.end():i - 1]


def abi_rule_violations(source: str) -> list[str]:
    """Arithmetic with a parameter (or a local of the same name) as an operand, and conversions of
    size_t or floating parameters not preceded by a guard on them. Arithmetic on caller values
    belongs in ABIChecks.swift, whose helpers check before they compute."""
    found = []
    for name, params, body in abi_bodies(source):
        for p, kind in params.items():
            if "Pointer" in kind or "convention" in kind:
                continue
            w = rf"(?<![\w.]){re.escape(p)}(?![\w(])"
            if re.search(rf"{w}\s*{ARITHMETIC}(?!=)\s|\s{ARITHMETIC}\s*{w}", body):
                found.append(f"{name}: arithmetic on {p}")
            conversion = re.search(rf"\b(?:Int|Int32|Int64|UInt32|Int16|UInt16)\(\s*{w}\s*\)", body)
            if kind.strip() in NARROWING and conversion and not re.search(rf"guard[^\n{{]*{w}", body[:conversion.start()]):
                found.append(f"{name}: unguarded conversion of {p}")
    return found


def test_no_abi_body_computes_with_caller_values():
    sources = sorted((ROOT / "Sources" / "VinDrC").glob("*.swift"))
    violations = [f"{f.name}: {v}" for f in sources for v in abi_rule_violations(f.read_text())]
    assert not violations, violations


def test_the_abi_rule_can_fail():
    bad = '''@c public func vdr_x(_ buf: UnsafeMutablePointer<UInt8>?, _ size: UInt, _ scale: Double, _ rows: Int32) -> Int32 {
        abiCall { let n = Int(size); let s = Int(scale) + 1; _ = rows * 2 }
    }'''
    assert abi_rule_violations(bad) == ["vdr_x: unguarded conversion of size", "vdr_x: unguarded conversion of scale",
                                        "vdr_x: arithmetic on rows"]
    good = '''@c public func vdr_x(_ size: UInt, _ scale: Double) -> Int32 {
        abiCall { let size = try count(size, "size"); guard scale.isFinite else { return }; _ = Int(scale) } // size * 2
    }'''
    assert abi_rule_violations(good) == []
