#include "serving/gateway/response_parser.h"

#include <cctype>
#include <cstdlib>

#include "api/http_client.h"

namespace skiff::serving {

namespace {

bool HasToken(std::string_view value, std::string_view token) {
  std::string lower(value);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(token) != std::string::npos;
}

// A chunk-size line: hex digits, then optional ";extensions". -1 if malformed.
long long ChunkSize(std::string_view line) {
  size_t i = 0;
  long long n = 0;
  while (i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i]))) {
    if (n > (1LL << 40)) return -1;
    n = n * 16 + (std::isdigit(static_cast<unsigned char>(line[i])) ? line[i] - '0'
                                                                     : std::tolower(line[i]) - 'a' + 10);
    ++i;
  }
  if (i == 0) return -1;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i < line.size() && line[i] != ';') return -1;
  return n;
}

}  // namespace

void ResponseParser::Reset(bool head_request) {
  in_.clear();
  pos_ = 0;
  head_request_ = head_request;
  head_done_ = false;
  status_ = 0;
  headers_.clear();
  framing_ = Framing::kLength;
  length_ = 0;
  body_.clear();
  complete_ = false;
}

bool ResponseParser::reusable() const {
  if (!complete_ || framing_ == Framing::kClose || pos_ != in_.size()) return false;
  auto it = headers_.find("connection");
  return it == headers_.end() || !HasToken(it->second, "close");
}

ResponseParser::State ResponseParser::Feed(std::string_view data, bool eof) {
  if (complete_) return State::kComplete;
  in_.append(data);
  while (!head_done_) {
    size_t end = in_.find("\r\n\r\n", pos_);
    if (end == std::string::npos) return eof ? State::kBad : State::kIncomplete;
    std::string head = in_.substr(pos_, end - pos_);
    pos_ = end + 4;
    headers_.clear();
    status_ = 0;
    api::ParseResponseHead(head, &status_, &headers_);
    if (status_ < 100 || status_ > 999) return State::kBad;
    if (status_ < 200) continue;  // 100 Continue and other interim responses
    head_done_ = true;
    auto te = headers_.find("transfer-encoding");
    auto cl = headers_.find("content-length");
    if (head_request_ || status_ == 204 || status_ == 304) {
      framing_ = Framing::kLength;
      length_ = 0;
    } else if (te != headers_.end() && HasToken(te->second, "chunked")) {
      framing_ = Framing::kChunked;
    } else if (cl != headers_.end()) {
      char* endp = nullptr;
      unsigned long long n = std::strtoull(cl->second.c_str(), &endp, 10);
      if (endp == cl->second.c_str() || *endp != '\0') return State::kBad;
      framing_ = Framing::kLength;
      length_ = static_cast<size_t>(n);
    } else {
      framing_ = Framing::kClose;
    }
  }
  State s = ParseBody(eof);
  if (s == State::kComplete) complete_ = true;
  if (s == State::kIncomplete && eof) return State::kBad;
  return s;
}

ResponseParser::State ResponseParser::ParseBody(bool eof) {
  switch (framing_) {
    case Framing::kLength:
      if (in_.size() - pos_ < length_) return State::kIncomplete;
      body_.assign(in_, pos_, length_);
      pos_ += length_;
      return State::kComplete;
    case Framing::kClose:
      if (!eof) return State::kIncomplete;
      body_.assign(in_, pos_, std::string::npos);
      pos_ = in_.size();
      return State::kComplete;
    case Framing::kChunked:
      for (;;) {
        size_t line_end = in_.find("\r\n", pos_);
        if (line_end == std::string::npos) return State::kIncomplete;
        long long size = ChunkSize(std::string_view(in_).substr(pos_, line_end - pos_));
        if (size < 0) return State::kBad;
        if (size == 0) {
          // Optional trailer fields, then an empty line.
          size_t at = line_end + 2;
          for (;;) {
            size_t e = in_.find("\r\n", at);
            if (e == std::string::npos) return State::kIncomplete;
            if (e == at) {
              pos_ = e + 2;
              return State::kComplete;
            }
            at = e + 2;
          }
        }
        size_t n = static_cast<size_t>(size);
        if (in_.size() < line_end + 2 + n + 2) return State::kIncomplete;
        if (in_.compare(line_end + 2 + n, 2, "\r\n") != 0) return State::kBad;
        body_.append(in_, line_end + 2, n);
        pos_ = line_end + 2 + n + 2;
      }
  }
  return State::kBad;
}

}  // namespace skiff::serving
