#include "metadata/artifact_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <unordered_set>
#include <utility>

#include "common/fs.h"
#include "common/ids.h"
#include "common/json.h"

namespace skiff::metadata {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kHexLen = 64;
constexpr size_t kMaxSegmentLen = 200;  // plus ".json" or ".d", well inside NAME_MAX
constexpr size_t kCopyChunk = size_t{1} << 20;
constexpr std::string_view kKeySuffix = ".json";
constexpr std::string_view kDirSuffix = ".d";
// Temporary files untouched this long belong to a writer that died.
constexpr std::chrono::seconds kAbandonedTempAge = std::chrono::hours(1);

std::string ErrnoText(int err) { return std::strerror(err); }

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The 64 hex digits of "sha256:<hex>" or "<hex>"; "" if malformed.
std::string_view DigestHex(std::string_view digest) {
  if (digest.substr(0, kDigestPrefix.size()) == kDigestPrefix) {
    digest.remove_prefix(kDigestPrefix.size());
  }
  if (digest.size() != kHexLen || !IsLowerHex(digest)) return {};
  return digest;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Splits a user-supplied key into its segments, rejecting anything that could name a path
// outside keys/ or that would not round-trip through the directory layout.
Result<std::vector<std::string_view>> SplitKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("invalid artifact key \"" + std::string(key) +
                           "\": " + std::string(why));
  };
  if (key.empty()) return bad("empty");
  if (key.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (key.front() == '/') return bad("must be relative");
  std::vector<std::string_view> segments;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view seg =
        key.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (seg.empty()) return bad("empty path segment");
    if (seg == "." || seg == "..") return bad("\".\" and \"..\" segments are not allowed");
    if (seg.size() > kMaxSegmentLen) return bad("path segment longer than 200 bytes");
    segments.push_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

// Names in `dir` without "." and ".."; empty if `dir` does not exist.
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return names;
    return Internal("opendir " + dir + ": " + ErrnoText(errno));
  }
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Internal("readdir " + dir + ": " + ErrnoText(err));
  return names;
}

// Collects the keys stored under `dir` (a keys/ directory whose keys start with `key_prefix`).
Status WalkKeys(const std::string& dir, const std::string& key_prefix,
                std::vector<std::string>* out) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    std::string path = JoinPath(dir, name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;  // deleted while we looked
    if (S_ISREG(st.st_mode) && EndsWith(name, kKeySuffix) && name.size() > kKeySuffix.size()) {
      out->push_back(key_prefix + name.substr(0, name.size() - kKeySuffix.size()));
    } else if (S_ISDIR(st.st_mode) && EndsWith(name, kDirSuffix) &&
               name.size() > kDirSuffix.size()) {
      SKIFF_RETURN_IF_ERROR(
          WalkKeys(path, key_prefix + name.substr(0, name.size() - kDirSuffix.size()) + "/", out));
    }
  }
  return OkStatus();
}

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("write " + path + ": " + ErrnoText(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return OkStatus();
}

// Flushes and closes a finished temporary file; removes it on failure.
Status FinishTemp(int fd, const std::string& path, Status status) {
  // fsync before the rename that publishes it: after a crash a content-addressed blob must hold
  // its content, or every later deduplicated write would silently reuse a broken file.
  if (status.ok() && ::fsync(fd) != 0) status = Internal("fsync " + path + ": " + ErrnoText(errno));
  if (::close(fd) != 0 && status.ok()) status = Internal("close " + path + ": " + ErrnoText(errno));
  if (!status.ok()) ::unlink(path.c_str());
  return status;
}

std::chrono::system_clock::time_point MtimeOf(const struct stat& st) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

}  // namespace

ArtifactStore::ArtifactStore(std::string root) : root_(std::move(root)) {}

std::string ArtifactStore::BlobsDir() const { return JoinPath(root_, "blobs/sha256"); }
std::string ArtifactStore::KeysDir() const { return JoinPath(root_, "keys"); }
std::string ArtifactStore::TmpDir() const { return JoinPath(root_, "tmp"); }

std::string ArtifactStore::BlobPath(std::string_view digest) const {
  std::string_view hex = DigestHex(digest);
  if (hex.empty()) return "";
  return JoinPath(JoinPath(BlobsDir(), hex.substr(0, 2)), hex.substr(2));
}

bool ArtifactStore::HasBlob(std::string_view digest) const {
  std::string path = BlobPath(digest);
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ArtifactStore::KeyFilePath(std::string_view key) const {
  // Segments map to "<seg>.d" directories and the last to "<seg>.json", so the key "a" and the
  // keys "a/..." live side by side (keys/a.json, keys/a.d/) and no segment can collide with a
  // file or directory of the layout itself.
  std::string path = KeysDir();
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) {
      path = JoinPath(path, std::string(key.substr(start)) + std::string(kKeySuffix));
      return path;
    }
    path = JoinPath(path, std::string(key.substr(start, slash - start)) + std::string(kDirSuffix));
    start = slash + 1;
  }
}

Result<int> ArtifactStore::CreateTemp(std::string* path) {
  SKIFF_RETURN_IF_ERROR(MakeDirs(TmpDir()));
  *path = JoinPath(TmpDir(), NewUid());
  // Created read-only: the descriptor stays writable, and the published blob is immutable.
  int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return Internal("cannot create " + *path + ": " + ErrnoText(errno));
  return fd;
}

Result<BlobInfo> ArtifactStore::Publish(const std::string& tmp, const std::string& hex,
                                        int64_t size) {
  BlobInfo info{std::string(kDigestPrefix) + hex, size};
  std::string blob = BlobPath(hex);
  Status dirs = MakeDirs(DirName(blob));
  if (!dirs.ok()) {
    ::unlink(tmp.c_str());
    return dirs;
  }
  struct stat st {};
  if (::stat(blob.c_str(), &st) == 0 && st.st_size == size &&
      ::utimensat(AT_FDCWD, blob.c_str(), nullptr, 0) == 0) {
    // Already stored. Refreshing the mtime keeps the blob out of a garbage collection that
    // would otherwise see it as old and unreferenced before the caller binds it.
    ::unlink(tmp.c_str());
    return info;
  }
  // New content, or a blob we cannot touch (another user's) or that looks damaged: replace it.
  // Concurrent writers of the same content each rename a complete file; the last one wins and
  // exactly one blob remains.
  if (::rename(tmp.c_str(), blob.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Internal("rename " + tmp + " to " + blob + ": " + ErrnoText(err));
  }
  return info;
}

namespace {

// Reads `fd` (the file at `path`) to its end into `hash` and `size`, handing each piece to `sink`
// when there is one (a copy being written).
Status HashFile(int fd, const std::string& path, Sha256* hash, int64_t* size,
                const std::function<Status(const char*, size_t)>& sink) {
  std::vector<char> buf(kCopyChunk);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("read " + path + ": " + ErrnoText(errno));
    }
    if (n == 0) return OkStatus();
    hash->Update(buf.data(), static_cast<size_t>(n));
    if (sink) SKIFF_RETURN_IF_ERROR(sink(buf.data(), static_cast<size_t>(n)));
    *size += n;
  }
}

}  // namespace

Result<BlobInfo> ArtifactStore::PutFile(const std::string& path) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    if (errno == ENOENT) return NotFound("no such file: " + path);
    return Internal("cannot open " + path + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return InvalidArgument(path + " is not a regular file");
  }
  std::string tmp;
  Result<int> out = CreateTemp(&tmp);
  if (!out.ok()) {
    ::close(in);
    return out.status();
  }
  Sha256 hash;
  int64_t size = 0;
  Status s = HashFile(in, path, &hash, &size, [&](const char* data, size_t n) {
    return WriteAll(*out, data, n, tmp);
  });
  ::close(in);
  SKIFF_RETURN_IF_ERROR(FinishTemp(*out, tmp, s));
  return Publish(tmp, hash.FinalHex(), size);
}

Result<std::string> ArtifactStore::StagingDir() const {
  SKIFF_RETURN_IF_ERROR(MakeDirs(TmpDir()));
  return TmpDir();
}

Result<BlobInfo> ArtifactStore::AdoptFile(const std::string& path) {
  std::string dir = TmpDir() + "/";
  if (path.size() <= dir.size() || path.compare(0, dir.size(), dir) != 0 ||
      path.find('/', dir.size()) != std::string::npos) {
    return InvalidArgument(path + " is not a file in the staging directory " + TmpDir());
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("no such file: " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    ::unlink(path.c_str());
    return InvalidArgument(path + " is not a regular file");
  }
  Sha256 hash;
  int64_t size = 0;
  Status s = HashFile(fd, path, &hash, &size, nullptr);
  // Read-only like every blob; the descriptor is only read, so `FinishTemp`'s fsync still works.
  if (s.ok() && ::fchmod(fd, 0444) != 0) s = Internal("chmod " + path + ": " + ErrnoText(errno));
  SKIFF_RETURN_IF_ERROR(FinishTemp(fd, path, s));
  return Publish(path, hash.FinalHex(), size);
}

Result<BlobInfo> ArtifactStore::PutBytes(std::string_view data) {
  std::string tmp;
  SKIFF_ASSIGN_OR_RETURN(int fd, CreateTemp(&tmp));
  SKIFF_RETURN_IF_ERROR(FinishTemp(fd, tmp, WriteAll(fd, data.data(), data.size(), tmp)));
  return Publish(tmp, Sha256Hex(data), static_cast<int64_t>(data.size()));
}

Status ArtifactStore::BindKey(std::string_view key, const BlobInfo& blob) {
  SKIFF_RETURN_IF_ERROR(SplitKey(key).status());
  std::string_view hex = DigestHex(blob.digest);
  if (hex.empty()) return InvalidArgument("invalid blob digest \"" + blob.digest + "\"");
  std::string blob_path = BlobPath(hex);
  struct stat st {};
  if (::stat(blob_path.c_str(), &st) != 0) {
    return FailedPrecondition("blob " + blob.digest + " is not in the artifact store");
  }
  if (st.st_size != blob.size) {
    return FailedPrecondition("blob " + blob.digest + " has " + std::to_string(st.st_size) +
                              " bytes, not " + std::to_string(blob.size));
  }
  Json doc = {{"key", std::string(key)},
              {"digest", std::string(kDigestPrefix) + std::string(hex)},
              {"size", blob.size}};
  std::string text = DumpJson(doc) + "\n";

  std::string tmp;
  SKIFF_ASSIGN_OR_RETURN(int fd, CreateTemp(&tmp));
  SKIFF_RETURN_IF_ERROR(FinishTemp(fd, tmp, WriteAll(fd, text.data(), text.size(), tmp)));
  std::string path = KeyFilePath(key);
  // A concurrent `DeleteKey` may prune the (empty) parent directory between our mkdir and
  // rename; recreate it and try again.
  constexpr int kAttempts = 20;
  for (int attempt = 1;; ++attempt) {
    Status dirs = MakeDirs(DirName(path));
    if (dirs.ok()) {
      if (::rename(tmp.c_str(), path.c_str()) == 0) return OkStatus();
      int err = errno;
      if (err != ENOENT || attempt == kAttempts) {
        ::unlink(tmp.c_str());
        return Internal("rename " + tmp + " to " + path + ": " + ErrnoText(err));
      }
    } else if (attempt == kAttempts) {
      ::unlink(tmp.c_str());
      return dirs;
    }
  }
}

Result<BlobInfo> ArtifactStore::ResolveKey(std::string_view key) const {
  SKIFF_RETURN_IF_ERROR(SplitKey(key).status());
  Result<std::string> text = ReadFile(KeyFilePath(key));
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFound("artifact key \"" + std::string(key) + "\" not found");
    }
    return text.status();
  }
  SKIFF_ASSIGN_OR_RETURN(Json doc, ParseJson(*text));
  const Json* digest = FindField(doc, "digest");
  const Json* size = FindField(doc, "size");
  if (digest == nullptr || !digest->is_string() || DigestHex(digest->get<std::string>()).empty() ||
      size == nullptr || !size->is_number_integer()) {
    return Internal("corrupt key file for \"" + std::string(key) + "\"");
  }
  return BlobInfo{digest->get<std::string>(), size->get<int64_t>()};
}

Result<std::vector<std::string>> ArtifactStore::ListKeys(std::string_view prefix) const {
  std::vector<std::string> keys;
  if (prefix.empty()) {
    SKIFF_RETURN_IF_ERROR(WalkKeys(KeysDir(), "", &keys));
  } else {
    bool children_only = prefix.back() == '/';
    std::string_view base = children_only ? prefix.substr(0, prefix.size() - 1) : prefix;
    SKIFF_RETURN_IF_ERROR(SplitKey(base).status().WithPrefix("prefix"));
    std::string file = KeyFilePath(base);
    struct stat st {};
    if (!children_only && ::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      keys.emplace_back(base);
    }
    std::string dir = file.substr(0, file.size() - kKeySuffix.size()) + std::string(kDirSuffix);
    SKIFF_RETURN_IF_ERROR(WalkKeys(dir, std::string(base) + "/", &keys));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

Status ArtifactStore::DeleteKey(std::string_view key) {
  SKIFF_RETURN_IF_ERROR(SplitKey(key).status());
  std::string path = KeyFilePath(key);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NotFound("artifact key \"" + std::string(key) + "\" not found");
    return Internal("unlink " + path + ": " + ErrnoText(errno));
  }
  // Prune directories the key leaves empty; rmdir fails harmlessly on any that are not.
  std::string keys_dir = KeysDir();
  for (std::string dir = DirName(path); dir.size() > keys_dir.size(); dir = DirName(dir)) {
    if (::rmdir(dir.c_str()) != 0) break;
  }
  return OkStatus();
}

Result<int> ArtifactStore::CollectGarbage(std::chrono::seconds grace) {
  GcOptions o;
  o.grace = grace;
  SKIFF_ASSIGN_OR_RETURN(GcResult r, CollectGarbage(o));
  return static_cast<int>(r.removed.size());
}

Result<ArtifactStore::GcResult> ArtifactStore::CollectGarbage(const GcOptions& options) {
  // Referenced digests first: a blob bound after this scan is protected by its fresh mtime.
  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> keys, ListKeys(""));
  std::unordered_set<std::string> referenced;
  for (const std::string& root : options.roots) referenced.insert(std::string(DigestHex(root)));
  for (const std::string& key : keys) {
    Result<BlobInfo> blob = ResolveKey(key);
    if (!blob.ok()) {
      if (blob.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
      return blob.status().WithPrefix("garbage collection stopped");
    }
    referenced.insert(std::string(DigestHex(blob->digest)));
  }

  // File mtimes are wall-clock times, so the cutoff must be too (not an injected clock).
  auto now = std::chrono::system_clock::now();
  GcResult result;
  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> shards, ListDir(BlobsDir()));
  for (const std::string& shard : shards) {
    if (shard.size() != 2 || !IsLowerHex(shard)) continue;
    std::string shard_dir = JoinPath(BlobsDir(), shard);
    SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(shard_dir));
    for (const std::string& name : names) {
      std::string hex = shard + name;
      if (hex.size() != kHexLen || !IsLowerHex(hex)) continue;
      std::string path = JoinPath(shard_dir, name);
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (referenced.count(hex) > 0 || now - MtimeOf(st) < options.grace) {
        ++result.kept;
        continue;
      }
      if (!options.dry_run && ::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) continue;
        return Internal("unlink " + path + ": " + ErrnoText(errno));
      }
      result.removed.push_back({"sha256:" + hex, static_cast<int64_t>(st.st_size)});
      result.removed_bytes += st.st_size;
    }
  }
  if (options.dry_run) return result;

  SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> temps, ListDir(TmpDir()));
  auto temp_age = std::max<std::chrono::seconds>(options.grace, kAbandonedTempAge);
  for (const std::string& name : temps) {
    std::string path = JoinPath(TmpDir(), name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && now - MtimeOf(st) >= temp_age) {
      ::unlink(path.c_str());
    }
  }
  return result;
}

}  // namespace skiff::metadata
