// Fetching a file by URL, for model storage (`storageUri: http(s)://...`): a HEAD that tells
// what the object is (its ETag and length, which key the model cache) and a GET streamed into a
// file. `https://` goes through OpenSSL with the system's trust store (`SSL_CERT_FILE` /
// `SSL_CERT_DIR` override it, as for every OpenSSL client), the server's name or IP address
// checked against its certificate; redirects are followed (at most 5, never from https:// to
// http://). Blocking, one connection per request; thread-compatible.
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
// GETs `url` into `dest_file` (through `dest_file.part`, renamed when whole); a final status
// other than 200 is Unavailable and leaves no file.
Status DownloadUrl(const std::string& url, const std::string& dest_file);

}  // namespace skiff::api
