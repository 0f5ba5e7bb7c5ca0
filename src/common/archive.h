// Artifact archives as Argo passes them between workflow steps: tar+gzip ("tgz", Argo's default),
// plain tar, or no archive at all (a copied file or tree). The tar format (GNU flavour: ustar
// headers, 'L'/'K' records for names and link targets longer than 100 bytes, base-256 numbers for
// sizes past 8 GiB) is implemented here; gzip comes from zlib. Archives interoperate with GNU tar
// in both directions, and the reader also honours POSIX pax headers (`path`, `linkpath`, `size`),
// as written by `tar --format=posix` and Python's `tarfile`.
//
// File contents are streamed in fixed-size chunks, never loaded whole. Free functions with no
// shared state: thread-safe as long as callers do not touch the same paths concurrently.
#pragma once

#include <string>

#include "common/status.h"

namespace skiff {

enum class ArchiveFormat { kTarGzip, kTar };

// Archives `src` (a file or a directory, recursively) into `out_file`, written through a temporary
// file beside it and renamed into place, so readers never see half an archive.
//
// Entry names are relative and rooted at the base name of `src`, as Argo does: archiving
// /tmp/hello_world.txt yields the single entry "hello_world.txt"; archiving /tmp/dir yields
// "dir/", "dir/a", ... (children in byte order of their names). Symlinks inside the tree are stored
// as symlinks; if `src` itself is a symlink it is followed. Modes (the 07777 bits) and mtimes are
// kept; owners are stored numerically. Sockets are skipped (as GNU tar does); fifos and devices are
// rejected with InvalidArgument. `out_file` is never archived into itself.
Status CreateArchive(const std::string& src, const std::string& out_file, ArchiveFormat format);

// Extracts `archive` (gzip-compressed or plain tar, detected from the bytes) so that the result
// lives at `dest`: if the archive has exactly one top-level entry, that entry becomes `dest` (a
// file, a directory or a symlink); otherwise `dest` becomes a directory holding all top-level
// entries. Parent directories of `dest` are created. The archive is unpacked into a staging
// directory beside `dest` and renamed into place, so `dest` appears complete or not at all.
//
// If `dest` already exists as a file, a symlink or an empty directory it is replaced; a non-empty
// directory is left alone and the call fails with AlreadyExists.
//
// Errors (InvalidArgument): entries that would escape (absolute names, ".." components, or a path
// through a symlink extracted earlier), hard links, devices and fifos, unknown entry types, bad
// checksums, and truncated input. Modes keep the 0777 bits (setuid, setgid and sticky are dropped);
// mtimes are restored; ownership is not. Symlink targets are written as stored and never followed.
Status ExtractArchive(const std::string& archive, const std::string& dest);

// True if the file starts with a gzip header (1f 8b) or has a ustar magic ("ustar") at offset 257.
// False for anything unreadable.
bool LooksLikeArchive(const std::string& path);

// Copies a file or a directory tree to `dest` (for `archive: none` artifacts): modes kept, symlinks
// inside the tree copied as symlinks, a symlink `src` followed. Parent directories of `dest` are
// created; files are written through a temporary name and renamed; existing directories are merged
// into. Copying a directory into itself is rejected with InvalidArgument.
Status CopyTree(const std::string& src, const std::string& dest);

}  // namespace skiff
