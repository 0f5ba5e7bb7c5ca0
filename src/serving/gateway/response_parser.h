// An incremental parser of one HTTP/1.1 response, as the gateway reads it from a replica: the
// status line and headers (interim 1xx responses skipped), then the body framed by
// Content-Length, by the chunked transfer coding (de-chunked; trailers dropped) or by the end of
// the connection. Pure: bytes in, a response out. Thread-compatible.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace skiff::serving {

class ResponseParser {
 public:
  enum class State { kIncomplete, kComplete, kBad };

  // Starts a new response; `head_request`: the request was HEAD (no body follows).
  void Reset(bool head_request = false);
  // Adds bytes read from the connection (`eof` once it has closed) and parses what it can.
  State Feed(std::string_view data, bool eof = false);

  int status() const { return status_; }
  const std::map<std::string, std::string>& headers() const { return headers_; }  // lower-case names
  std::string TakeBody() { return std::move(body_); }
  // Whether any byte of the response has arrived.
  bool started() const { return !in_.empty() || pos_ > 0; }
  // Whether the connection can carry another request: the body was not delimited by closing
  // and nothing arrived beyond this response.
  bool reusable() const;

 private:
  enum class Framing { kLength, kChunked, kClose };
  State ParseBody(bool eof);

  std::string in_;
  size_t pos_ = 0;  // parsed up to here in `in_`
  bool head_request_ = false;
  bool head_done_ = false;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  Framing framing_ = Framing::kLength;
  size_t length_ = 0;
  std::string body_;
  bool complete_ = false;
};

}  // namespace skiff::serving
