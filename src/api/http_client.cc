#include "api/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace skiff::api {

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void ParseResponseHead(const std::string& head, int* status, std::map<std::string, std::string>* headers) {
  size_t sp = head.find(' ');
  *status = sp == std::string::npos ? 0 : std::atoi(head.c_str() + sp + 1);
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string k = line.substr(0, colon);
      for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      // The value without the optional whitespace (spaces, tabs) around it.
      std::string v = line.substr(colon + 1);
      v.erase(0, std::min(v.size(), v.find_first_not_of(" \t")));
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
      (*headers)[k] = v;
    }
    pos = next;
  }
}

Result<HttpClient> HttpClient::Create(const std::string& base, std::string bearer_token) {
  HttpClient c;
  c.token_ = std::move(bearer_token);
  std::string rest = base;
  if (rest.rfind("http://", 0) != 0) {
    return InvalidArgument("server \"" + base + "\": only http:// URLs are supported");
  }
  rest = rest.substr(7);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  c.prefix_ = slash == std::string::npos ? "" : rest.substr(slash);
  while (!c.prefix_.empty() && c.prefix_.back() == '/') c.prefix_.pop_back();
  size_t colon = hostport.rfind(':');
  c.host_ = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    char* end = nullptr;
    long p = std::strtol(hostport.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) return InvalidArgument("server \"" + base + "\": bad port");
    c.port_ = static_cast<int>(p);
  }
  if (c.host_.empty()) return InvalidArgument("server \"" + base + "\": no host");
  c.base_ = base;
  return c;
}

Result<int> HttpClient::Connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(port_);
  if (int rc = getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Unavailable("cannot resolve " + host_ + ": " + gai_strerror(rc));
  }
  int fd = -1;
  std::string err = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    err = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Unavailable("cannot reach the skiff server at " + base_ + ": " + err);
  return fd;
}

namespace {

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads more into `buf`; false at EOF or error.
bool Fill(int fd, std::string* buf) {
  char tmp[65536];
  for (;;) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
    return true;
  }
}

// Writes a response body (the part already read is `buf`) to `out`.part as it arrives, then
// renames it to `out`; a body cut short leaves no file.
Status ReceiveToFile(int fd, bool chunked, const std::map<std::string, std::string>& headers, std::string buf,
                     const std::string& out, const std::string& base) {
  std::string part = out + ".part";
  int file = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file < 0) return Internal("cannot create " + part + ": " + std::strerror(errno));
  auto write_all = [&](const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(file, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  auto fail = [&](Status s) {
    ::close(file);
    ::unlink(part.c_str());
    return s;
  };
  int64_t got = 0;
  if (!chunked) {
    auto cl = headers.find("content-length");
    int64_t want = cl == headers.end() ? -1 : std::strtoll(cl->second.c_str(), nullptr, 10);
    for (;;) {
      size_t take = want < 0 ? buf.size() : static_cast<size_t>(std::min<int64_t>(want - got, static_cast<int64_t>(buf.size())));
      if (!write_all(buf.data(), take)) return fail(Internal("cannot write " + part + ": " + std::strerror(errno)));
      got += static_cast<int64_t>(take);
      buf.clear();
      if (want >= 0 && got >= want) break;
      if (!Fill(fd, &buf)) {
        if (want < 0) break;  // the body ends with the connection
        return fail(Unavailable("the skiff server at " + base + " closed the connection after " + std::to_string(got) +
                                " of " + std::to_string(want) + " bytes"));
      }
    }
  } else {
    for (;;) {
      size_t eol;
      while ((eol = buf.find("\r\n")) == std::string::npos) {
        if (!Fill(fd, &buf)) return fail(Unavailable("the skiff server at " + base + " ended a chunked body early"));
      }
      size_t len = std::strtoul(buf.substr(0, eol).c_str(), nullptr, 16);
      buf.erase(0, eol + 2);
      if (len == 0) break;
      while (len > 0) {
        if (buf.empty() && !Fill(fd, &buf)) {
          return fail(Unavailable("the skiff server at " + base + " ended a chunked body early"));
        }
        size_t take = std::min(len, buf.size());
        if (!write_all(buf.data(), take)) return fail(Internal("cannot write " + part + ": " + std::strerror(errno)));
        buf.erase(0, take);
        len -= take;
      }
      while (buf.size() < 2) {
        if (!Fill(fd, &buf)) return fail(Unavailable("the skiff server at " + base + " ended a chunked body early"));
      }
      buf.erase(0, 2);
    }
  }
  if (::close(file) != 0) {
    ::unlink(part.c_str());
    return Internal("cannot write " + part + ": " + std::strerror(errno));
  }
  if (::rename(part.c_str(), out.c_str()) != 0) {
    ::unlink(part.c_str());
    return Internal("cannot rename " + part + " to " + out + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace

Result<ClientResponse> HttpClient::Exchange(const std::string& method, const std::string& path,
                                            const std::string& body, const std::string& content_type,
                                            const std::map<std::string, std::string>& headers,
                                            const std::function<bool(const std::string&)>* on_data,
                                            const std::string* upload_file,
                                            const std::string* download_file) {
  int file_fd = -1;
  int64_t file_size = 0;
  if (upload_file != nullptr) {
    file_fd = ::open(upload_file->c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (file_fd < 0 || ::fstat(file_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (file_fd >= 0) ::close(file_fd);
      return NotFound(*upload_file + ": not a readable file");
    }
    file_size = st.st_size;
  }
  Result<int> conn = Connect();
  if (!conn.ok()) {
    if (file_fd >= 0) ::close(file_fd);
    return conn.status();
  }
  int fd = *conn;
  std::string req = method + " " + prefix_ + path + " HTTP/1.1\r\nHost: " + host_ + ":" +
                    std::to_string(port_) + "\r\nUser-Agent: skiff\r\nConnection: close\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (file_fd >= 0) {
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(file_size) + "\r\n";
  } else if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  bool sent = SendAll(fd, req);
  if (sent && file_fd >= 0) {
    off_t off = 0;
    while (off < file_size) {
      ssize_t n = ::sendfile(fd, file_fd, &off, static_cast<size_t>(std::min<int64_t>(file_size - off, 1 << 20)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the server stopped reading: it may have answered (413); read on
    }
  }
  if (file_fd >= 0) ::close(file_fd);
  if (!sent) {
    ::close(fd);
    return Unavailable("the skiff server at " + base_ + " closed the connection");
  }
  std::string buf;
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(fd, &buf)) {
      ::close(fd);
      return Unavailable("the skiff server at " + base_ + " sent no response");
    }
  }
  ClientResponse r;
  ParseResponseHead(buf.substr(0, end), &r.status, &r.headers);
  buf.erase(0, end + 4);
  bool chunked = r.headers["transfer-encoding"] == "chunked";
  if (download_file != nullptr && r.status >= 200 && r.status < 300) {
    Status s = ReceiveToFile(fd, chunked, r.headers, std::move(buf), *download_file, base_);
    ::close(fd);
    if (!s.ok()) return s;
    return r;
  }
  if (!chunked) {
    auto cl = r.headers.find("content-length");
    if (cl != r.headers.end()) {
      size_t len = std::strtoul(cl->second.c_str(), nullptr, 10);
      while (buf.size() < len && Fill(fd, &buf)) {
      }
      r.body = buf.substr(0, len);
    } else {
      while (Fill(fd, &buf)) {
      }
      r.body = std::move(buf);
    }
    ::close(fd);
    return r;
  }
  for (;;) {
    size_t eol;
    while ((eol = buf.find("\r\n")) == std::string::npos) {
      if (!Fill(fd, &buf)) {
        ::close(fd);
        return r;  // the server went away mid-stream
      }
    }
    size_t len = std::strtoul(buf.substr(0, eol).c_str(), nullptr, 16);
    while (buf.size() < eol + 2 + len + 2) {
      if (!Fill(fd, &buf)) {
        ::close(fd);
        return r;
      }
    }
    std::string chunk = buf.substr(eol + 2, len);
    buf.erase(0, eol + 2 + len + 2);
    if (len == 0) break;
    if (on_data != nullptr) {
      if (!(*on_data)(chunk)) break;
    } else {
      r.body += chunk;
    }
  }
  ::close(fd);
  return r;
}

Result<ClientResponse> HttpClient::Do(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& content_type,
                                      const std::map<std::string, std::string>& headers) {
  return Exchange(method, path, body, content_type, headers, nullptr);
}

Result<ClientResponse> HttpClient::Stream(const std::string& method, const std::string& path,
                                          const std::function<bool(const std::string&)>& on_data,
                                          const std::map<std::string, std::string>& headers) {
  return Exchange(method, path, "", "", headers, &on_data);
}

}  // namespace skiff::api

namespace skiff::api {

Result<ClientResponse> HttpClient::UploadFile(const std::string& method, const std::string& path,
                                              const std::string& file, const std::string& content_type,
                                              const std::map<std::string, std::string>& headers) {
  return Exchange(method, path, "", content_type, headers, nullptr, &file, nullptr);
}

Result<ClientResponse> HttpClient::Download(const std::string& path, const std::string& out,
                                            const std::map<std::string, std::string>& headers) {
  return Exchange("GET", path, "", "", headers, nullptr, nullptr, &out);
}

}  // namespace skiff::api
