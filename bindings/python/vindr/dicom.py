"""DICOM reading and rendering: `read_dicom(path_or_bytes)` -> `DicomImage`."""
from __future__ import annotations

import ctypes
import os
from typing import NamedTuple, Sequence, Union

import numpy as np

from . import _constants as C
from ._checks import c_int, c_out, c_str
from ._lib import check, prototype, string

_vp = ctypes.c_void_p
_i32 = ctypes.c_int32
_dp = ctypes.POINTER(ctypes.c_double)

_open = prototype("vdr_dicom_open")
_open_memory = prototype("vdr_dicom_open_memory")
_destroy = prototype("vdr_dicom_destroy")
_get_int = prototype("vdr_dicom_get_int")
_get_double = prototype("vdr_dicom_get_double")
_get_string = prototype("vdr_dicom_get_string")
_decode = prototype("vdr_dicom_decode")
_opts_create = prototype("vdr_render_options_create")
_opts_destroy = prototype("vdr_render_options_destroy")
_opts_size = prototype("vdr_render_options_set_size")
_opts_aspect = prototype("vdr_render_options_set_aspect")
_opts_window = prototype("vdr_render_options_set_window")
_opts_int = prototype("vdr_render_options_set_int")
_opts_adjust = prototype("vdr_render_options_set_window_adjustment")
_render_size = prototype("vdr_dicom_render_size")
_render = prototype("vdr_dicom_render")
_transform_boxes = prototype("vdr_transform_boxes")

# Constants of include/vindr.h used here, by name.
_INT = {"rows": C.VDR_ATTR_ROWS, "columns": C.VDR_ATTR_COLUMNS, "frames": C.VDR_ATTR_FRAMES,
        "samples_per_pixel": C.VDR_ATTR_SAMPLES_PER_PIXEL, "bits_allocated": C.VDR_ATTR_BITS_ALLOCATED,
        "bits_stored": C.VDR_ATTR_BITS_STORED, "high_bit": C.VDR_ATTR_HIGH_BIT,
        "pixel_representation": C.VDR_ATTR_PIXEL_REPRESENTATION,
        "transfer_syntax_inferred": C.VDR_ATTR_TRANSFER_SYNTAX_INFERRED, "has_pixel_data": C.VDR_ATTR_HAS_PIXEL_DATA}
_STR = {"transfer_syntax_uid": C.VDR_ATTR_TRANSFER_SYNTAX_UID,
        "photometric_interpretation": C.VDR_ATTR_PHOTOMETRIC_INTERPRETATION,
        "voi_lut_function": C.VDR_ATTR_VOI_LUT_FUNCTION, "patient_sex": C.VDR_ATTR_PATIENT_SEX,
        "patient_age": C.VDR_ATTR_PATIENT_AGE, "sop_instance_uid": C.VDR_ATTR_SOP_INSTANCE_UID,
        "media_storage_sop_instance_uid": C.VDR_ATTR_MEDIA_STORAGE_SOP_INSTANCE_UID, "modality": C.VDR_ATTR_MODALITY,
        "body_part_examined": C.VDR_ATTR_BODY_PART_EXAMINED, "view_position": C.VDR_ATTR_VIEW_POSITION,
        "rescale_type": C.VDR_ATTR_RESCALE_TYPE}
_DTYPES = {C.VDR_DTYPE_UINT8: np.uint8, C.VDR_DTYPE_INT8: np.int8, C.VDR_DTYPE_UINT16: np.uint16,
           C.VDR_DTYPE_INT16: np.int16, C.VDR_DTYPE_FLOAT32: np.float32}
_OUTPUT = {"uint8": C.VDR_DTYPE_UINT8, "uint16": C.VDR_DTYPE_UINT16, "float32": C.VDR_DTYPE_FLOAT32}
_VOI = {"LINEAR": C.VDR_VOI_LINEAR, "LINEAR_EXACT": C.VDR_VOI_LINEAR_EXACT, "SIGMOID": C.VDR_VOI_SIGMOID}
_ASPECT = {"stretch": C.VDR_ASPECT_STRETCH, "letterbox": C.VDR_ASPECT_LETTERBOX}
_DECODE = {"exact": C.VDR_DECODE_EXACT, "fast": C.VDR_DECODE_FAST}

Window = Union[str, Sequence[float]]


class RenderTransform(NamedTuple):
    """output = source * scale + offset, per axis, in pixel coordinates (box corners map exactly)."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def apply(self, boxes, inverse: bool = False) -> np.ndarray:
        """Maps float[N, 4] xyxy boxes from source to output pixels (or back with inverse=True)."""
        b = np.ascontiguousarray(boxes, dtype=np.float64).reshape(-1, 4)
        out = np.empty_like(b)
        t = (ctypes.c_double * 4)(*self)
        check(_transform_boxes(t, b.ctypes.data_as(_dp), b.shape[0], bool(inverse), out.ctypes.data_as(_dp)))
        return out


class DicomImage:
    """An opened DICOM file. Attributes mirror the Image Pixel module and the LUT attributes;
    `pixels()` gives stored values, `render()` display-ready pixels."""

    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    high_bit: int
    pixel_representation: int
    transfer_syntax_inferred: bool
    has_pixel_data: bool
    transfer_syntax_uid: str
    photometric_interpretation: str
    voi_lut_function: str
    patient_sex: str
    patient_age: str
    sop_instance_uid: str
    media_storage_sop_instance_uid: str
    modality: str
    body_part_examined: str
    view_position: str
    rescale_type: str
    rescale_slope: float | None
    rescale_intercept: float | None
    windows: list[tuple[float, float]]
    pixel_spacing: tuple[float, float] | None
    voi_lut_count: int
    has_modality_lut: bool

    def __init__(self, source: Union[str, os.PathLike, bytes, bytearray, memoryview]):
        handle = _vp()
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            check(_open_memory(data, len(data), ctypes.byref(handle)))
            self.source = "<memory>"
        else:
            path = c_str("source", source)
            self.source = os.fspath(source)
            check(_open(path, ctypes.byref(handle)))
        self._h = handle
        for name, key in _INT.items():
            v = self._int(key)
            setattr(self, name, bool(v) if name in ("transfer_syntax_inferred", "has_pixel_data") else v)
        for name, key in _STR.items():
            setattr(self, name, self._str(key))
        self.rescale_slope = self._opt_double(C.VDR_ATTR_RESCALE_SLOPE)
        self.rescale_intercept = self._opt_double(C.VDR_ATTR_RESCALE_INTERCEPT)
        self.windows = [(self._double(C.VDR_ATTR_WINDOW_CENTER, i), self._double(C.VDR_ATTR_WINDOW_WIDTH, i))
                        for i in range(self._int(C.VDR_ATTR_WINDOW_COUNT))]
        spacing = self._opt_double(C.VDR_ATTR_PIXEL_SPACING)
        self.pixel_spacing = (spacing, self._double(C.VDR_ATTR_PIXEL_SPACING, 1)) if spacing is not None else None
        self.voi_lut_count = self._int(C.VDR_ATTR_VOI_LUT_COUNT)
        self.has_modality_lut = bool(self._int(C.VDR_ATTR_HAS_MODALITY_LUT))
        self._sample_type = self._int(C.VDR_ATTR_SAMPLE_TYPE)

    # -- attribute access ------------------------------------------------------------------
    def _int(self, key: int) -> int:
        v = ctypes.c_int64()
        check(_get_int(self._handle(), key, ctypes.byref(v)))
        return v.value

    def _double(self, key: int, index: int = 0) -> float:
        v = ctypes.c_double()
        check(_get_double(self._handle(), key, index, ctypes.byref(v)))
        return v.value

    def _opt_double(self, key: int) -> float | None:
        v = ctypes.c_double()
        return v.value if _get_double(self._handle(), key, 0, ctypes.byref(v)) == 0 else None

    def _str(self, key: int) -> str:
        return string(_get_string, self._handle(), key)

    def _handle(self):
        if self._h is None:
            raise ValueError("DicomImage is closed")
        return self._h

    # -- pixels ----------------------------------------------------------------------------
    def pixels(self, frame: int = 0) -> np.ndarray:
        """Stored values of `frame` (no LUT applied): shape (rows, columns), dtype uint8, int8,
        uint16 or int16 as the file stores them."""
        dtype = _DTYPES.get(self._sample_type)
        if dtype is None:
            raise _lib_error(5, f"{self.source}: Bits Allocated {self.bits_allocated} is not supported")
        out = np.empty((self.rows, self.columns), dtype=dtype)
        check(_decode(self._handle(), c_int("frame", frame, _decode, 1), out.ctypes.data, out.nbytes, out.strides[0]))
        return out

    def render(self, size: int | tuple[int, int] | None = None, window: Window = "dicom", dtype: str = "uint8", *,
               aspect: str = "stretch", pad: float = 0.0, window_function: str = "LINEAR",
               percentiles: tuple[float, float] = (0.5, 99.5), index: int = 0, frame: int = 0, threads: int = 1,
               invert_monochrome1: bool = True, decode: str = "exact", window_adjustment: tuple[float, float] = (1.0, 0.0),
               out: np.ndarray | None = None, return_transform: bool = False):
        """Display-ready pixels: modality LUT -> VOI -> MONOCHROME1 inversion -> resize.

        size: None (original), an int (longest side, aspect kept) or (height, width).
        window: "dicom" (the file's first VOI LUT item, else first window, else "auto"), "auto"
            (min-max), "percentile" (`percentiles`), "file" / "lut" (the file's window or VOI LUT
            number `index`), (center, width) with `window_function`, or "kaggle": the public
            VinDr-CXR Kaggle notebooks' read_xray (pydicom apply_voi_lut, MONOCHROME1 as max - x,
            min-max, truncated to uint8; with invert_monochrome1=False, fix_monochrome=False),
            equal bytes at size=None with dtype "uint8"; a resized render resamples that image.
        dtype: "uint8", "uint16" or "float32" (display values in [0, 1]); 1 / max is white.
        aspect: "stretch" or "letterbox" (for (height, width) sizes; borders get `pad` in [0, 1]).
        decode: "exact" (default: full-resolution decode, then the resampling above) or "fast"
            (opt-in: JPEG 2000 and HTJ2K at a reduced resolution level and baseline JPEG through the
            scaled IDCT when the output is at least 2x smaller; faster, but differs from "exact"
            along hard edges such as collimator bands and burned-in markers).
        window_adjustment: (width scale, center shift in widths) applied to the chosen window, as
            window/level dragging does: (1, 0) changes nothing; a VOI LUT's output is re-windowed
            as a window of center 0.5 and width 1.
        out: optional preallocated writable array of the right shape and dtype (C-contiguous, or
            whole columns of a wider array).
        return_transform: also return the RenderTransform mapping source boxes to output pixels.
        """
        if dtype not in _OUTPUT:
            raise _lib_error(1, f"dtype must be one of {sorted(_OUTPUT)}, got {dtype!r}")
        opts = render_options(size, window, aspect=aspect, pad=pad, window_function=window_function,
                              percentiles=percentiles, index=index, frame=frame, threads=threads,
                              invert_monochrome1=invert_monochrome1, decode=decode, window_adjustment=window_adjustment)
        check(_opts_int(opts.h, C.VDR_OPT_OUTPUT_TYPE, _OUTPUT[dtype]))
        oh, ow = _i32(), _i32()
        check(_render_size(self._handle(), opts.h, ctypes.byref(oh), ctypes.byref(ow)))
        shape = (oh.value, ow.value)
        np_dtype = _DTYPES[_OUTPUT[dtype]]
        out = np.empty(shape, dtype=np_dtype) if out is None else out
        nbytes = c_out("out", out, shape, np_dtype)
        t = (ctypes.c_double * 4)()
        check(_render(self._handle(), opts.h, out.ctypes.data, nbytes, out.strides[0], t))
        if return_transform:
            return out, RenderTransform(*t)
        return out

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        if self._h is not None:
            _destroy(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            _destroy(self._h)

    def __repr__(self) -> str:
        return (f"DicomImage({self.source!r}, {self.rows}x{self.columns}, {self.frames} frame(s), "
                f"{self.photometric_interpretation}, {self.bits_stored}/{self.bits_allocated} bits, "
                f"TS {self.transfer_syntax_uid})")


class _RenderOptions:
    def __init__(self):
        self.h = _vp()
        check(_opts_create(ctypes.byref(self.h)))

    def __del__(self):
        _opts_destroy(self.h)


def render_options(size, window: Window = "dicom", *, aspect: str = "stretch", pad: float = 0.0,
                   window_function: str = "LINEAR", percentiles=(0.5, 99.5), index: int = 0, frame: int = 0,
                   threads: int = 1, invert_monochrome1: bool = True, decode: str = "exact",
                   window_adjustment=(1.0, 0.0)) -> _RenderOptions:
    """A native render options object from `DicomImage.render`'s arguments (shared by the Loader
    and `build_cache`, which take the same size, aspect, pad, window and decode words)."""
    opts = _RenderOptions()
    if size is None:
        check(_opts_size(opts.h, C.VDR_SIZE_ORIGINAL, 0, 0))
    elif np.ndim(size) == 0:
        check(_opts_size(opts.h, C.VDR_SIZE_LONGEST_SIDE, 0, c_int("size", size, _opts_size, 3)))
    else:
        h, w = size
        check(_opts_size(opts.h, C.VDR_SIZE_EXACT, c_int("size[0]", h, _opts_size, 2),
                         c_int("size[1]", w, _opts_size, 3)))
    if aspect not in _ASPECT:
        raise _lib_error(1, f"aspect must be one of {sorted(_ASPECT)}, got {aspect!r}")
    check(_opts_aspect(opts.h, _ASPECT[aspect], float(pad)))
    check(_set_window(opts.h, window, window_function, percentiles, index))
    if decode not in _DECODE:
        raise _lib_error(1, f"decode must be one of {sorted(_DECODE)}, got {decode!r}")
    for key, value in ((C.VDR_OPT_FRAME, c_int("frame", frame, _opts_int, 2)),
                       (C.VDR_OPT_THREADS, c_int("threads", threads, _opts_int, 2)),
                       (C.VDR_OPT_INVERT_MONOCHROME1, bool(invert_monochrome1)), (C.VDR_OPT_DECODE, _DECODE[decode])):
        check(_opts_int(opts.h, key, value))
    scale, shift = window_adjustment
    check(_opts_adjust(opts.h, float(scale), float(shift)))
    return opts


def _set_window(h, window: Window, function: str, percentiles, index: int) -> int:
    if isinstance(window, str):
        modes = {"dicom": C.VDR_WINDOW_DICOM, "auto": C.VDR_WINDOW_AUTO, "kaggle": C.VDR_WINDOW_KAGGLE,
                 "file": C.VDR_WINDOW_FILE_INDEX, "lut": C.VDR_WINDOW_FILE_LUT}
        if window == "percentile":
            lo, hi = percentiles
            return _opts_window(h, C.VDR_WINDOW_PERCENTILE, float(lo), float(hi), 0, 0)
        if window not in modes:
            raise _lib_error(1, f"window must be 'dicom', 'auto', 'kaggle', 'percentile', 'file', 'lut' or (center, width); got {window!r}")
        return _opts_window(h, modes[window], 0.0, 0.0, 0, c_int("index", index, _opts_window, 5))
    center, width = window
    if function.upper() not in _VOI:
        raise _lib_error(1, f"window_function must be one of {sorted(_VOI)}, got {function!r}")
    return _opts_window(h, C.VDR_WINDOW_EXPLICIT, float(center), float(width), _VOI[function.upper()], 0)


def _lib_error(status: int, message: str):
    from .errors import _BY_STATUS
    return _BY_STATUS[status](message, status)


_TS_NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian", "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian", "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline", "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless", "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless", "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless", "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless", "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
    "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL", "1.2.840.10008.1.2.4.203": "HTJ2K",
}


def transfer_syntax_name(uid: str) -> str:
    """Display name of a transfer syntax UID (the UID itself when unknown)."""
    return _TS_NAMES.get(uid, uid)


def read_dicom(source: Union[str, os.PathLike, bytes, bytearray, memoryview]) -> DicomImage:
    """Opens a DICOM file from a path or from its bytes (any transfer syntax GDCM/OpenJPEG/OpenJPH decode)."""
    return DicomImage(source)
