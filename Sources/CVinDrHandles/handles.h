// The C ABI's handle kinds, one struct type per kind, so that a C or C++ compiler rejects a
// handle passed where another kind is expected. include/vindr.h declares them as incomplete
// types (scripts/gen_header.py); here, for Swift only, each has a placeholder member so that Swift
// imports it as a distinct pointee type (an incomplete struct would become OpaquePointer). A
// handle points at a retained Swift object and is never dereferenced as the struct.
#ifndef VINDR_HANDLES_H
#define VINDR_HANDLES_H

typedef struct vdr_dicom { char opaque_; } vdr_dicom;
typedef struct vdr_render_options { char opaque_; } vdr_render_options;
typedef struct vdr_annotations { char opaque_; } vdr_annotations;
typedef struct vdr_targets { char opaque_; } vdr_targets;
typedef struct vdr_samples { char opaque_; } vdr_samples;
typedef struct vdr_loader_options { char opaque_; } vdr_loader_options;
typedef struct vdr_loader { char opaque_; } vdr_loader;
typedef struct vdr_batch { char opaque_; } vdr_batch;
typedef struct vdr_deid_options { char opaque_; } vdr_deid_options;
typedef struct vdr_deid_result { char opaque_; } vdr_deid_result;

#endif
