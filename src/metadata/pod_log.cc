#include "metadata/pod_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "common/fs.h"

namespace skiff::metadata {

std::string PodMetadataDir(const std::string& home, const std::string& pod_uid) {
  return JoinPath(home, "metadata/pods/" + pod_uid);
}

std::string PodMetadataFile(const std::string& home, const std::string& pod_uid) {
  return JoinPath(PodMetadataDir(home, pod_uid), "log.jsonl");
}

std::string PodOutputDir(const std::string& home, const std::string& pod_uid) {
  return JoinPath(PodMetadataDir(home, pod_uid), "outputs");
}

ArtifactRecord LoggedArtifact(const std::string& ns, const BlobInfo& blob, const std::string& type,
                              const std::string& name, const std::string& uri) {
  ArtifactRecord a;
  a.ns = ns;
  a.type = type.empty() ? "Artifact" : type;
  a.name = name;
  a.digest = blob.digest;
  a.size = blob.size;
  a.uri = uri.empty() ? "skiff-artifacts://" + blob.digest : uri;
  return a;
}

namespace {

// `path` with "." and ".." resolved lexically; "" if it is not absolute.
std::string Normalize(const std::string& path) {
  if (path.empty() || path[0] != '/') return "";
  return std::filesystem::path(path).lexically_normal().string();
}

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace

Result<int> ReadPodLog(const std::string& dir, const std::string& ns, ArtifactStore& artifacts,
                       ExecutionWrite* w) {
  std::string file = JoinPath(dir, "log.jsonl");
  if (!PathExists(file)) return NotFound(file + ": no metadata log");
  SKIFF_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  std::string files_dir = Normalize(JoinPath(dir, "files"));
  int skipped = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = ParseJson(line);
    if (!j.ok() || !j->is_object()) {
      ++skipped;
      continue;
    }
    std::string kind = StringField(*j, "kind");
    if (kind == "metric") {
      const Json* v = FindField(*j, "value");
      std::string name = StringField(*j, "name");
      if (v == nullptr || !v->is_number() || name.empty() || !std::isfinite(v->get<double>())) {
        ++skipped;
        continue;
      }
      w->metrics.push_back({name, v->get<double>(), IntField(*j, "step", 0), IntField(*j, "ms", 0)});
    } else if (kind == "artifact") {
      std::string type = StringField(*j, "type"), name = StringField(*j, "name");
      if (StringField(*j, "direction") == "input") {
        std::string digest = StringField(*j, "digest");
        if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71) {
          ++skipped;
          continue;
        }
        BlobInfo blob{digest, IntField(*j, "size", 0)};
        w->inputs.push_back({LoggedArtifact(ns, blob, type, name, StringField(*j, "uri")), name});
        continue;
      }
      std::string path = Normalize(StringField(*j, "file"));
      if (!Under(path, files_dir)) {
        ++skipped;
        continue;
      }
      auto blob = artifacts.PutFile(path);
      if (!blob.ok()) {
        ++skipped;
        continue;
      }
      w->outputs.push_back({LoggedArtifact(ns, *blob, type, name, ""), name});
    } else {
      ++skipped;
    }
  }
  return skipped;
}

Result<int> ReadPodOutputs(const std::string& dir, const std::string& ns, ArtifactStore& artifacts,
                           ExecutionWrite* w) {
  std::string root = JoinPath(dir, "outputs");
  if (!IsDirectory(root)) return 0;
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    // Symbolic links are not followed: what a Pod links to is not what it wrote.
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(it->path().string());
  }
  if (ec) return Internal(root + ": " + ec.message());
  std::sort(files.begin(), files.end());
  int added = 0;
  for (const auto& f : files) {
    std::string rel = f.substr(root.size() + 1);
    SKIFF_ASSIGN_OR_RETURN(BlobInfo blob, artifacts.PutFile(f));
    std::string lower = rel;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    bool checkpoint = lower.find("checkpoint") != std::string::npos || lower.find("ckpt") != std::string::npos;
    w->outputs.push_back({LoggedArtifact(ns, blob, checkpoint ? "Checkpoint" : "Model", rel, ""), rel});
    ++added;
  }
  return added;
}

}  // namespace skiff::metadata
