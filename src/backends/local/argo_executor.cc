#include "backends/local/argo_executor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/archive.h"
#include "common/fs.h"

namespace skiff::local {
namespace {

bool UnderPrefix(const std::string& path, const std::string& prefix) {
  return prefix == "/" || path == prefix || PathIsBelow(path, prefix);
}

std::string Relative(const std::string& path, const std::string& prefix) {
  if (path == prefix) return "";
  if (prefix == "/") return path.substr(1);
  return path.substr(prefix.size() + 1);
}

std::string NormalizeAbs(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// Reads at most the last `limit` bytes of a file.
std::string TailOfFile(const std::string& path, size_t limit) {
  auto data = ReadFile(path);
  if (!data.ok()) return "";
  if (data->size() > limit) return data->substr(data->size() - limit);
  return *data;
}

std::string TrimOneNewline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool IsPlainTar(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[262] = {0};
  size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  return n >= 262 && std::string(buf + 257, 5) == "ustar";
}

bool ArchiveNone(const Json& art) {
  const Json* a = FindField(art, "archive");
  return a != nullptr && a->is_object() && a->contains("none");
}

Status LoadArtifact(const Json& art, const std::string& dest, metadata::ArtifactStore& store) {
  std::string name = StringField(art, "name");
  bool optional = art.value("optional", false);
  if (const Json* raw = FindField(art, "raw"); raw != nullptr && raw->is_object()) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(dest)));
    return WriteFile(dest, StringField(*raw, "data"));
  }
  const Json* s3 = FindField(art, "s3");
  std::string key = s3 != nullptr ? StringField(*s3, "key") : "";
  if (key.empty()) {
    for (const char* other : {"http", "git", "gcs", "azure", "oss", "hdfs", "artifactory"}) {
      if (art.contains(other)) {
        return Unimplemented("inputs.artifacts." + name + ": " + other +
                             " artifacts are not available on the local backend");
      }
    }
    if (optional) return OkStatus();
    return InvalidArgument("inputs.artifacts." + name + " has no location");
  }
  std::string sub_path = StringField(art, "subPath");
  auto blob = store.ResolveKey(key);
  if (!blob.ok()) {
    // A key may name a "directory": every key under it.
    auto keys = store.ListKeys(key);
    if (keys.ok() && !keys->empty()) {
      std::string prefix = key;
      while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
      SKIFF_RETURN_IF_ERROR(MakeDirs(dest));
      for (const auto& k : *keys) {
        auto b = store.ResolveKey(k);
        if (!b.ok()) continue;
        std::string rel = k.size() > prefix.size() ? k.substr(prefix.size() + 1) : k;
        std::string out = JoinPath(dest, rel);
        SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(out)));
        SKIFF_RETURN_IF_ERROR(CopyTree(store.BlobPath(b->digest), out));
      }
      return OkStatus();
    }
    if (optional) return OkStatus();
    return NotFound("inputs.artifacts." + name + ": key \"" + key + "\" not found in the artifact repository");
  }
  std::string blob_path = store.BlobPath(blob->digest);
  SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(dest)));
  // Archived artifacts (the default) are extracted; with `archive: none` a file is copied as it
  // is, and a directory (stored as a plain tar) is unpacked.
  bool extract = ArchiveNone(art) ? IsPlainTar(blob_path) : LooksLikeArchive(blob_path);
  if (!sub_path.empty()) {
    char tmpl[] = "/tmp/skiff-artifact-XXXXXX";
    std::string tmp = ::mkdtemp(tmpl);
    std::string unpacked = JoinPath(tmp, "a");
    Status s = extract ? ExtractArchive(blob_path, unpacked) : CopyTree(blob_path, unpacked);
    if (s.ok()) {
      auto rel = SafeRelativePath(sub_path);
      if (!rel.ok()) s = rel.status();
      else s = CopyTree(JoinPath(unpacked, *rel), dest);
    }
    Status r = RemoveAll(tmp);
    (void)r;
    return s;
  }
  if (extract) return ExtractArchive(blob_path, dest);
  return CopyTree(blob_path, dest);
}

Status UploadTree(const std::string& dir, const std::string& prefix, metadata::ArtifactStore& store) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = std::filesystem::relative(it->path(), dir).string();
    SKIFF_ASSIGN_OR_RETURN(metadata::BlobInfo blob, store.PutFile(it->path().string()));
    SKIFF_RETURN_IF_ERROR(store.BindKey(prefix + rel, blob));
  }
  if (ec) return Internal("walk " + dir + ": " + ec.message());
  return OkStatus();
}

}  // namespace

void PathMap::AddMount(std::string target, std::string source) {
  mounts_.emplace_back(NormalizeAbs(std::move(target)), std::move(source));
  std::stable_sort(mounts_.begin(), mounts_.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
}

bool PathMap::Mounted(const std::string& path) const {
  for (const auto& [target, source] : mounts_) {
    if (UnderPrefix(path, target)) return true;
  }
  return false;
}

std::string PathMap::ForWrite(const std::string& path) const {
  std::string p = NormalizeAbs(path);
  for (const auto& [target, source] : mounts_) {
    if (UnderPrefix(p, target)) return JoinPath(source, Relative(p, target));
  }
  if (!upper_.empty()) return JoinPath(upper_, p);
  return p;
}

std::string PathMap::ForRead(const std::string& path) const {
  std::string p = NormalizeAbs(path);
  for (const auto& [target, source] : mounts_) {
    if (UnderPrefix(p, target)) return JoinPath(source, Relative(p, target));
  }
  if (!upper_.empty()) {
    std::string up = JoinPath(upper_, p);
    if (PathExists(up)) return up;
  }
  return p;
}

std::vector<std::string> DeclaredPaths(const Json& tmpl) {
  std::vector<std::string> out;
  for (const char* io : {"inputs", "outputs"}) {
    const Json* section = FindField(tmpl, io);
    if (section == nullptr) continue;
    if (const Json* arts = FindField(*section, "artifacts"); arts != nullptr && arts->is_array()) {
      for (const auto& a : *arts) {
        std::string p = StringField(a, "path");
        if (!p.empty()) out.push_back(p);
      }
    }
    if (const Json* params = FindField(*section, "parameters"); params != nullptr && params->is_array()) {
      for (const auto& p : *params) {
        const Json* vf = FindField(p, "valueFrom");
        std::string path = vf != nullptr ? StringField(*vf, "path") : "";
        if (!path.empty()) out.push_back(path);
      }
    }
  }
  return out;
}

Status StageArgoInputs(const Json& tmpl, const PathMap& paths, const std::string& staging_dir,
                       metadata::ArtifactStore& artifacts) {
  if (const Json* script = FindField(tmpl, "script"); script != nullptr && script->is_object()) {
    SKIFF_RETURN_IF_ERROR(MakeDirs(staging_dir));
    std::string path = JoinPath(staging_dir, "script");
    SKIFF_RETURN_IF_ERROR(WriteFile(path, StringField(*script, "source"), 0755));
  }
  const Json* inputs = FindField(tmpl, "inputs");
  const Json* arts = inputs != nullptr ? FindField(*inputs, "artifacts") : nullptr;
  if (arts == nullptr || !arts->is_array()) return OkStatus();
  for (const auto& a : *arts) {
    std::string path = StringField(a, "path");
    if (path.empty()) continue;
    std::string dest = paths.ForWrite(path);
    SKIFF_RETURN_IF_ERROR(LoadArtifact(a, dest, artifacts));
    if (const Json* mode = FindField(a, "mode"); mode != nullptr && mode->is_number_integer()) {
      ::chmod(dest.c_str(), static_cast<mode_t>(mode->get<int>()));
    }
  }
  return OkStatus();
}

Result<Json> CollectArgoOutputs(const Json& tmpl, const PathMap& paths,
                                const std::string& stdout_path, int exit_code,
                                const std::string& key_prefix, metadata::ArtifactStore& artifacts) {
  Json out = Json::object();
  if (tmpl.value("skiff.dev/includeResult", false)) {
    constexpr size_t kMaxResult = 256 * 1024;  // Argo's annotation limit: keeps the last 256 kB
    out["result"] = TrimOneNewline(TailOfFile(stdout_path, kMaxResult));
  }
  out["exitCode"] = std::to_string(exit_code);
  const Json* outputs = FindField(tmpl, "outputs");
  if (outputs == nullptr || !outputs->is_object()) return out;
  if (const Json* params = FindField(*outputs, "parameters"); params != nullptr && params->is_array()) {
    Json list = Json::array();
    for (const auto& p : *params) {
      Json op = p;
      const Json* vf = FindField(p, "valueFrom");
      std::string path = vf != nullptr ? StringField(*vf, "path") : "";
      if (!path.empty()) {
        auto data = ReadFile(paths.ForRead(path));
        if (data.ok() && !IsDirectory(paths.ForRead(path))) {
          op["value"] = TrimOneNewline(*data);
        } else if (vf->contains("default")) {
          op["value"] = ScalarToString((*vf)["default"]);
        } else {
          return NotFound("failed to get output parameter " + StringField(p, "name") + ": open " +
                          path + ": no such file or directory");
        }
        op.erase("valueFrom");
      } else if (vf != nullptr && vf->contains("default") && !op.contains("value")) {
        op["value"] = ScalarToString((*vf)["default"]);
        op.erase("valueFrom");
      }
      if (op.contains("value")) list.push_back(op);
    }
    if (!list.empty()) out["parameters"] = list;
  }
  if (const Json* arts = FindField(*outputs, "artifacts"); arts != nullptr && arts->is_array()) {
    Json list = Json::array();
    for (const auto& a : *arts) {
      std::string name = StringField(a, "name");
      std::string path = StringField(a, "path");
      if (path.empty()) continue;
      std::string src = paths.ForRead(path);
      if (!PathExists(src)) {
        if (a.value("optional", false)) continue;
        return NotFound("failed to save outputs: artifact " + name + ": open " + path +
                        ": no such file or directory");
      }
      bool none = ArchiveNone(a);
      std::string key;
      if (const Json* s3 = FindField(a, "s3"); s3 != nullptr && !StringField(*s3, "key").empty()) {
        key = StringField(*s3, "key");
      } else {
        key = key_prefix + "/" + name + (none ? "" : ".tgz");
      }
      if (none && IsDirectory(src) && !key.empty() && key.back() == '/') {
        // A key that names a "directory": every file goes under it, as to an S3 prefix.
        Status s = UploadTree(src, key, artifacts);
        if (!s.ok()) return s.WithPrefix("failed to save outputs: artifact " + name);
        Json oa = {{"name", name}, {"path", path}, {"s3", {{"key", key}}}, {"archive", a["archive"]}};
        if (a.contains("globalName")) oa["globalName"] = a["globalName"];
        list.push_back(oa);
        continue;
      }
      metadata::BlobInfo blob;
      if (none && !IsDirectory(src)) {
        SKIFF_ASSIGN_OR_RETURN(blob, artifacts.PutFile(src));
      } else {
        std::string tmp = JoinPath(artifacts.root(), "tmp/collect-" + std::to_string(::getpid()) +
                                                         "-" + name + (none ? ".tar" : ".tgz"));
        SKIFF_RETURN_IF_ERROR(MakeDirs(DirName(tmp)));
        Status s = CreateArchive(src, tmp, none ? ArchiveFormat::kTar : ArchiveFormat::kTarGzip);
        if (!s.ok()) {
          ::unlink(tmp.c_str());
          return s.WithPrefix("failed to save outputs: artifact " + name);
        }
        auto put = artifacts.PutFile(tmp);
        ::unlink(tmp.c_str());
        SKIFF_ASSIGN_OR_RETURN(blob, std::move(put));
      }
      SKIFF_RETURN_IF_ERROR(artifacts.BindKey(key, blob));
      Json oa = {{"name", name}, {"path", path}, {"s3", {{"key", key}}}};
      if (a.contains("archive")) oa["archive"] = a["archive"];
      if (a.contains("globalName")) oa["globalName"] = a["globalName"];
      if (a.contains("mode")) oa["mode"] = a["mode"];
      list.push_back(oa);
    }
    if (!list.empty()) out["artifacts"] = list;
  }
  return out;
}

}  // namespace skiff::local
