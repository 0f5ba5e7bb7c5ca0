#include "api/url_fetch.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>

#include "api/http_client.h"
#include "common/fs.h"

namespace skiff::api {

namespace {

constexpr int kMaxRedirects = 5;
constexpr int kTimeoutSeconds = 60;  // per read or write: a stalled server is an error

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;  // "/path?query"
};

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return InvalidArgument(url + ": only http:// and https:// URLs can be fetched");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string::npos) return InvalidArgument(url + ": credentials in URLs are not supported");
  if (!authority.empty() && authority[0] == '[') {  // [::1]:8443
    size_t close = authority.find(']');
    if (close == std::string::npos) return InvalidArgument(url + ": unterminated IPv6 address");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
  }
  if (u.host.empty()) return InvalidArgument(url + ": no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  return u;
}

// One connection, plain or TLS, closed on destruction.
class Conn {
 public:
  ~Conn() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  Status Open(const Url& u) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res); rc != 0) {
      return Unavailable(u.host + ": " + ::gai_strerror(rc));
    }
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      timeval tv{kTimeoutSeconds, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        last = std::strerror(errno);
        ::close(fd);
      }
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return Unavailable("connect " + u.host + ":" + u.port + ": " + last);
    if (!u.tls) return OkStatus();
    // The system's trust store (SSL_CERT_FILE / SSL_CERT_DIR override it), the server's name
    // checked against its certificate, TLS 1.2 at least.
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return Internal("TLS: " + TlsError());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(ctx_) != 1) return Internal("TLS trust store: " + TlsError());
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return Internal("TLS: " + TlsError());
    in6_addr ip{};
    bool literal = ::inet_pton(AF_INET, u.host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, u.host.c_str(), &ip) == 1;
    if (literal) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), u.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, u.host.c_str());
      SSL_set1_host(ssl_, u.host.c_str());
    }
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : TlsError();
      return Unavailable("TLS handshake with " + u.host + ":" + u.port + ": " + why);
    }
    return OkStatus();
  }

  Status WriteAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off))
                                  : ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return Unavailable(std::string("send: ") + (ssl_ != nullptr ? TlsError() : std::strerror(errno)));
      off += static_cast<size_t>(n);
    }
    return OkStatus();
  }

  // Up to `max` bytes; 0 at the end of the stream.
  Result<size_t> Read(char* buf, size_t max) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buf, static_cast<int>(max));
      if (n > 0) return static_cast<size_t>(n);
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return size_t{0};
      // A server that closes without close_notify ends the body too (HTTP/1.0 style).
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return size_t{0};
      if (err == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return size_t{0};
      }
      return Unavailable("TLS read: " + TlsError());
    }
    ssize_t n = ::recv(fd_, buf, max, 0);
    if (n < 0) return Unavailable(std::string("recv: ") + std::strerror(errno));
    return static_cast<size_t>(n);
  }

 private:
  static std::string TlsError() {
    unsigned long e = ERR_get_error();
    if (e == 0) return "connection closed";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// Buffered reading of one response from a connection.
class Reader {
 public:
  explicit Reader(Conn& c) : c_(c) {}

  Result<std::string> Line() {
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        std::string line = buf_.substr(pos_, nl - pos_);
        pos_ = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (buf_.size() - pos_ > 64 * 1024) return Unavailable("response header line too long");
      SKIFF_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return Unavailable("connection closed in the response head");
    }
  }

  // Calls `sink` with up to `n` bytes at a time (n < 0: until the end of the stream).
  Status Body(int64_t n, const std::function<Status(std::string_view)>& sink) {
    while (n != 0) {
      if (pos_ == buf_.size()) {
        SKIFF_ASSIGN_OR_RETURN(bool more, Fill());
        if (!more) {
          if (n < 0) return OkStatus();
          return Unavailable("connection closed with " + std::to_string(n) + " body bytes missing");
        }
      }
      size_t take = buf_.size() - pos_;
      if (n >= 0) take = std::min<size_t>(take, static_cast<size_t>(n));
      SKIFF_RETURN_IF_ERROR(sink(std::string_view(buf_).substr(pos_, take)));
      pos_ += take;
      if (n > 0) n -= static_cast<int64_t>(take);
    }
    return OkStatus();
  }

 private:
  Result<bool> Fill() {
    if (pos_ > 0) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    char tmp[64 * 1024];
    SKIFF_ASSIGN_OR_RETURN(size_t got, c_.Read(tmp, sizeof(tmp)));
    buf_.append(tmp, got);
    return got > 0;
  }

  Conn& c_;
  std::string buf_;
  size_t pos_ = 0;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
};

// One request; the body (GET) goes to `sink`. Redirects are the caller's.
Result<Response> Exchange(const Url& u, const std::string& method,
                          const std::function<Status(std::string_view)>& sink) {
  Conn conn;
  SKIFF_RETURN_IF_ERROR(conn.Open(u));
  bool default_port = u.port == (u.tls ? "443" : "80");
  std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (!default_port) host += ":" + u.port;
  SKIFF_RETURN_IF_ERROR(conn.WriteAll(method + " " + u.target + " HTTP/1.1\r\nHost: " + host +
                                      "\r\nUser-Agent: skiff\r\nAccept: */*\r\nConnection: close\r\n\r\n"));
  Reader rd(conn);
  Response r;
  // The status line and headers, as the project's client reads them (ParseResponseHead).
  std::string head;
  for (;;) {
    std::string line;
    {
      SKIFF_ASSIGN_OR_RETURN(line, rd.Line());
    }
    if (line.empty()) break;
    head += head.empty() ? line : "\r\n" + line;
  }
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) {
    return Unavailable("not an HTTP response: \"" + head.substr(0, std::min<size_t>(head.find('\r'), 64)) + "\"");
  }
  ParseResponseHead(head, &r.status, &r.headers);
  if (method == "HEAD" || r.status == 204 || r.status == 304 || r.status / 100 == 1) return r;
  auto discard = [](std::string_view) { return OkStatus(); };
  const auto& body_sink = r.status == 200 ? sink : std::function<Status(std::string_view)>(discard);
  auto te = r.headers.find("transfer-encoding");
  if (te != r.headers.end() && te->second.find("chunked") != std::string::npos) {
    for (;;) {
      std::string size_line;
      {
        SKIFF_ASSIGN_OR_RETURN(size_line, rd.Line());
      }
      char* end = nullptr;
      long long size = std::strtoll(size_line.c_str(), &end, 16);
      if (end == size_line.c_str() || size < 0) return Unavailable("bad chunk size \"" + size_line + "\"");
      if (size == 0) break;
      SKIFF_RETURN_IF_ERROR(rd.Body(size, body_sink));
      SKIFF_ASSIGN_OR_RETURN(std::string crlf, rd.Line());
      (void)crlf;
    }
  } else if (auto cl = r.headers.find("content-length"); cl != r.headers.end()) {
    SKIFF_RETURN_IF_ERROR(rd.Body(std::strtoll(cl->second.c_str(), nullptr, 10), body_sink));
  } else {
    SKIFF_RETURN_IF_ERROR(rd.Body(-1, body_sink));
  }
  return r;
}

// Follows redirects (301, 302, 303, 307, 308) up to kMaxRedirects.
Result<Response> Fetch(const std::string& url, const std::string& method,
                       const std::function<Status(std::string_view)>& sink,
                       const std::function<void()>& restart) {
  std::string current = url;
  for (int hop = 0;; ++hop) {
    SKIFF_ASSIGN_OR_RETURN(Url u, ParseUrl(current));
    SKIFF_ASSIGN_OR_RETURN(Response r, Exchange(u, method, sink));
    bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    if (!redirect) return r;
    auto loc = r.headers.find("location");
    if (loc == r.headers.end() || loc->second.empty()) return r;
    if (hop + 1 > kMaxRedirects) return Unavailable(url + ": more than " + std::to_string(kMaxRedirects) + " redirects");
    std::string next = loc->second;
    if (next[0] == '/') {
      std::string scheme = u.tls ? "https://" : "http://";
      std::string host = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
      next = scheme + host + ":" + u.port + next;
    }
    // An https:// source never hands its object to a plain http:// one.
    if (u.tls && next.rfind("http://", 0) == 0) return Unavailable(current + ": redirected from https:// to http://");
    restart();
    current = next;
  }
}

}  // namespace

Result<UrlHead> HeadUrl(const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(Response r, Fetch(url, "HEAD", nullptr, [] {}));
  UrlHead h;
  h.status = r.status;
  if (auto it = r.headers.find("etag"); it != r.headers.end()) h.etag = it->second;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    h.content_length = std::strtoll(it->second.c_str(), nullptr, 10);
  }
  return h;
}

Status DownloadUrl(const std::string& url, const std::string& dest_file) {
  // Written as it arrives, into a neighbour of the destination, renamed into place when whole.
  const std::string part = dest_file + ".part";
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(part.c_str(), "wb"), &std::fclose);
  if (!out) return Internal("cannot write " + part + ": " + std::strerror(errno));
  auto sink = [&](std::string_view data) -> Status {
    if (std::fwrite(data.data(), 1, data.size(), out.get()) != data.size()) {
      return Internal("cannot write " + part + ": " + std::strerror(errno));
    }
    return OkStatus();
  };
  auto restart = [&] {
    std::fflush(out.get());
    if (::ftruncate(::fileno(out.get()), 0) == 0) std::rewind(out.get());
  };
  Result<Response> r = Fetch(url, "GET", sink, restart);
  bool flushed = std::fflush(out.get()) == 0;
  out.reset();
  if (r.ok() && r->status != 200) r = Unavailable("GET " + url + " answered " + std::to_string(r->status));
  if (r.ok() && !flushed) r = Internal("cannot write " + part);
  if (!r.ok()) {
    ::unlink(part.c_str());
    return r.status();
  }
  if (::rename(part.c_str(), dest_file.c_str()) != 0) {
    ::unlink(part.c_str());
    return Internal("rename " + part + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace skiff::api
