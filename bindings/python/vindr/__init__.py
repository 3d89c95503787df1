"""VinDr SDK: read, window and resize VinDr-CXR chest X-ray DICOMs, and work with their labels.

All logic lives in the native library (libvindr.so); this package is a thin ctypes + numpy layer.
"""
from . import _lib
from .errors import (BufferTooSmallError, CSVFormatError, DecodeError, FormatError, InternalError,
                     InvalidArgumentError, NoPixelDataError, OutOfMemoryError, UnsupportedError, VinDrError,
                     VinDrIOError)

__version__: str = _lib.version().decode()
"""The native library's version, "major.minor.patch" (the package is versioned with it)."""


def version_number() -> int:
    """The native library's version as major*10000 + minor*100 + patch."""
    return _lib.version_number()

from .dicom import DicomImage, RenderTransform, read_dicom
from .loader import Batch, CacheMember, CacheReport, Dataset, Loader, Sample, build_cache, cache_sample, merge_cache
from .boxes import box_iou, convert_boxes, nms, soft_nms, weighted_boxes_fusion
from .annotations import KAGGLE_CLASSES, LABELS, Annotations, Label, label, plot_label_distribution, table2
from .metrics import average_precision, coco_evaluate, coco_evaluate_files, evaluate
from .deid import DeidResult, deidentify, screen_pixels, scrub_text
from .transcoding import TranscodeResult, transcode
from .sample import write_sample
