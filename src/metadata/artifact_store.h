// The local artifact repository: a content-addressed blob store plus a namespace of user-visible
// keys, on local disk. It stands in for Argo's default S3 artifact repository: a step's output
// artifact is stored once as a blob named by its SHA-256, and Argo artifact keys
// ("my-wf/my-wf-gen-123/hello-art.tgz", "my-artifacts/file.txt") are bound to blobs.
//
// On-disk layout under `root` (see README.md):
//   blobs/sha256/<ab>/<cdef...>   one read-only file per distinct content; <ab> = first two hex
//   keys/<seg>.d/.../<leaf>.json  one small JSON document per key ({"key","digest","size"})
//   tmp/                          files being written; published with rename(2)
//
// Thread-safe, and several processes may share one `root`: every change is a write to a private
// temporary file followed by an atomic rename, so readers see a whole blob or key or none. The
// object holds no mutable state of its own; its methods may be called concurrently.
//
// Garbage collection and writers coordinate through blob mtimes: `PutFile`/`PutBytes` leave the
// blob's mtime at "now" (also when the content was already stored), and `CollectGarbage` never
// removes a blob younger than its `grace`. A writer must therefore bind a blob within `grace` of
// storing it; a grace of minutes is ample. `BindKey` refuses blobs that are no longer present.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/status.h"

namespace skiff::metadata {

struct BlobInfo {
  std::string digest;  // "sha256:<64 lowercase hex>"
  int64_t size = 0;    // bytes
};

class ArtifactStore {
 public:
  // Directories under `root` are created on first write; constructing touches nothing.
  explicit ArtifactStore(std::string root);

  const std::string& root() const { return root_; }

  // Streams the regular file at `path` into the store while hashing it. Content already present
  // is not stored again (the same blob is returned and its mtime refreshed). NotFound if `path`
  // does not exist, InvalidArgument if it is not a regular file.
  Result<BlobInfo> PutFile(const std::string& path);
  Result<BlobInfo> PutBytes(std::string_view data);
  // The directory (created here) where a writer may put a whole file before `AdoptFile`: on the
  // store's filesystem, so adopting it is a rename. The HTTP server spills uploads into it.
  Result<std::string> StagingDir() const;
  // Takes the file at `path`, which must be directly in `StagingDir()`: hashes it and renames
  // it into place as the blob (no copy; removed instead if the content is already stored).
  // The file is gone afterwards whatever the outcome. InvalidArgument for a path elsewhere.
  Result<BlobInfo> AdoptFile(const std::string& path);

  // Path of the blob with `digest` ("sha256:<hex>" or bare hex), whether or not it exists; ""
  // when `digest` is not a well-formed SHA-256 digest.
  std::string BlobPath(std::string_view digest) const;
  bool HasBlob(std::string_view digest) const;

  // Binds `key` to `blob`, replacing any earlier binding atomically. Keys come from users:
  // absolute keys, empty segments ("a//b", a trailing '/'), "." and ".." segments, NUL bytes and
  // segments longer than 200 bytes are rejected with InvalidArgument. FailedPrecondition if the
  // blob is not in the store (or `blob.size` disagrees with it).
  Status BindKey(std::string_view key, const BlobInfo& blob);
  // The blob bound to `key`; NotFound if the key is not bound.
  Result<BlobInfo> ResolveKey(std::string_view key) const;
  // Bound keys under `prefix`, sorted. Prefixes match whole segments: "a" matches the key "a"
  // and keys "a/...", never "ab/x"; "a/" matches only keys "a/...". "" lists every key.
  Result<std::vector<std::string>> ListKeys(std::string_view prefix) const;
  // Unbinds `key` (the blob stays until garbage collection). NotFound if it was not bound.
  Status DeleteKey(std::string_view key);

  // Removes blobs that no key references and whose mtime is at least `grace` old; returns how
  // many were removed. Also removes temporary files abandoned for an hour or more (by crashed
  // writers); those are not counted. Fails without removing anything if a key cannot be read.
  Result<int> CollectGarbage(std::chrono::seconds grace);

  struct GcOptions {
    std::chrono::seconds grace{3600};
    // Digests referenced from elsewhere ("sha256:<hex>" or hex): the lineage store's artifacts,
    // which include everything a live run logged or recorded. Never removed.
    std::unordered_set<std::string> roots;
    bool dry_run = false;  // report what would go, remove nothing
  };
  struct GcResult {
    std::vector<BlobInfo> removed;  // (or, with `dry_run`, that would be)
    int64_t removed_bytes = 0;
    int64_t kept = 0;  // blobs left
  };
  Result<GcResult> CollectGarbage(const GcOptions& options);

 private:
  std::string BlobsDir() const;
  std::string KeysDir() const;
  std::string TmpDir() const;
  // keys/<seg>.d/.../<leaf>.json for a validated key.
  std::string KeyFilePath(std::string_view key) const;
  // Moves a finished temporary file to the blob named by `hex` (deduplicating).
  Result<BlobInfo> Publish(const std::string& tmp, const std::string& hex, int64_t size);
  // A new, unique, empty file under tmp/, opened for writing; returns the descriptor.
  Result<int> CreateTemp(std::string* path);

  std::string root_;
};

}  // namespace skiff::metadata
