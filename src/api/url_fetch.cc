#include "api/url_fetch.h"

#include <cstdlib>

#include "api/http_client.h"
#include "common/fs.h"

namespace skiff::api {

namespace {

Result<HttpClient> ClientFor(const std::string& url) {
  if (url.rfind("https://", 0) == 0) {
    return Unimplemented(url +
                         ": https:// downloads are not supported yet (serve the model over "
                         "http://, or use file:// or pvc://)");
  }
  // The whole URL is the client's base, so requests go to its path.
  return HttpClient::Create(url);
}

}  // namespace

Result<UrlHead> HeadUrl(const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(HttpClient client, ClientFor(url));
  SKIFF_ASSIGN_OR_RETURN(ClientResponse r, client.Do("HEAD", ""));
  UrlHead h;
  h.status = r.status;
  if (auto it = r.headers.find("etag"); it != r.headers.end()) h.etag = it->second;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    h.content_length = std::strtoll(it->second.c_str(), nullptr, 10);
  }
  return h;
}

Status DownloadUrl(const std::string& url, const std::string& dest_file) {
  SKIFF_ASSIGN_OR_RETURN(HttpClient client, ClientFor(url));
  SKIFF_ASSIGN_OR_RETURN(ClientResponse r, client.Do("GET", ""));
  if (r.status != 200) return Unavailable("GET " + url + " answered " + std::to_string(r.status));
  return WriteFile(dest_file, r.body);
}

}  // namespace skiff::api
