// Fetching a file by URL with the project's HTTP client, for model storage (`storageUri:
// http://...`): a HEAD that tells what the object is (its ETag and length, which key the model
// cache) and a GET into a file. Plain `http://` only; `https://` is Unimplemented (the client
// has no TLS). Blocking; thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace skiff::api {

struct UrlHead {
  int status = 0;
  std::string etag;             // without changes (quotes kept); "" if none
  int64_t content_length = -1;  // -1 if not sent
};

Result<UrlHead> HeadUrl(const std::string& url);
// GETs `url` into `dest_file` (written whole); a status other than 200 is Unavailable.
Status DownloadUrl(const std::string& url, const std::string& dest_file);

}  // namespace skiff::api
