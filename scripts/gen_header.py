#!/usr/bin/env python3
"""Writes include/vindr.h from the Swift compiler's generated header for the VinDrC module, and
from it the Python layer's bindings/python/vindr/_constants.py (every VDR_* constant) and
bindings/python/vindr/_prototypes.py (every function's ctypes signature).

The compiler emits each `@c` function in a plain C section of VinDrC-Swift.h, wrapped in Swift's
own macros and clang-only attributes. This script keeps those declarations, strips the
Swift-specific decoration so the header is clean C99/C++17, and adds the integer constants
(`public let VDR_*: Int32 = N`) declared in Sources/VinDrC, with their doc comments.

    python3 scripts/gen_header.py [--check] [--swift-header PATH] [--print-version]

--check compares with the committed files and exits 1 when one is stale.
"""
import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SWIFT_HEADER = ROOT / ".build/release/VinDrC.build/include/VinDrC-Swift.h"
OUT = ROOT / "include/vindr.h"
PY_OUT = ROOT / "bindings/python/vindr/_constants.py"
PY_PROTOTYPES = ROOT / "bindings/python/vindr/_prototypes.py"

DECORATIONS = ["SWIFT_EXTERN ", " SWIFT_NOEXCEPT", " SWIFT_WARN_UNUSED_RESULT", " _Nonnull", " _Nullable",
               " _Null_unspecified"]
ASCII = {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "-", "\u2013": "-",
         "\u2026": "...", "<em>": "*", "</em>": "*", "<code>": "`", "</code>": "`"}


def clean(text: str) -> str:
    for k, v in ASCII.items():
        text = text.replace(k, v)
    return text.encode("ascii", "replace").decode()


# The header's sections, in order: (title, the VinDrC source files whose constants and functions it
# holds). Every file with `@c` functions or VDR_* constants must be listed.
SECTIONS = [
    ("Status codes, errors and version", ["Status.swift", "Version.swift"]),
    ("DICOM files and rendering", ["DicomABI.swift", "RenderABI.swift"]),
    ("Annotations and targets", ["AnnotationsABI.swift"]),
    ("Dataset statistics (the paper's Table 2 and Figure 4)", ["StatsABI.swift"]),
    ("Boxes", ["BoxesABI.swift"]),
    ("Metrics", ["MetricsABI.swift"]),
    ("Samples, loader, batches and cache", ["LoaderABI.swift", "SampleABI.swift"]),
    ("De-identification", ["DeidABI.swift"]),
    ("Transcoding", ["TranscodeABI.swift"]),
]


def functions(swift_header: str) -> dict[str, str]:
    """name -> its declaration with its doc comment, from the compiler's C section, cleaned of
    Swift's macros and clang-only attributes."""
    m = re.search(r'#if defined\(__cplusplus\)\nextern "C" \{\n#endif\n(.*?)#if defined\(__cplusplus\)\n\} // extern "C"',
                  swift_header, re.S)
    if not m:
        sys.exit("gen_header: no C section in the Swift header (is VinDrC built with @c functions?)")
    body = m.group(1)
    for d in DECORATIONS:
        body = body.replace(d, "")
    body = re.sub(r"SWIFT_[A-Z_]+(\([^)]*\))?\s*", "", body)  # any remaining Swift macro
    out = {}
    for chunk in re.split(r"\n\s*\n", clean(body).strip()):
        name = re.search(r"\b(vdr_[a-z0-9_]+)\s*\(", chunk.splitlines()[-1])
        if name:
            out[name.group(1)] = chunk.strip()
    return out


def section(path: pathlib.Path, decls: dict[str, str]) -> tuple[str, list[str]]:
    """The file's intro comment, then its constants (with their doc comments) and function
    declarations in source order; returns the text and the function names it placed."""
    lines = path.read_text().splitlines()
    out, names = [], []
    for line in lines:  # the intro: the first block of `//` lines after the imports
        if line.startswith("// "):
            out.append(clean("/* " + line[3:].rstrip() + " */"))
        elif out or (line and not line.startswith(("import", "#"))):
            break
    for i, line in enumerate(lines):
        const = re.match(r"public let (VDR_[A-Z0-9_]+): Int32 = (-?\d+)\s*$", line)
        func = re.match(r"@c public func (vdr_[a-z0-9_]+)\(", line)
        if const:
            doc = []
            j = i - 1
            while j >= 0 and lines[j].startswith("///"):
                doc.insert(0, clean("/* " + lines[j][3:].strip() + " */"))
                j -= 1
            out += doc + [f"#define {const.group(1)} {const.group(2)}"]
        elif func:
            if func.group(1) not in decls:
                sys.exit(f"gen_header: {func.group(1)} is not in the compiler's header (rebuild first)")
            out.append("\n" + decls[func.group(1)])
            names.append(func.group(1))
    return "\n".join(out), names


def body(decls: dict[str, str]) -> str:
    """Every section: a banner, then each of its files' part."""
    listed = {f for _, files in SECTIONS for f in files}
    for path in (ROOT / "Sources/VinDrC").glob("*.swift"):
        text = path.read_text()
        if path.name not in listed and ("@c public func" in text or "public let VDR_" in text):
            sys.exit(f"gen_header: {path.name} declares ABI symbols but is in no section of SECTIONS")
    parts, placed = [], []
    rule = "/* " + "=" * 94 + " */"
    for title, files in SECTIONS:
        texts = []
        for name in files:
            text, names = section(ROOT / "Sources/VinDrC" / name, decls)
            texts.append(text)
            placed += names
        parts.append(f"{rule}\n/* {title} */\n{rule}\n\n" + "\n\n".join(t.strip() for t in texts if t.strip()))
    missing = sorted(set(decls) - set(placed))
    if missing:
        sys.exit(f"gen_header: functions in no section: {missing}")
    return "\n\n".join(parts) + "\n"


def version() -> tuple[int, int, int]:
    """major, minor, patch from Sources/VinDrDICOM/Version.swift, the one place they are written."""
    text = (ROOT / "Sources/VinDrDICOM/Version.swift").read_text()
    return tuple(int(re.search(rf"static let {k} = (\d+)", text).group(1)) for k in ("major", "minor", "patch"))


def handle_typedefs() -> str:
    """The handle kinds of Sources/CVinDrHandles/handles.h as incomplete struct types."""
    kinds = re.findall(r"^typedef struct (vdr_\w+) \{", (ROOT / "Sources/CVinDrHandles/handles.h").read_text(), re.M)
    return "\n".join(f"typedef struct {k} {k};" for k in kinds)


def render(swift_header_path: pathlib.Path) -> str:
    decls = functions(swift_header_path.read_text())
    major, minor, patch = version()
    return f"""/* vindr.h: C ABI of the VinDr SDK (libvindr.so.{major}).
 * Generated by scripts/gen_header.py from the Swift `@c` declarations in Sources/VinDrC.
 * Do not edit: change the Swift sources and regenerate.
 *
 * Conventions: every fallible call returns an int32_t status (VDR_OK = 0); outputs are written
 * only on success; vdr_last_error() holds this thread's message for the last failure.
 * - Handles: each kind is a pointer to its own incomplete struct type (below), released by its
 *   vdr_<kind>_destroy, which accepts NULL.
 * - Text out: a `char **` receives a new NUL-terminated UTF-8 string, released with
 *   vdr_string_destroy. Static text (vdr_status_string, vdr_version, label names) and
 *   vdr_last_error are borrowed and never released.
 * - Sizes, counts, capacities and indices are size_t (a value above PTRDIFF_MAX, such as a negative
 *   number cast, is VDR_ERR_ARGUMENT); per-element arrays shared with numpy/torch (labels, image
 *   indices, box offsets) are int64_t. */
#ifndef VINDR_H
#define VINDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SDK version (Sources/VinDrDICOM/Version.swift); vdr_version() and vdr_version_number() give the
 * library's own, which must match for the ABI major version. */
#define VDR_VERSION_MAJOR {major}
#define VDR_VERSION_MINOR {minor}
#define VDR_VERSION_PATCH {patch}
#define VDR_VERSION_STRING "{major}.{minor}.{patch}"
#define VDR_VERSION_NUMBER (VDR_VERSION_MAJOR * 10000 + VDR_VERSION_MINOR * 100 + VDR_VERSION_PATCH)

/* Handle kinds (Sources/CVinDrHandles/handles.h). */
{handle_typedefs()}

#ifdef __cplusplus
extern "C" {{
#endif

{body(decls)}
#ifdef __cplusplus
}}
#endif

#endif /* VINDR_H */
"""


def python_constants(header: str) -> str:
    """The header's integer VDR_* macros as a Python module."""
    found = re.findall(r"^#define (VDR_[A-Z0-9_]+) (-?\d+)$", header, re.M)
    lines = [f"{name} = {value}" for name, value in found]
    return ('"""Every VDR_* integer constant of include/vindr.h. Generated by scripts/gen_header.py: do not edit."""\n\n'
            + "\n".join(lines) + "\n")


CTYPES_SCALARS = {"int32_t": "c_int32", "int64_t": "c_int64", "uint8_t": "c_uint8", "uint64_t": "c_uint64", "size_t": "c_size_t",
                  "double": "c_double", "float": "c_float", "bool": "c_bool"}


def ctype(decl: str) -> str:
    """The ctypes spelling of a C parameter or return type of the header: handles and untyped
    memory are c_void_p, `char const *` is c_char_p, a returned `char *` string is kept as
    c_void_p (the caller reads and then releases it), other pointers are POINTER(...) of the
    scalar."""
    const = re.search(r"\bconst\b", decl) is not None
    decl = re.sub(r"\bconst\b", "", decl)
    fn = re.match(r"\s*void\s*\(\s*\*\s*\w*\s*\)\s*\((.*)\)\s*$", decl)
    if fn:  # a callback: void (*name)(args)
        return "CFUNCTYPE(None, " + ", ".join(ctype(a) for a in fn.group(1).split(",")) + ")"
    words = re.findall(r"[A-Za-z_]\w*", decl)
    stars = decl.count("*")
    base = words[0]
    if base == "void" or base.startswith("vdr_"):
        return "None" if stars == 0 else "c_void_p" if stars == 1 else "POINTER(c_void_p)"
    if base == "char":
        if const:  # text the caller passes in, or static text the library lends out
            return "c_char_p" if stars == 1 else "POINTER(c_char_p)"
        return "c_void_p" if stars == 1 else "POINTER(c_void_p)"  # returned text, released by the caller
    t = CTYPES_SCALARS[base]
    for _ in range(stars):
        t = f"POINTER({t})"
    return t


def split_params(text: str) -> list[str]:
    """Parameters of a C declaration, split at top-level commas (function pointers stay whole)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in out + [cur] if p.strip() and p.strip() != "void"]


def python_prototypes(header: str) -> str:
    """Every function of the header as name: (restype, argtypes) in ctypes."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", header, flags=re.S)
    lines = []
    for ret, name, params in re.findall(r"([A-Za-z_][\w \*]*?)\s*\b(vdr_\w+)\s*\(((?:[^()]|\([^()]*\))*)\)\s*;", text):
        args = ", ".join(ctype(re.sub(r"\s*\b\w+\s*$", "", p) if "(" not in p else p) for p in split_params(params))
        lines.append(f'    "{name}": ({ctype(ret)}, [{args}]),')
    return ('"""ctypes signatures of every function of include/vindr.h, in header order. Generated by\n'
            'scripts/gen_header.py: do not edit."""\n'
            "from ctypes import CFUNCTYPE, POINTER, c_bool, c_char_p, c_double, c_float, c_int32, c_int64, c_size_t, c_uint8, c_uint64, c_void_p  # noqa: F401\n\n"
            "SIGNATURES = {\n" + "\n".join(lines) + "\n}\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--swift-header", type=pathlib.Path, default=DEFAULT_SWIFT_HEADER)
    ap.add_argument("--print-version", action="store_true", help="print major.minor.patch and exit")
    args = ap.parse_args()
    if args.print_version:
        print("%d.%d.%d" % version())
        return 0
    header = render(args.swift_header)
    outputs = {OUT: header, PY_OUT: python_constants(header), PY_PROTOTYPES: python_prototypes(header)}
    if args.check:
        stale = [str(p.relative_to(ROOT)) for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(f"{', '.join(stale)} stale: run python3 scripts/gen_header.py and commit", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
