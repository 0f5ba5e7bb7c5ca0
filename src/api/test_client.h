// A blocking HTTP/1.1 client for the API tests: one TCP connection to 127.0.0.1, requests with
// Content-Length bodies, responses with Content-Length or chunked bodies (read whole, or chunk by
// chunk for watches). Test-only; not thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>

#include "api/http_client.h"

namespace skiff::api::testing {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }

  bool SendRaw(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  bool Send(const std::string& method, const std::string& target, const std::string& body = "",
            const std::string& content_type = "application/json",
            const std::map<std::string, std::string>& headers = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    return SendRaw(req);
  }

  // Reads the status line and headers; for chunked responses the body is then read with
  // `NextChunk`, otherwise it is read here.
  bool ReadHead(Response* r, int timeout_ms = 5000) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return false;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    ParseResponseHead(head, &r->status, &r->headers);
    chunked_ = r->headers["transfer-encoding"] == "chunked";
    if (!chunked_) {
      size_t len = std::strtoul(r->headers["content-length"].c_str(), nullptr, 10);
      while (buf_.size() < len) {
        if (!Fill(timeout_ms)) return false;
      }
      r->body = buf_.substr(0, len);
      buf_.erase(0, len);
    }
    return true;
  }

  // The next chunk of a chunked body; false at its end (zero chunk) or on timeout/EOF.
  bool NextChunk(std::string* out, int timeout_ms = 5000) {
    size_t eol;
    while ((eol = buf_.find("\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return false;
    }
    size_t len = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
    while (buf_.size() < eol + 2 + len + 2) {
      if (!Fill(timeout_ms)) return false;
    }
    *out = buf_.substr(eol + 2, len);
    buf_.erase(0, eol + 2 + len + 2);
    return len > 0;
  }

  Response Do(const std::string& method, const std::string& target, const std::string& body = "",
              const std::string& content_type = "application/json",
              const std::map<std::string, std::string>& headers = {}) {
    Response r;
    if (!Send(method, target, body, content_type, headers) || !ReadHead(&r)) return r;
    if (chunked_) {
      std::string c;
      while (NextChunk(&c)) r.body += c;
    }
    return r;
  }

  // True when the server closes the connection (EOF) within `timeout_ms`; what it sends first
  // is kept unread.
  bool ClosedByServer(int timeout_ms = 5000) {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char b[65536];
      ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n == 0) return true;
      if (n < 0) return false;
      buf_.append(b, static_cast<size_t>(n));
    }
  }

 private:
  bool Fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char b[65536];
    ssize_t n = ::recv(fd_, b, sizeof b, 0);
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool chunked_ = false;
  std::string buf_;
};

}  // namespace skiff::api::testing
