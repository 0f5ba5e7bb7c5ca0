#include "common/archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/ids.h"

namespace skiff {
namespace {

constexpr size_t kBlockSize = 512;
constexpr size_t kChunkSize = size_t{1} << 16;
// 'L'/'K' names and pax headers are read into memory; anything bigger than this is not a name.
constexpr uint64_t kMaxMetaRecordSize = uint64_t{1} << 20;

// Field offsets and widths of a ustar header block.
constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kModeOff = 100, kModeLen = 8;
constexpr size_t kUidOff = 108, kUidLen = 8;
constexpr size_t kGidOff = 116, kGidLen = 8;
constexpr size_t kSizeOff = 124, kSizeLen = 12;
constexpr size_t kMtimeOff = 136, kMtimeLen = 12;
constexpr size_t kChksumOff = 148, kChksumLen = 8;
constexpr size_t kTypeOff = 156;
constexpr size_t kLinkOff = 157, kLinkLen = 100;
constexpr size_t kMagicOff = 257;
constexpr size_t kPrefixOff = 345, kPrefixLen = 155;

constexpr char kTypeFile = '0';
constexpr char kTypeOldFile = '\0';
constexpr char kTypeHardLink = '1';
constexpr char kTypeSymlink = '2';
constexpr char kTypeCharDev = '3';
constexpr char kTypeBlockDev = '4';
constexpr char kTypeDir = '5';
constexpr char kTypeFifo = '6';
constexpr char kTypeContiguous = '7';
constexpr char kTypeGnuLongName = 'L';
constexpr char kTypeGnuLongLink = 'K';
constexpr char kTypePaxLocal = 'x';
constexpr char kTypePaxGlobal = 'g';

using Block = std::array<char, kBlockSize>;

std::string ErrnoText(int err) { return std::strerror(err); }

// ---------------------------------------------------------------------------------------------
// Byte streams: a tar stream is written to / read from either a plain file or a gzip stream.

// Writes an archive to an open file descriptor, gzip-compressed or not. Owns the descriptor.
class ArchiveOutput {
 public:
  ArchiveOutput(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~ArchiveOutput() {
    if (gz_ != nullptr) gzclose(gz_);
    if (fd_ >= 0) ::close(fd_);
  }
  ArchiveOutput(const ArchiveOutput&) = delete;
  ArchiveOutput& operator=(const ArchiveOutput&) = delete;

  Status Open(bool gzip) {
    if (!gzip) return OkStatus();
    gz_ = gzdopen(fd_, "wb6");
    if (gz_ == nullptr) return Internal("cannot start gzip stream for " + path_);
    fd_ = -1;  // owned by `gz_` now
    gzbuffer(gz_, 1 << 17);
    return OkStatus();
  }

  Status Write(const char* data, size_t size) {
    if (gz_ != nullptr) {
      while (size > 0) {
        unsigned n = static_cast<unsigned>(std::min(size, kChunkSize));
        if (gzwrite(gz_, data, n) != static_cast<int>(n)) return GzError();
        data += n;
        size -= n;
      }
      return OkStatus();
    }
    if (buffer_.size() + size > kChunkSize) SKIFF_RETURN_IF_ERROR(Flush());
    if (size >= kChunkSize) return WriteFd(data, size);
    buffer_.append(data, size);
    return OkStatus();
  }

  Status WriteZeros(size_t size) {
    static const Block kZeros{};
    while (size > 0) {
      size_t n = std::min(size, kBlockSize);
      SKIFF_RETURN_IF_ERROR(Write(kZeros.data(), n));
      size -= n;
    }
    return OkStatus();
  }

  // Flushes and closes; the archive is complete only if this succeeds.
  Status Close() {
    if (gz_ != nullptr) {
      int rc = gzclose(gz_);
      gz_ = nullptr;
      if (rc != Z_OK) {
        return Internal("finishing gzip stream " + path_ + " failed (zlib " + std::to_string(rc) +
                        ")");
      }
      return OkStatus();
    }
    SKIFF_RETURN_IF_ERROR(Flush());
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Internal("close " + path_ + ": " + ErrnoText(errno));
    return OkStatus();
  }

 private:
  Status GzError() {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (err == Z_ERRNO) return Internal("write " + path_ + ": " + ErrnoText(errno));
    return Internal("gzip " + path_ + ": " + (msg != nullptr ? msg : "unknown error"));
  }

  Status Flush() {
    Status s = WriteFd(buffer_.data(), buffer_.size());
    buffer_.clear();
    return s;
  }

  Status WriteFd(const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Internal("write " + path_ + ": " + ErrnoText(errno));
      }
      data += n;
      size -= static_cast<size_t>(n);
    }
    return OkStatus();
  }

  int fd_;
  gzFile gz_ = nullptr;
  std::string path_;
  std::string buffer_;
};

// Reads an archive file; zlib's gz reader passes non-gzip input through unchanged, which is how a
// plain tar and a tgz are told apart "from the bytes".
class ArchiveInput {
 public:
  ArchiveInput() = default;
  ~ArchiveInput() {
    if (gz_ != nullptr) gzclose(gz_);
  }
  ArchiveInput(const ArchiveInput&) = delete;
  ArchiveInput& operator=(const ArchiveInput&) = delete;

  Status Open(const std::string& path) {
    path_ = path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("no such archive: " + path);
      return Internal("cannot open " + path + ": " + ErrnoText(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return InvalidArgument(path + " is not a regular file");
    }
    gz_ = gzdopen(fd, "rb");
    if (gz_ == nullptr) {
      ::close(fd);
      return Internal("cannot read " + path);
    }
    gzbuffer(gz_, 1 << 17);
    return OkStatus();
  }

  // Reads up to `size` bytes, stopping early only at the end of the input; `*got` says how many.
  Status Read(char* data, size_t size, size_t* got) {
    *got = 0;
    while (*got < size) {
      unsigned want = static_cast<unsigned>(std::min(size - *got, kChunkSize));
      int n = gzread(gz_, data + *got, want);
      if (n < 0) return GzError();
      if (n == 0) break;
      *got += static_cast<size_t>(n);
    }
    if (*got < size) {
      int err = Z_OK;
      gzerror(gz_, &err);
      if (err != Z_OK) return GzError();
    }
    return OkStatus();
  }

  // Reads exactly `size` bytes or fails with "unexpected end of archive".
  Status ReadExact(char* data, size_t size) {
    size_t got = 0;
    SKIFF_RETURN_IF_ERROR(Read(data, size, &got));
    if (got < size) return Truncated();
    return OkStatus();
  }

  Status Skip(uint64_t size) {
    char buf[kChunkSize];
    while (size > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(size, sizeof buf));
      SKIFF_RETURN_IF_ERROR(ReadExact(buf, n));
      size -= n;
    }
    return OkStatus();
  }

  Status Truncated() const { return InvalidArgument(path_ + ": unexpected end of archive"); }
  const std::string& path() const { return path_; }

 private:
  Status GzError() {
    int err = Z_OK;
    const char* msg = gzerror(gz_, &err);
    if (err == Z_ERRNO) return Internal("read " + path_ + ": " + ErrnoText(errno));
    return InvalidArgument(path_ +
                           ": corrupt gzip stream: " + (msg != nullptr ? msg : "unknown error"));
  }

  gzFile gz_ = nullptr;
  std::string path_;
};

Status WriteAllFd(int fd, const char* data, size_t size, const std::string& path) {
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

// Reads up to `size` bytes, retrying on EINTR and short reads; returns bytes read or -1.
ssize_t ReadUpTo(int fd, char* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

Result<std::string> ReadLink(const std::string& path) {
  std::vector<char> buf(PATH_MAX + 1);
  ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return Internal("readlink " + path + ": " + ErrnoText(errno));
  if (static_cast<size_t>(n) >= buf.size()) return Internal("symlink target too long: " + path);
  return std::string(buf.data(), static_cast<size_t>(n));
}

// Entry names of a directory, without "." and "..", in byte order (so archives are reproducible).
Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return Internal("opendir " + path + ": " + ErrnoText(errno));
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Internal("readdir " + path + ": " + ErrnoText(err));
  std::sort(names.begin(), names.end());
  return names;
}

// Last path component of `path` with trailing slashes removed ("a/b/" -> "b"); "" for "/".
std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/") return "";
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Absolute, lexically normal form of `path` without a trailing slash.
std::string AbsoluteNormal(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) abs = path;
  std::string out = abs.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// A name no other writer picks: temporary files sit next to their final path, so the rename
// that publishes them stays on one file system.
std::string TempSibling(const std::string& path) {
  return JoinPath(DirName(path), "." + BaseName(path) + ".tmp-" + RandomSuffix(10));
}

// ---------------------------------------------------------------------------------------------
// Tar headers.

struct TarEntry {
  std::string name;  // as stored, directories with a trailing '/'
  std::string link_name;
  char type = kTypeFile;
  uint32_t mode = 0644;
  uint64_t uid = 0;
  uint64_t gid = 0;
  uint64_t size = 0;
  int64_t mtime = 0;
};

void PutString(Block& block, size_t off, size_t width, std::string_view value) {
  std::memcpy(block.data() + off, value.data(), std::min(width, value.size()));
}

// `width - 1` octal digits and a NUL, or GNU base-256 (high bit set) when the value does not fit.
void PutNumber(Block& block, size_t off, size_t width, uint64_t value) {
  char* field = block.data() + off;
  if (value < (uint64_t{1} << (3 * (width - 1)))) {
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
      field[i] = static_cast<char>('0' + (value & 7));
      value >>= 3;
    }
    return;
  }
  for (size_t i = width; i-- > 1;) {
    field[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  field[0] = static_cast<char>(0x80);
}

// The header checksum: the unsigned byte sum with the checksum field read as spaces.
uint64_t ChecksumOf(const Block& block) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlockSize; ++i) {
    bool in_field = i >= kChksumOff && i < kChksumOff + kChksumLen;
    sum += in_field ? ' ' : static_cast<unsigned char>(block[i]);
  }
  return sum;
}

// Old tars summed signed chars; accepted on read as GNU tar does.
int64_t SignedChecksumOf(const Block& block) {
  int64_t sum = 0;
  for (size_t i = 0; i < kBlockSize; ++i) {
    bool in_field = i >= kChksumOff && i < kChksumOff + kChksumLen;
    sum += in_field ? ' ' : static_cast<signed char>(block[i]);
  }
  return sum;
}

Block MakeHeader(std::string_view name, std::string_view link_name, char type, const TarEntry& e,
                 uint64_t size) {
  Block block{};
  PutString(block, kNameOff, kNameLen, name);
  PutNumber(block, kModeOff, kModeLen, e.mode & 07777);
  PutNumber(block, kUidOff, kUidLen, e.uid);
  PutNumber(block, kGidOff, kGidLen, e.gid);
  PutNumber(block, kSizeOff, kSizeLen, size);
  PutNumber(block, kMtimeOff, kMtimeLen, static_cast<uint64_t>(std::max<int64_t>(e.mtime, 0)));
  block[kTypeOff] = type;
  PutString(block, kLinkOff, kLinkLen, link_name);
  // GNU format ("ustar  \0"), as GNU tar writes by default: it is the flavour whose 'L'/'K'
  // long-name records and base-256 numbers every common reader understands.
  PutString(block, kMagicOff, 8, std::string_view("ustar  \0", 8));
  char chksum[kChksumLen];
  std::snprintf(chksum, sizeof chksum, "%06o", static_cast<unsigned>(ChecksumOf(block)));
  std::memcpy(block.data() + kChksumOff, chksum, 7);  // six digits and a NUL
  block[kChksumOff + 7] = ' ';
  return block;
}

Status WritePadding(ArchiveOutput& out, uint64_t size) {
  size_t rem = static_cast<size_t>(size % kBlockSize);
  return rem == 0 ? OkStatus() : out.WriteZeros(kBlockSize - rem);
}

// A GNU 'L' or 'K' record: the full name as the data of a pseudo-entry "././@LongLink".
Status WriteLongRecord(ArchiveOutput& out, char type, const std::string& value) {
  TarEntry meta;
  meta.mode = 0644;
  uint64_t size = value.size() + 1;  // NUL-terminated
  Block header = MakeHeader("././@LongLink", "", type, meta, size);
  SKIFF_RETURN_IF_ERROR(out.Write(header.data(), header.size()));
  SKIFF_RETURN_IF_ERROR(out.Write(value.c_str(), value.size() + 1));
  return WritePadding(out, size);
}

Status WriteHeader(ArchiveOutput& out, const TarEntry& e) {
  if (e.name.size() > kNameLen)
    SKIFF_RETURN_IF_ERROR(WriteLongRecord(out, kTypeGnuLongName, e.name));
  if (e.link_name.size() > kLinkLen) {
    SKIFF_RETURN_IF_ERROR(WriteLongRecord(out, kTypeGnuLongLink, e.link_name));
  }
  Block header = MakeHeader(e.name, e.link_name, e.type, e, e.size);
  return out.Write(header.data(), header.size());
}

// ---------------------------------------------------------------------------------------------
// Writing: walks a file tree into tar entries.

class TarWriter {
 public:
  explicit TarWriter(ArchiveOutput& out) : out_(out) {}

  // Inodes never archived: the archive being written (and the one it will replace).
  void SkipInode(const struct stat& st) { skip_.emplace_back(st.st_dev, st.st_ino); }

  Status Add(const std::string& path, const std::string& name, const struct stat& st) {
    for (const auto& [dev, ino] : skip_) {
      if (st.st_dev == dev && st.st_ino == ino) return OkStatus();
    }
    TarEntry e;
    e.mode = static_cast<uint32_t>(st.st_mode & 07777);
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtim.tv_sec;
    if (S_ISDIR(st.st_mode)) {
      e.type = kTypeDir;
      e.name = name + "/";
      SKIFF_RETURN_IF_ERROR(WriteHeader(out_, e));
      SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> children, ListDir(path));
      for (const std::string& child : children) {
        std::string child_path = JoinPath(path, child);
        struct stat child_st {};
        if (::lstat(child_path.c_str(), &child_st) != 0) {
          if (errno == ENOENT) continue;  // removed while we were walking
          return Internal("lstat " + child_path + ": " + ErrnoText(errno));
        }
        SKIFF_RETURN_IF_ERROR(Add(child_path, name + "/" + child, child_st));
      }
      return OkStatus();
    }
    e.name = name;
    if (S_ISLNK(st.st_mode)) {
      e.type = kTypeSymlink;
      SKIFF_ASSIGN_OR_RETURN(e.link_name, ReadLink(path));
      return WriteHeader(out_, e);
    }
    if (S_ISREG(st.st_mode)) {
      e.type = kTypeFile;
      e.size = static_cast<uint64_t>(st.st_size);
      return AddFile(path, e);
    }
    if (S_ISSOCK(st.st_mode)) return OkStatus();  // tar cannot hold sockets; GNU tar skips them
    return InvalidArgument("cannot archive " + path + ": not a regular file, directory or symlink");
  }

 private:
  Status AddFile(const std::string& path, const TarEntry& e) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Internal("cannot open " + path + ": " + ErrnoText(errno));
    Status s = WriteHeader(out_, e);
    char buf[kChunkSize];
    uint64_t left = e.size;
    while (s.ok() && left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, sizeof buf));
      ssize_t n = ReadUpTo(fd, buf, want);
      if (n < 0) {
        s = Internal("read " + path + ": " + ErrnoText(errno));
      } else if (static_cast<size_t>(n) < want) {
        // The header already promised `e.size` bytes; a shorter file cannot be represented.
        s = FailedPrecondition(path + " shrank while it was being archived");
      } else {
        s = out_.Write(buf, want);
        left -= want;
      }
    }
    ::close(fd);
    SKIFF_RETURN_IF_ERROR(s);
    return WritePadding(out_, e.size);
  }

  ArchiveOutput& out_;
  std::vector<std::pair<dev_t, ino_t>> skip_;
};

// ---------------------------------------------------------------------------------------------
// Reading: headers, GNU long names and pax records into whole entries.

std::string FieldString(const Block& block, size_t off, size_t width) {
  const char* field = block.data() + off;
  return std::string(field, strnlen(field, width));
}

Result<uint64_t> ParseNumber(const Block& block, size_t off, size_t width, std::string_view what) {
  const unsigned char* field = reinterpret_cast<const unsigned char*>(block.data() + off);
  if ((field[0] & 0x80) != 0) {
    if (field[0] == 0xff) {
      return InvalidArgument("negative " + std::string(what) + " in tar header");
    }
    uint64_t value = field[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) {
      if (value > (UINT64_MAX >> 8)) {
        return InvalidArgument(std::string(what) + " out of range in tar header");
      }
      value = (value << 8) | field[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < width && (field[i] == ' ' || field[i] == '\0')) ++i;
  uint64_t value = 0;
  for (; i < width && field[i] != ' ' && field[i] != '\0'; ++i) {
    if (field[i] < '0' || field[i] > '7') {
      return InvalidArgument("bad " + std::string(what) + " field in tar header");
    }
    value = (value << 3) | static_cast<uint64_t>(field[i] - '0');
  }
  return value;
}

// Parses pax extended-header records ("<len> <key>=<value>\n") into `entry`-level overrides.
struct PaxOverrides {
  std::string path;
  std::string link_path;
  bool has_size = false;
  uint64_t size = 0;
  bool has_mtime = false;
  int64_t mtime = 0;
};

Status ParsePax(std::string_view data, PaxOverrides* pax) {
  while (!data.empty()) {
    size_t space = data.find(' ');
    if (space == std::string_view::npos || space == 0) {
      return InvalidArgument("malformed pax header");
    }
    uint64_t len = 0;
    for (char c : data.substr(0, space)) {
      if (c < '0' || c > '9' || len > data.size()) return InvalidArgument("malformed pax header");
      len = len * 10 + static_cast<uint64_t>(c - '0');
    }
    if (len <= space + 1 || len > data.size() || data[len - 1] != '\n') {
      return InvalidArgument("malformed pax header");
    }
    std::string_view record = data.substr(space + 1, len - space - 2);
    data.remove_prefix(len);
    size_t eq = record.find('=');
    if (eq == std::string_view::npos) return InvalidArgument("malformed pax record");
    std::string_view key = record.substr(0, eq);
    std::string_view value = record.substr(eq + 1);
    if (key == "path") {
      pax->path = std::string(value);
    } else if (key == "linkpath") {
      pax->link_path = std::string(value);
    } else if (key == "size" || key == "mtime") {
      uint64_t n = 0;
      std::string_view digits = value.substr(0, value.find('.'));  // mtime may be fractional
      if (digits.empty()) return InvalidArgument("bad pax " + std::string(key));
      for (char c : digits) {
        if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10) {
          return InvalidArgument("bad pax " + std::string(key));
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (key == "size") {
        pax->has_size = true;
        pax->size = n;
      } else {
        pax->has_mtime = true;
        pax->mtime = static_cast<int64_t>(std::min<uint64_t>(n, INT64_MAX));
      }
    }
  }
  return OkStatus();
}

class TarReader {
 public:
  explicit TarReader(ArchiveInput& in) : in_(in) {}

  // The next real entry (metadata records folded in); false at the end of the archive. The
  // entry's data must be consumed with `CopyData` or is skipped by the next call.
  Result<bool> Next(TarEntry* entry) {
    SKIFF_RETURN_IF_ERROR(SkipRest());
    std::string long_name;
    std::string long_link;
    PaxOverrides pax;
    bool have_meta = false;
    for (;;) {
      Block block;
      size_t got = 0;
      SKIFF_RETURN_IF_ERROR(in_.Read(block.data(), block.size(), &got));
      // Input that ends without end-of-archive blocks is accepted, as GNU tar does.
      if (got == 0 && !have_meta) return false;
      if (got < block.size()) return in_.Truncated();
      if (std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; })) {
        if (have_meta) return in_.Truncated();
        return false;
      }
      SKIFF_ASSIGN_OR_RETURN(uint64_t stored_sum,
                             ParseNumber(block, kChksumOff, kChksumLen, "checksum"));
      if (stored_sum != ChecksumOf(block) &&
          static_cast<int64_t>(stored_sum) != SignedChecksumOf(block)) {
        return InvalidArgument(in_.path() + ": not a tar archive (header checksum mismatch)");
      }
      char type = block[kTypeOff];
      SKIFF_ASSIGN_OR_RETURN(uint64_t size, ParseNumber(block, kSizeOff, kSizeLen, "size"));
      if (type == kTypeGnuLongName || type == kTypeGnuLongLink || type == kTypePaxLocal ||
          type == kTypePaxGlobal) {
        if (size > kMaxMetaRecordSize) {
          return InvalidArgument(in_.path() + ": oversized tar metadata record");
        }
        std::string data(static_cast<size_t>(size), '\0');
        SKIFF_RETURN_IF_ERROR(in_.ReadExact(data.data(), data.size()));
        SKIFF_RETURN_IF_ERROR(in_.Skip(PaddingOf(size)));
        have_meta = true;
        if (type == kTypeGnuLongName) {
          long_name = data.substr(0, strnlen(data.c_str(), data.size()));
        } else if (type == kTypeGnuLongLink) {
          long_link = data.substr(0, strnlen(data.c_str(), data.size()));
        } else if (type == kTypePaxLocal) {
          SKIFF_RETURN_IF_ERROR(ParsePax(data, &pax).WithPrefix(in_.path()));
        }
        // Global pax headers ('g') carry defaults such as charset; none of them matter here.
        continue;
      }

      TarEntry e;
      e.type = type;
      e.size = size;
      SKIFF_ASSIGN_OR_RETURN(uint64_t mode, ParseNumber(block, kModeOff, kModeLen, "mode"));
      e.mode = static_cast<uint32_t>(mode & 07777);
      SKIFF_ASSIGN_OR_RETURN(uint64_t mtime, ParseNumber(block, kMtimeOff, kMtimeLen, "mtime"));
      e.mtime = static_cast<int64_t>(std::min<uint64_t>(mtime, INT64_MAX));
      e.name = FieldString(block, kNameOff, kNameLen);
      // POSIX ustar ("ustar\0") splits long names into prefix + name; the GNU flavour ("ustar ")
      // uses those bytes for other things.
      if (std::memcmp(block.data() + kMagicOff, "ustar\0", 6) == 0) {
        std::string prefix = FieldString(block, kPrefixOff, kPrefixLen);
        if (!prefix.empty()) e.name = prefix + "/" + e.name;
      }
      e.link_name = FieldString(block, kLinkOff, kLinkLen);
      if (!long_name.empty()) e.name = long_name;
      if (!long_link.empty()) e.link_name = long_link;
      if (!pax.path.empty()) e.name = pax.path;
      if (!pax.link_path.empty()) e.link_name = pax.link_path;
      if (pax.has_size) e.size = pax.size;
      if (pax.has_mtime) e.mtime = pax.mtime;
      // Only regular files carry data; other types' size fields are informational.
      bool has_data = e.type == kTypeFile || e.type == kTypeOldFile || e.type == kTypeContiguous;
      data_left_ = has_data ? e.size : 0;
      padding_left_ = has_data ? PaddingOf(e.size) : 0;
      *entry = std::move(e);
      return true;
    }
  }

  // Streams the current entry's data into `fd`.
  Status CopyData(int fd, const std::string& path) {
    char buf[kChunkSize];
    while (data_left_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(data_left_, sizeof buf));
      SKIFF_RETURN_IF_ERROR(in_.ReadExact(buf, n));
      SKIFF_RETURN_IF_ERROR(WriteAllFd(fd, buf, n, path));
      data_left_ -= n;
    }
    return OkStatus();
  }

 private:
  static uint64_t PaddingOf(uint64_t size) {
    uint64_t rem = size % kBlockSize;
    return rem == 0 ? 0 : kBlockSize - rem;
  }

  Status SkipRest() {
    SKIFF_RETURN_IF_ERROR(in_.Skip(data_left_ + padding_left_));
    data_left_ = 0;
    padding_left_ = 0;
    return OkStatus();
  }

  ArchiveInput& in_;
  uint64_t data_left_ = 0;
  uint64_t padding_left_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Extraction into a private staging directory.

// The entry name as a clean relative path; "" for the archive root ("./"). Rejects escapes.
Result<std::string> CleanEntryName(const std::string& name) {
  if (!name.empty() && name.front() == '/') {
    return InvalidArgument("archive entry \"" + name + "\" has an absolute path");
  }
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    size_t end = slash == std::string::npos ? name.size() : slash;
    std::string_view part(name.data() + start, end - start);
    if (part == "..") {
      return InvalidArgument("archive entry \"" + name + "\" escapes the destination (\"..\")");
    }
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

struct DirFixup {
  std::string path;
  uint32_t mode;
  int64_t mtime;
};

void SetTimes(const std::string& path, int64_t mtime, bool is_symlink) {
  struct timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = static_cast<time_t>(mtime);
  times[1].tv_nsec = 0;
  // Best effort: a lost mtime is not worth failing an artifact for.
  (void)::utimensat(AT_FDCWD, path.c_str(), times, is_symlink ? AT_SYMLINK_NOFOLLOW : 0);
}

class Extractor {
 public:
  explicit Extractor(std::string root) : root_(std::move(root)) {}

  // Whether the archive had a "./" entry whose mode now sits on the staging directory.
  bool root_has_mode() const { return root_has_mode_; }

  Status Run(const std::string& archive) {
    ArchiveInput in;
    SKIFF_RETURN_IF_ERROR(in.Open(archive));
    TarReader reader(in);
    TarEntry e;
    for (;;) {
      SKIFF_ASSIGN_OR_RETURN(bool more, reader.Next(&e));
      if (!more) break;
      SKIFF_RETURN_IF_ERROR(ExtractEntry(reader, e).WithPrefix(archive));
    }
    // Children first, so a read-only directory is locked only after everything is inside it.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      if (::chmod(it->path.c_str(), it->mode) != 0) {
        return Internal("chmod " + it->path + ": " + ErrnoText(errno));
      }
      SetTimes(it->path, it->mtime, false);
    }
    return OkStatus();
  }

 private:
  Status ExtractEntry(TarReader& reader, const TarEntry& e) {
    switch (e.type) {
      case kTypeHardLink:
        return InvalidArgument("entry \"" + e.name + "\" is a hard link (to \"" + e.link_name +
                               "\"); hard links are not supported in artifacts");
      case kTypeCharDev:
      case kTypeBlockDev:
        return InvalidArgument("entry \"" + e.name +
                               "\" is a device; devices are not supported in artifacts");
      case kTypeFifo:
        return InvalidArgument("entry \"" + e.name +
                               "\" is a fifo; fifos are not supported in artifacts");
      case kTypeFile:
      case kTypeOldFile:
      case kTypeContiguous:
      case kTypeDir:
      case kTypeSymlink:
        break;
      default:
        return InvalidArgument("entry \"" + e.name + "\" has unsupported tar type '" +
                               std::string(1, e.type) + "'");
    }
    SKIFF_ASSIGN_OR_RETURN(std::string rel, CleanEntryName(e.name));
    if (rel.empty()) {
      if (e.type != kTypeDir) return InvalidArgument("non-directory entry with an empty name");
      dirs_.push_back({root_, e.mode & 0777, e.mtime});  // "./": the destination itself
      root_has_mode_ = true;
      return OkStatus();
    }
    SKIFF_RETURN_IF_ERROR(MakeParents(rel));
    std::string path = JoinPath(root_, rel);
    struct stat st {};
    bool exists = ::lstat(path.c_str(), &st) == 0;
    if (e.type == kTypeDir) {
      if (exists && S_ISDIR(st.st_mode)) {
        // A repeated directory entry: the last mode wins.
      } else {
        if (exists && ::unlink(path.c_str()) != 0) {
          return Internal("unlink " + path + ": " + ErrnoText(errno));
        }
        // Owner-writable until the end, when the archived mode is applied.
        if (::mkdir(path.c_str(), 0700) != 0) {
          return Internal("mkdir " + path + ": " + ErrnoText(errno));
        }
      }
      dirs_.push_back({path, e.mode & 0777, e.mtime});
      return OkStatus();
    }
    if (exists) {
      if (S_ISDIR(st.st_mode)) {
        return InvalidArgument("entry \"" + e.name + "\" would replace a directory");
      }
      if (::unlink(path.c_str()) != 0) return Internal("unlink " + path + ": " + ErrnoText(errno));
    }
    if (e.type == kTypeSymlink) {
      if (e.link_name.empty()) return InvalidArgument("symlink \"" + e.name + "\" has no target");
      if (::symlink(e.link_name.c_str(), path.c_str()) != 0) {
        return Internal("symlink " + path + ": " + ErrnoText(errno));
      }
      SetTimes(path, e.mtime, true);
      return OkStatus();
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return Internal("cannot create " + path + ": " + ErrnoText(errno));
    Status s = reader.CopyData(fd, path);
    if (s.ok() && ::fchmod(fd, e.mode & 0777) != 0) {
      s = Internal("chmod " + path + ": " + ErrnoText(errno));
    }
    if (s.ok()) {
      struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(e.mtime), 0}};
      (void)::futimens(fd, times);
    }
    if (::close(fd) != 0 && s.ok()) s = Internal("close " + path + ": " + ErrnoText(errno));
    return s;
  }

  // Creates the missing parents of `rel` and checks that every existing one is a real directory:
  // an earlier entry may have been a symlink pointing anywhere, and writing through it would let
  // an archive escape the destination.
  Status MakeParents(const std::string& rel) {
    size_t slash = rel.find('/');
    while (slash != std::string::npos) {
      std::string dir = JoinPath(root_, rel.substr(0, slash));
      struct stat st {};
      if (::lstat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
          return InvalidArgument("entry \"" + rel + "\" would be written through \"" +
                                 rel.substr(0, slash) + "\", which is not a directory");
        }
      } else if (::mkdir(dir.c_str(), 0755) != 0) {
        return Internal("mkdir " + dir + ": " + ErrnoText(errno));
      }
      slash = rel.find('/', slash + 1);
    }
    return OkStatus();
  }

  std::string root_;
  std::vector<DirFixup> dirs_;
  bool root_has_mode_ = false;
};

// Makes `dest` be `src` (a renamed path on the same file system), replacing a file, a symlink or
// an empty directory at `dest`.
Status ReplaceWith(const std::string& src, const std::string& dest) {
  struct stat st {};
  if (::lstat(dest.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      if (::rmdir(dest.c_str()) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
          return AlreadyExists(dest + " already exists and is not an empty directory");
        }
        return Internal("rmdir " + dest + ": " + ErrnoText(errno));
      }
    } else if (::unlink(dest.c_str()) != 0) {
      return Internal("unlink " + dest + ": " + ErrnoText(errno));
    }
  }
  if (::rename(src.c_str(), dest.c_str()) != 0) {
    return Internal("rename " + src + " to " + dest + ": " + ErrnoText(errno));
  }
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Copying.

Status CopyFile(const std::string& src, const std::string& dest, mode_t mode) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Internal("cannot open " + src + ": " + ErrnoText(errno));
  std::string tmp = TempSibling(dest);
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return Internal("cannot create " + tmp + ": " + ErrnoText(err));
  }
  Status s;
  char buf[kChunkSize];
  for (;;) {
    ssize_t n = ReadUpTo(in, buf, sizeof buf);
    if (n < 0) {
      s = Internal("read " + src + ": " + ErrnoText(errno));
      break;
    }
    if (n == 0) break;
    s = WriteAllFd(out, buf, static_cast<size_t>(n), tmp);
    if (!s.ok()) break;
  }
  ::close(in);
  if (s.ok() && ::fchmod(out, mode & 0777) != 0)
    s = Internal("chmod " + tmp + ": " + ErrnoText(errno));
  if (::close(out) != 0 && s.ok()) s = Internal("close " + tmp + ": " + ErrnoText(errno));
  if (s.ok() && ::rename(tmp.c_str(), dest.c_str()) != 0) {
    s = Internal("rename " + tmp + " to " + dest + ": " + ErrnoText(errno));
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Status CopyEntry(const std::string& src, const std::string& dest, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) {
    struct stat dst {};
    if (::lstat(dest.c_str(), &dst) == 0 && !S_ISDIR(dst.st_mode)) {
      if (::unlink(dest.c_str()) != 0) return Internal("unlink " + dest + ": " + ErrnoText(errno));
    }
    if (::mkdir(dest.c_str(), 0700) != 0 && errno != EEXIST) {
      return Internal("mkdir " + dest + ": " + ErrnoText(errno));
    }
    SKIFF_ASSIGN_OR_RETURN(std::vector<std::string> children, ListDir(src));
    for (const std::string& child : children) {
      std::string child_src = JoinPath(src, child);
      struct stat child_st {};
      if (::lstat(child_src.c_str(), &child_st) != 0) {
        if (errno == ENOENT) continue;
        return Internal("lstat " + child_src + ": " + ErrnoText(errno));
      }
      SKIFF_RETURN_IF_ERROR(CopyEntry(child_src, JoinPath(dest, child), child_st));
    }
    if (::chmod(dest.c_str(), st.st_mode & 0777) != 0) {
      return Internal("chmod " + dest + ": " + ErrnoText(errno));
    }
    return OkStatus();
  }
  if (S_ISREG(st.st_mode)) return CopyFile(src, dest, st.st_mode);
  if (S_ISLNK(st.st_mode)) {
    SKIFF_ASSIGN_OR_RETURN(std::string target, ReadLink(src));
    struct stat dst {};
    if (::lstat(dest.c_str(), &dst) == 0) {
      if (S_ISDIR(dst.st_mode)) return InvalidArgument("cannot replace directory " + dest);
      if (::unlink(dest.c_str()) != 0) return Internal("unlink " + dest + ": " + ErrnoText(errno));
    }
    if (::symlink(target.c_str(), dest.c_str()) != 0) {
      return Internal("symlink " + dest + ": " + ErrnoText(errno));
    }
    return OkStatus();
  }
  if (S_ISSOCK(st.st_mode)) return OkStatus();
  return InvalidArgument("cannot copy " + src + ": not a regular file, directory or symlink");
}

}  // namespace

Status CreateArchive(const std::string& src, const std::string& out_file, ArchiveFormat format) {
  struct stat st {};
  if (::stat(src.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("no such file or directory: " + src);
    return Internal("stat " + src + ": " + ErrnoText(errno));
  }
  std::string root_name = BaseName(AbsoluteNormal(src));
  if (root_name.empty()) return InvalidArgument("cannot archive the root directory");
  if (out_file.empty()) return InvalidArgument("empty archive path");

  SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(out_file)));
  std::string tmp = TempSibling(out_file);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot create " + tmp + ": " + ErrnoText(errno));
  Status s;
  {
    ArchiveOutput out(fd, tmp);
    TarWriter writer(out);
    struct stat own {};
    if (::fstat(fd, &own) == 0) writer.SkipInode(own);
    if (::stat(out_file.c_str(), &own) == 0) writer.SkipInode(own);
    // A symlink given as `src` is followed: walk its target, still named after `src`. (Files
    // inside the tree are opened without following symlinks.)
    std::string walk_root = src;
    struct stat lst {};
    if (::lstat(src.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
      std::error_code ec;
      walk_root = std::filesystem::canonical(src, ec).string();
      if (ec) s = Internal("cannot resolve " + src + ": " + ec.message());
    }
    if (s.ok()) s = out.Open(format == ArchiveFormat::kTarGzip);
    if (s.ok()) s = writer.Add(walk_root, root_name, st);
    if (s.ok()) s = out.WriteZeros(2 * kBlockSize);  // end-of-archive marker
    if (s.ok()) s = out.Close();
  }
  if (s.ok() && ::rename(tmp.c_str(), out_file.c_str()) != 0) {
    s = Internal("rename " + tmp + " to " + out_file + ": " + ErrnoText(errno));
  }
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Status ExtractArchive(const std::string& archive, const std::string& dest) {
  if (dest.empty()) return InvalidArgument("empty destination path");
  std::string target = AbsoluteNormal(dest);
  std::string name = BaseName(target);
  if (name.empty()) return InvalidArgument("cannot extract over the root directory");
  std::string parent = DirName(target);
  SKIFF_RETURN_IF_ERROR(MakeDirs(parent));

  std::string staging = JoinPath(parent, "." + name + ".extract-" + RandomSuffix(10));
  if (::mkdir(staging.c_str(), 0700) != 0) {
    return Internal("mkdir " + staging + ": " + ErrnoText(errno));
  }
  Extractor extractor(staging);
  Status s = extractor.Run(archive);
  if (s.ok()) {
    Result<std::vector<std::string>> top = ListDir(staging);
    if (!top.ok()) {
      s = top.status();
    } else if (top->size() == 1) {
      s = ReplaceWith(JoinPath(staging, top->front()), target);
    } else {
      // Without a "./" entry the staging directory's private 0700 would leak into `dest`.
      if (!extractor.root_has_mode() && ::chmod(staging.c_str(), 0755) != 0) {
        s = Internal("chmod " + staging + ": " + ErrnoText(errno));
      }
      if (s.ok()) s = ReplaceWith(staging, target);
    }
  }
  if (PathExists(staging)) {
    // Make read-only directories removable before cleaning up after a failure.
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(staging, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        ::chmod(it->path().c_str(), 0700);
      }
    }
    ::chmod(staging.c_str(), 0700);
    RemoveAll(staging).IgnoreError();
  }
  return s;
}

bool LooksLikeArchive(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[kBlockSize];
  ssize_t n = ReadUpTo(fd, buf, sizeof buf);
  ::close(fd);
  if (n >= 2 && static_cast<unsigned char>(buf[0]) == 0x1f &&
      static_cast<unsigned char>(buf[1]) == 0x8b) {
    return true;
  }
  return n >= static_cast<ssize_t>(kMagicOff + 5) && std::memcmp(buf + kMagicOff, "ustar", 5) == 0;
}

Status CopyTree(const std::string& src, const std::string& dest) {
  struct stat st {};
  if (::stat(src.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("no such file or directory: " + src);
    return Internal("stat " + src + ": " + ErrnoText(errno));
  }
  if (dest.empty()) return InvalidArgument("empty destination path");
  if (S_ISDIR(st.st_mode)) {
    std::error_code from_ec;
    std::error_code to_ec;
    std::string from = std::filesystem::canonical(src, from_ec).string();
    std::string to = std::filesystem::weakly_canonical(dest, to_ec).string();
    if (!from_ec && !to_ec && (to == from || to.rfind(from + "/", 0) == 0)) {
      return InvalidArgument("cannot copy " + src + " into itself (" + dest + ")");
    }
  }
  SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(dest)));
  return CopyEntry(src, dest, st);
}

}  // namespace skiff
