// Where a revision's model comes from (see "Storage" in isvc_controller.h): paths, PVCs, and
// http(s) downloads into the content-keyed model cache, fetched off the loop.
#include <stdio.h>

#include "common/fs.h"
#include "common/ids.h"
#include "common/log.h"
#include "controllers/serving/isvc_controller.h"
#include "kinds/serving/inference_service.h"

namespace skiff::controllers {

namespace {

using kserve::Component;
using kserve::StorageScheme;

// HEAD, then (unless the content-keyed cache has it) one GET into the cache. Runs on a
// fetch thread: touches nothing but the file system and its arguments.
Result<std::string> FetchModel(
    const std::string& uri, const std::string& data_dir,
    const std::function<Result<RemoteObjectInfo>(const std::string&)>& head,
    const std::function<Status(const std::string&, const std::string&)>& download,
    std::atomic<int64_t>* downloads) {
  SKIFF_ASSIGN_OR_RETURN(RemoteObjectInfo info, head(uri));
  if (info.status != 200)
    return Unavailable("storageUri " + uri + ": HEAD answered " + std::to_string(info.status));
  // Content-keyed: the same URL with the same ETag (else length) is the same model.
  std::string key = Sha256Hex(
      uri + "\n" +
      (info.etag.empty() ? "length:" + std::to_string(info.content_length) : "etag:" + info.etag));
  std::string dir = JoinPath(data_dir, "models/cache/" + key);
  std::string path = uri.substr(uri.find("://") + 3);
  path = path.substr(0, path.find_first_of("?#"));
  std::string base = path.find('/') == std::string::npos ? "" : path.substr(path.rfind('/') + 1);
  if (base.empty() || base == "." || base == "..") base = "model";
  std::string file = JoinPath(dir, base);
  if (PathExists(file)) return file;
  SKIFF_RETURN_IF_ERROR(MakeDirs(dir));
  std::string part = file + ".part";
  Status d = download(uri, part);
  if (!d.ok()) {
    ::remove(part.c_str());
    return d.WithPrefix("storageUri " + uri);
  }
  if (::rename(part.c_str(), file.c_str()) != 0)
    return Internal("cannot move " + part + " into place");
  downloads->fetch_add(1);
  LogInfo("model downloaded", {{"url", uri}, {"path", file}});
  return file;
}

}  // namespace

Result<std::string> InferenceServiceController::ResolveModelPath(const Component& c,
                                                                 const std::string& ns,
                                                                 const std::string& key,
                                                                 bool* pending) {
  const auto& s = c.storage;
  switch (s.scheme) {
    case StorageScheme::kNone:
      return std::string();
    case StorageScheme::kLocalPath:
    case StorageScheme::kFile:
      if (!PathExists(s.path))
        return NotFound("storageUri " + s.uri + ": " + s.path + " does not exist");
      return s.path;
    case StorageScheme::kPvc: {
      std::string claim_dir = JoinPath(options_.data_dir, "volumes/" + ns + "/" + s.claim);
      std::string p = s.path.empty() ? claim_dir : JoinPath(claim_dir, s.path);
      if (!PathExists(p)) {
        return NotFound("storageUri " + s.uri + ": " + p + " does not exist (claim " + s.claim +
                        " is the directory " + claim_dir + ")");
      }
      return p;
    }
    case StorageScheme::kHttp:
    case StorageScheme::kHttps: {
      if (!options_.http_head || !options_.http_download) {
        return Unimplemented("storageUri " + s.uri + ": no HTTP client is configured");
      }
      if (auto it = fetches_.find(s.uri); it != fetches_.end()) {
        if (!it->second->finished) {
          it->second->waiting.insert(key);
          *pending = true;
          return Unavailable("downloading " + s.uri);
        }
        Result<std::string> r = std::move(*it->second->result);
        fetches_.erase(it);
        return r;
      }
      auto f = std::make_shared<Fetch>();
      f->waiting.insert(key);
      fetches_[s.uri] = f;
      std::weak_ptr<bool> alive = alive_;
      f->thread = std::thread([this, f, alive, uri = s.uri, head = options_.http_head,
                               download = options_.http_download, data_dir = options_.data_dir] {
        f->result = FetchModel(uri, data_dir, head, download, &downloads_);
        // Back on the loop: join, and wake every isvc that waits for this URL.
        loop_.Post([this, f, alive, uri] {
          auto a = alive.lock();
          if (!a || !*a) return;
          if (f->thread.joinable()) f->thread.join();
          f->finished = true;
          for (const auto& k : f->waiting) queue_.Add(k);
        });
      });
      *pending = true;
      return Unavailable("downloading " + s.uri);
    }
    case StorageScheme::kRemote:
      return FailedPrecondition("storageUri " + s.uri + ": not reachable from this host");
  }
  return Internal("unknown storage scheme");
}

}  // namespace skiff::controllers
