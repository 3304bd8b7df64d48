/* The format of every disk kiln opens: named by kiln (the file's extension or --format), never
 * read from the disk's bytes, which the guest wrote; and a qcow2's header checked for files
 * outside the image (a backing file, an external data file) before anything opens it. */
#pragma once

#include "error.h"

/* The format an input disk's name gives: .raw and .img raw, .qcow2 qcow2; NULL otherwise. */
const char *kiln_input_format(const char *path);

/* "raw" or "qcow2" as a static string when name is one of them (a --format value); NULL otherwise. */
const char *kiln_input_format_name(const char *name);

/* May path be handed to qemu-img, QEMU or libguestfs as format? raw: always (nothing in a raw
 * file is read as metadata). qcow2: only a qcow2 header (version 2 or 3) with no backing file, no
 * external data file and no header extension naming one. vmdk, vhdx: only kiln's own output
 * (qemu-img convert -O writes them self-contained); the CLI never takes them as input. */
int kiln_image_check(const char *path, const char *format, struct kiln_error **reterr);
