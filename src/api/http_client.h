// A blocking HTTP/1.1 client for the CLI talking to `skiff server`: plain `http://` URLs, one
// connection per request, Content-Length request bodies, Content-Length or chunked responses
// (whole, or chunk by chunk for watches and `logs -f`), and files streamed either way without
// being held in memory (artifact uploads and downloads). Not thread-safe; cheap to create.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/status.h"

namespace skiff::api {

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class HttpClient {
 public:
  // `base` is "http://host:port" (a trailing path is kept as a prefix). InvalidArgument if not.
  static Result<HttpClient> Create(const std::string& base, std::string bearer_token = "");

  Result<ClientResponse> Do(const std::string& method, const std::string& path,
                            const std::string& body = "",
                            const std::string& content_type = "application/json",
                            const std::map<std::string, std::string>& headers = {});
  // Streams a response: `on_data` gets each chunk as it arrives and returns false to stop.
  // The returned response has the status and headers (and the body if it was not chunked).
  Result<ClientResponse> Stream(const std::string& method, const std::string& path,
                                const std::function<bool(const std::string&)>& on_data,
                                const std::map<std::string, std::string>& headers = {});

  // Sends the file at `file` as the body (`Content-Length`), read from disk as the socket takes
  // it. A server that answers before the whole body is sent (413) is still heard.
  Result<ClientResponse> UploadFile(const std::string& method, const std::string& path, const std::string& file,
                                    const std::string& content_type = "application/octet-stream",
                                    const std::map<std::string, std::string>& headers = {});
  // GETs `path` into the file `out`: a 2xx body is written as it arrives, to `out` + ".part",
  // renamed to `out` once whole (Unavailable if the connection ends early; no file is left).
  // Any other status comes back with its body in memory and `out` untouched.
  Result<ClientResponse> Download(const std::string& path, const std::string& out,
                                  const std::map<std::string, std::string>& headers = {});

  const std::string& base() const { return base_; }

 private:
  Result<int> Connect();
  Result<ClientResponse> Exchange(const std::string& method, const std::string& path,
                                  const std::string& body, const std::string& content_type,
                                  const std::map<std::string, std::string>& headers,
                                  const std::function<bool(const std::string&)>* on_data,
                                  const std::string* upload_file = nullptr,
                                  const std::string* download_file = nullptr);

  std::string base_, host_, prefix_, token_;
  int port_ = 80;
};

// Parses a response's status line and headers (without the blank line); header names are
// lower-cased, values trimmed of the spaces and tabs around them. Also `DownloadUrl`'s parser.
void ParseResponseHead(const std::string& head, int* status, std::map<std::string, std::string>* headers);

// Splits a stream into lines across chunk boundaries: `Feed` calls `on_line` for each complete
// line (without '\n') and returns false as soon as `on_line` does.
class LineSplitter {
 public:
  template <typename F>
  bool Feed(const std::string& chunk, F&& on_line) {
    pending_ += chunk;
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!on_line(line)) return false;
    }
    return true;
  }
  const std::string& rest() const { return pending_; }

 private:
  std::string pending_;
};

// "a b/c" -> "a%20b%2Fc" (for query values and names).
std::string UrlEncode(const std::string& s);

}  // namespace skiff::api
