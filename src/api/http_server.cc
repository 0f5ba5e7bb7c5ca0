#include "api/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "common/json.h"

namespace skiff::api {

std::string HttpRequest::Query(std::string_view key, std::string_view fallback) const {
  auto it = query.find(std::string(key));
  return it == query.end() ? std::string(fallback) : it->second;
}

std::string HttpRequest::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? "" : it->second;
}

std::string_view HttpReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

void ParseQuery(std::string_view qs, std::multimap<std::string, std::string>* out) {
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k = PercentDecode(part.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    out->emplace(std::move(k), std::move(v));
  }
}

enum class ParseOutcome { kIncomplete, kComplete, kBad };

// What a lingering connection reads and drops after an error answer before it gives up on the
// client and closes (see `Conn::linger`).
constexpr int64_t kMaxDrainBytes = int64_t{64} << 20;
// The longest chunk-size or trailer line of a chunked body.
constexpr size_t kMaxChunkLine = 4096;

// Parses the request line and headers of `in`, whose head ends at `end` (the "\r\n\r\n").
bool ParseHead(const std::string& in, size_t end, HttpRequest* req, int* error_status) {
  std::string_view head(in.data(), end);
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    *error_status = 400;
    return false;
  }
  req->method = std::string(line.substr(0, sp1));
  req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::string_view version = line.substr(sp2 + 1);
  req->headers.clear();
  if (version == "HTTP/1.0") req->headers["connection"] = "close";
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = Lower(Trim(h.substr(0, colon)));
    std::string value(Trim(h.substr(colon + 1)));
    auto [it, inserted] = req->headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  size_t qmark = req->target.find('?');
  req->path = PercentDecode(std::string_view(req->target).substr(0, qmark), false);
  req->query.clear();
  if (qmark != std::string::npos) ParseQuery(std::string_view(req->target).substr(qmark + 1), &req->query);
  return true;
}

// Parses one request from the front of `in`. On kComplete, `*consumed` bytes form it.
ParseOutcome ParseRequest(const std::string& in, const HttpServerOptions& opts, HttpRequest* req,
                          size_t* consumed, int* error_status, bool* wants_continue) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in.size() > opts.max_header_bytes) {
      *error_status = 431;
      return ParseOutcome::kBad;
    }
    return ParseOutcome::kIncomplete;
  }
  if (!ParseHead(in, end, req, error_status)) return ParseOutcome::kBad;
  if (!req->Header("transfer-encoding").empty()) {
    *error_status = 411;  // chunked request bodies are taken only by `body_to_file` routes
    return ParseOutcome::kBad;
  }
  size_t length = 0;
  std::string cl = req->Header("content-length");
  if (!cl.empty()) {
    char* endp = nullptr;
    unsigned long long v = std::strtoull(cl.c_str(), &endp, 10);
    if (endp == cl.c_str() || *endp != '\0') {
      *error_status = 400;
      return ParseOutcome::kBad;
    }
    length = static_cast<size_t>(v);
  }
  if (length > opts.max_body_bytes) {
    *error_status = 413;
    return ParseOutcome::kBad;
  }
  size_t total = end + 4 + length;
  if (in.size() < total) {
    *wants_continue = Lower(req->Header("expect")) == "100-continue";
    return ParseOutcome::kIncomplete;
  }
  req->body = in.substr(end + 4, length);
  *consumed = total;
  return ParseOutcome::kComplete;
}

std::string Chunk(std::string_view data) {
  char len[32];
  std::snprintf(len, sizeof len, "%zx\r\n", data.size());
  std::string out(len);
  out.append(data);
  out.append("\r\n");
  return out;
}

}  // namespace

class StreamImpl;

// Work handed to an I/O thread. Shared with responders, which may outlive the server: once the
// server stops, posts are dropped.
struct PostQueue {
  std::mutex mu;
  std::vector<std::function<void()>> fns;  // GUARDED_BY(mu)
  bool stopped = false;                    // GUARDED_BY(mu)
  int wakefd = -1;
  std::atomic<std::thread::id> owner{};    // the loop's thread

  bool Post(std::function<void()> fn) {
    std::lock_guard<std::mutex> l(mu);  // held for the write too: `Stop` closes `wakefd`
    if (stopped) return false;
    // The loop's own thread drains the queue before it waits again, so a post from there (a
    // proxy answering on the loop) needs no wake-up write.
    bool wake = fns.empty() && owner.load(std::memory_order_relaxed) != std::this_thread::get_id();
    fns.push_back(std::move(fn));
    if (wake) {
      uint64_t one = 1;
      ssize_t n = ::write(wakefd, &one, sizeof one);
      (void)n;
    }
    return true;
  }
};

// A request whose body is being spilled to a file: the parsed head, and where the body stands.
struct Spill {
  HttpRequest req;
  int fd = -1;
  std::string path;
  int64_t limit = 0;
  int64_t written = 0;
  bool chunked = false;
  // Content-Length: bytes still to come. Chunked: bytes left of the current chunk.
  int64_t remaining = 0;
  enum class Stage { kSize, kData, kDataEnd, kTrailer, kDone } stage = Stage::kSize;
};

// One I/O thread: its epoll set, the connections it owns and the queue other threads post to.
// A connection lives on one loop for its whole life; everything about it runs on that loop's
// thread. Loop 0 also owns the listener and deals accepted connections out round-robin.
struct HttpIoLoop {
  struct Conn {
    int fd = -1;
    uint64_t id = 0;
    std::string peer;
    std::string in;
    std::string out;
    size_t out_off = 0;
    bool busy = false;           // a request is being answered
    bool close_after = false;    // close once `out` drains
    bool sent_continue = false;  // 100 Continue for the current request
    bool want_write = false;
    std::shared_ptr<StreamImpl> stream;
    // Set while a deferred request waits; raised when the connection closes first.
    std::shared_ptr<std::atomic<bool>> deferred_gone;
    // A request body being written to a file (`HttpServerOptions::body_to_file`).
    std::unique_ptr<Spill> spill;
    // A response body being sent from a file (`HttpResponse::body_file`): [file_off, file_end).
    int file_fd = -1;
    off_t file_off = 0, file_end = 0;
    // After an error answer to a client that may still be sending (413 mid-upload): once the
    // answer is out, half-close and read and drop what still comes (up to `kMaxDrainBytes`)
    // before closing, so the client reads the answer instead of a connection reset.
    bool linger = false;
    bool draining = false;
    int64_t drained = 0;
  };

  HttpServer::Impl* server = nullptr;
  int epfd = -1, wakefd = -1;
  std::thread thread;

  // This loop's thread only.
  std::unordered_map<uint64_t, Conn> conns;
  uint64_t next_id = 3;   // 0: the listener, 1: the wake-up fd, 2: `poll_fd`
  size_t next_loop = 0;   // loop 0: where the next accepted connection goes

  std::shared_ptr<PostQueue> posts = std::make_shared<PostQueue>();

  bool Post(std::function<void()> fn) { return posts->Post(std::move(fn)); }

  void Run();
  void DrainPosts();
  void Accept();
  void Adopt(int fd, std::string peer);
  void OnReadable(Conn& c);
  void TryDispatch(Conn& c);
  void Dispatch(Conn& c, HttpRequest req);
  bool StartSpill(Conn& c);
  bool FeedSpill(Conn& c);
  void FailSpill(Conn& c, int status, std::string message);
  void Flush(Conn& c);
  void UpdateInterest(Conn& c);
  void CloseConn(uint64_t id);
  void Respond(uint64_t id, HttpResponse resp, bool close);
};

struct HttpServer::Impl {
  HttpServerOptions opts;
  HttpHandler handler;
  int listen_fd = -1;
  std::vector<std::unique_ptr<HttpIoLoop>> loops;
  std::vector<std::thread> workers;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open_conns{0};

  struct Job {
    HttpIoLoop* loop;
    uint64_t conn;
    HttpRequest req;
  };
  std::mutex job_mu;
  std::condition_variable job_cv;
  std::deque<Job> jobs;  // GUARDED_BY(job_mu)

  void WorkerLoop();
};

class StreamImpl : public HttpStream, public std::enable_shared_from_this<StreamImpl> {
 public:
  StreamImpl(HttpIoLoop* loop, uint64_t conn) : loop_(loop), conn_(conn) {}

  bool Write(std::string data) override {
    if (data.empty()) return !closed();
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return false;
    auto self = shared_from_this();
    loop_->Post([self, chunk = Chunk(data)]() mutable { self->AppendOnIo(std::move(chunk)); });
    return true;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_ || close_requested_) return;
      close_requested_ = true;
    }
    auto self = shared_from_this();
    loop_->Post([self] { self->FinishOnIo(/*end_chunk=*/true); });
  }

  bool closed() const override {
    std::lock_guard<std::mutex> l(mu_);
    return closed_;
  }

  void OnClose(std::function<void()> cb) override {
    bool run_now = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) {
        run_now = true;
      } else {
        callbacks_.push_back(std::move(cb));
      }
    }
    if (run_now) loop_->Post(std::move(cb));
  }

  // I/O thread.
  void AppendOnIo(std::string chunk) {
    auto it = loop_->conns.find(conn_);
    if (it == loop_->conns.end() || it->second.stream.get() != this) return;
    it->second.out += chunk;
    loop_->Flush(it->second);
  }

  // I/O thread: the stream ends, normally (`end_chunk`) or because the connection went away.
  void FinishOnIo(bool end_chunk) {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) return;
      closed_ = true;
      cbs.swap(callbacks_);
    }
    for (auto& cb : cbs) cb();
    if (!end_chunk) return;
    auto it = loop_->conns.find(conn_);
    if (it == loop_->conns.end() || it->second.stream.get() != this) return;
    HttpIoLoop::Conn& c = it->second;
    c.out += "0\r\n\r\n";
    c.stream.reset();
    c.busy = false;
    loop_->Flush(c);
    auto again = loop_->conns.find(conn_);
    if (again != loop_->conns.end()) loop_->TryDispatch(again->second);
  }

 private:
  HttpIoLoop* loop_;
  uint64_t conn_;
  mutable std::mutex mu_;
  bool closed_ = false;           // GUARDED_BY(mu_)
  bool close_requested_ = false;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> callbacks_;  // GUARDED_BY(mu_)
};

namespace {

class ResponderImpl : public HttpResponder {
 public:
  ResponderImpl(HttpIoLoop* loop, uint64_t conn, bool close, std::shared_ptr<std::atomic<bool>> gone)
      : posts_(loop->posts), loop_(loop), conn_(conn), close_(close), gone_(std::move(gone)) {}

  ~ResponderImpl() override {
    if (answered_.load()) return;
    HttpResponse r;
    r.status = 500;
    r.body = "{\"error\": \"the handler dropped the request without answering\"}";
    Respond(std::move(r));
  }

  bool Respond(HttpResponse resp) override {
    if (answered_.exchange(true)) return false;
    if (gone_->load()) return false;
    HttpIoLoop* loop = loop_;
    uint64_t id = conn_;
    bool close = close_;
    std::shared_ptr<std::atomic<bool>> gone = gone_;
    return posts_->Post([loop, id, close, gone, resp = std::move(resp)]() mutable {
      auto it = loop->conns.find(id);
      if (it == loop->conns.end() || it->second.deferred_gone != gone) return;
      it->second.deferred_gone.reset();
      loop->Respond(id, std::move(resp), close);
    });
  }

  bool closed() const override { return gone_->load(); }

 private:
  std::shared_ptr<PostQueue> posts_;  // outlives `loop_`: posts after `Stop` are dropped
  HttpIoLoop* loop_;
  uint64_t conn_;
  bool close_;
  std::shared_ptr<std::atomic<bool>> gone_;
  std::atomic<bool> answered_{false};
};

class ExchangeImpl : public HttpExchange {
 public:
  ExchangeImpl(HttpIoLoop* loop, uint64_t conn, bool close, bool on_io_thread = false)
      : loop_(loop), conn_(conn), close_(close), on_io_thread_(on_io_thread) {}

  std::shared_ptr<HttpStream> Stream(int status, std::string content_type,
                                     std::vector<std::pair<std::string, std::string>> headers)
      override {
    stream_ = std::make_shared<StreamImpl>(loop_, conn_);
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(HttpReason(status)) +
                       "\r\nContent-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    if (close_) head += "Connection: close\r\n";
    head += "\r\n";
    HttpIoLoop* loop = loop_;
    uint64_t id = conn_;
    auto stream = stream_;
    // Posted before any chunk the stream may carry, so the head goes out first (also on the
    // I/O thread itself, where the handler's return then leaves the connection to the stream).
    loop_->Post([loop, id, stream, head = std::move(head)] {
      auto it = loop->conns.find(id);
      if (it == loop->conns.end()) {
        stream->FinishOnIo(false);
        return;
      }
      it->second.stream = stream;
      it->second.out += head;
      loop->Flush(it->second);
    });
    return stream_;
  }

  std::shared_ptr<HttpResponder> Defer() override {
    auto gone = std::make_shared<std::atomic<bool>>(false);
    HttpIoLoop* loop = loop_;
    uint64_t id = conn_;
    if (on_io_thread_) {
      loop->conns[id].deferred_gone = gone;
      deferred_ = true;
      return std::make_shared<ResponderImpl>(loop_, conn_, close_, std::move(gone));
    }
    // Registered before any answer can be posted (the queue keeps order), so a client that
    // leaves while the request waits raises `gone`.
    loop_->Post([loop, id, gone] {
      auto it = loop->conns.find(id);
      if (it == loop->conns.end()) {
        gone->store(true);
        return;
      }
      it->second.deferred_gone = gone;
    });
    deferred_ = true;
    return std::make_shared<ResponderImpl>(loop_, conn_, close_, std::move(gone));
  }

  bool streamed() const { return stream_ != nullptr; }
  bool deferred() const { return deferred_; }

 private:
  HttpIoLoop* loop_;
  uint64_t conn_;
  bool close_;
  bool on_io_thread_;
  std::shared_ptr<StreamImpl> stream_;
  bool deferred_ = false;
};

// "Connection: close" asked for (any case).
bool WantsClose(const HttpRequest& req) {
  auto it = req.headers.find("connection");
  if (it == req.headers.end() || it->second.size() != 5) return false;
  return Lower(it->second) == "close";
}

void AppendNumber(std::string& out, size_t v) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%zu", v);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

void HttpIoLoop::UpdateInterest(Conn& c) {
  bool want = c.out_off < c.out.size() || c.file_fd >= 0;
  if (want == c.want_write) return;
  c.want_write = want;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = c.id;
  epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
}

void HttpIoLoop::Flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    CloseConn(c.id);
    return;
  }
  if (c.out_off == c.out.size() && c.file_fd >= 0) {
    // The head is out: the body follows from the file, as fast as the socket takes it.
    while (c.file_off < c.file_end) {
      size_t want = static_cast<size_t>(std::min<off_t>(c.file_end - c.file_off, off_t{1} << 20));
      ssize_t n = ::sendfile(c.fd, c.file_fd, &c.file_off, want);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      CloseConn(c.id);  // a read error or a file that shrank: the client sees a short body
      return;
    }
    if (c.file_off == c.file_end) {
      ::close(c.file_fd);
      c.file_fd = -1;
      c.busy = false;
      // The next pipelined request, if any, once this call has unwound (on this loop, which
      // owns the connection).
      uint64_t id = c.id;
      Post([this, id] {
        auto it = conns.find(id);
        if (it != conns.end()) TryDispatch(it->second);
      });
    }
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
    if (c.close_after && !c.busy && !c.draining) {
      if (!c.linger) {
        CloseConn(c.id);
        return;
      }
      ::shutdown(c.fd, SHUT_WR);
      c.draining = true;
    }
  } else if (c.out_off > (1 << 20)) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  UpdateInterest(c);
}

void HttpIoLoop::CloseConn(uint64_t id) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  std::shared_ptr<StreamImpl> stream = std::move(it->second.stream);
  if (it->second.deferred_gone) it->second.deferred_gone->store(true);
  if (Spill* sp = it->second.spill.get()) {  // the client left mid-body: drop the partial file
    ::close(sp->fd);
    ::unlink(sp->path.c_str());
  }
  if (it->second.file_fd >= 0) ::close(it->second.file_fd);
  epoll_ctl(epfd, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  conns.erase(it);
  server->open_conns.fetch_sub(1);
  if (stream) stream->FinishOnIo(false);
}

void HttpIoLoop::Respond(uint64_t id, HttpResponse resp, bool close) {
  auto it = conns.find(id);
  if (it == conns.end()) return;
  Conn& c = it->second;
  int file_fd = -1;
  off_t file_off = 0, file_end = 0;
  if (!resp.body_file.empty()) {
    file_fd = ::open(resp.body_file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (file_fd >= 0 && ::fstat(file_fd, &st) == 0 && S_ISREG(st.st_mode)) {
      file_off = std::clamp<off_t>(resp.file_offset, 0, st.st_size);
      file_end = resp.file_length < 0 ? st.st_size : std::min<off_t>(st.st_size, file_off + resp.file_length);
    } else {
      if (file_fd >= 0) ::close(file_fd);
      file_fd = -1;
      resp = HttpResponse{};
      resp.status = 404;
      resp.body = "{\"error\": \"the file to send is gone\"}";
    }
  }
  // Head and body go into the connection's buffer, which keeps its capacity between
  // responses, and leave in one `send`.
  std::string& out = c.out;
  out.reserve(out.size() + resp.body.size() + 160);
  out += "HTTP/1.1 ";
  AppendNumber(out, static_cast<size_t>(resp.status));
  out += ' ';
  out += HttpReason(resp.status);
  out += "\r\n";
  if (!resp.content_type.empty()) {
    out += "Content-Type: ";
    out += resp.content_type;
    out += "\r\n";
  }
  for (const auto& [k, v] : resp.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "Content-Length: ";
  AppendNumber(out, file_fd >= 0 ? static_cast<size_t>(file_end - file_off) : resp.body.size());
  out += "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (file_fd >= 0) {
    c.file_fd = file_fd;  // `Flush` sends it, and frees the connection when it is done
    c.file_off = file_off;
    c.file_end = file_end;
  } else {
    out += resp.body;
    c.busy = false;
  }
  c.sent_continue = false;
  if (close) c.close_after = true;
  Flush(c);
  auto again = conns.find(id);
  if (again != conns.end()) TryDispatch(again->second);
}

void HttpIoLoop::TryDispatch(Conn& c) {
  if (c.busy || c.close_after || c.in.empty() || c.spill) return;
  const HttpServerOptions& opts = server->opts;
  if (opts.body_to_file && StartSpill(c)) return;
  HttpRequest req;
  size_t consumed = 0;
  int error_status = 400;
  bool wants_continue = false;
  ParseOutcome outcome = ParseRequest(c.in, opts, &req, &consumed, &error_status, &wants_continue);
  if (outcome == ParseOutcome::kIncomplete) {
    if (wants_continue && !c.sent_continue) {
      c.sent_continue = true;
      c.out += "HTTP/1.1 100 Continue\r\n\r\n";
      Flush(c);
    }
    return;
  }
  if (outcome == ParseOutcome::kBad) {
    c.in.clear();
    HttpResponse r;
    r.status = error_status;
    r.content_type = "text/plain";
    r.body = std::string(HttpReason(error_status)) + "\n";
    c.busy = true;
    Respond(c.id, std::move(r), true);
    return;
  }
  c.in.erase(0, consumed);
  Dispatch(c, std::move(req));
}

// Hands a complete request to its handler: on this thread if `on_io_thread` claims it, else to
// a worker.
void HttpIoLoop::Dispatch(Conn& c, HttpRequest req) {
  const HttpServerOptions& opts = server->opts;
  c.busy = true;
  req.peer = c.peer;
  if (opts.on_io_thread && opts.on_io_thread(req)) {
    uint64_t id = c.id;
    bool close = WantsClose(req);
    ExchangeImpl exchange(this, id, close, /*on_io_thread=*/true);
    HttpResponse resp;
    server->handler(req, resp, exchange);
    if (!req.body_file.empty()) ::unlink(req.body_file.c_str());
    if (!exchange.streamed() && !exchange.deferred()) Respond(id, std::move(resp), close);
    return;
  }
  {
    std::lock_guard<std::mutex> l(server->job_mu);
    server->jobs.push_back({this, c.id, std::move(req)});
  }
  server->job_cv.notify_one();
}

// Begins spilling the body of the request at the front of `c.in` to a file, if its head is
// complete and `body_to_file` asks for it. False leaves the request to the in-memory path
// (which also answers malformed heads).
bool HttpIoLoop::StartSpill(Conn& c) {
  size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  HttpRequest req;
  int error_status = 400;
  if (!ParseHead(c.in, end, &req, &error_status)) return false;
  std::string te = Lower(req.Header("transfer-encoding"));
  std::string cl = req.Header("content-length");
  if (!te.empty() && te != "chunked") return false;  // 411 from the in-memory path
  bool chunked = te == "chunked";
  int64_t length = 0;
  if (!chunked) {
    if (cl.empty()) return false;  // no body
    char* endp = nullptr;
    unsigned long long v = std::strtoull(cl.c_str(), &endp, 10);
    if (endp == cl.c_str() || *endp != '\0') return false;  // 400 from the in-memory path
    length = static_cast<int64_t>(std::min<unsigned long long>(v, INT64_MAX));
  }
  std::optional<BodySpill> where = server->opts.body_to_file(req);
  if (!where) return false;
  c.in.erase(0, end + 4);
  c.busy = true;
  auto sp = std::make_unique<Spill>();
  sp->limit = where->limit;
  sp->chunked = chunked;
  sp->remaining = length;
  sp->req = std::move(req);
  c.spill = std::move(sp);
  if (!chunked && length > where->limit) {
    FailSpill(c, 413, "the body of " + std::to_string(length) + " bytes is over the limit of " +
                          std::to_string(where->limit));
    return true;
  }
  std::string path = where->dir + "/upload-XXXXXX";
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    FailSpill(c, 500, "cannot create a file for the body in " + where->dir + ": " + std::strerror(errno));
    return true;
  }
  c.spill->fd = fd;
  c.spill->path = path;
  if (Lower(c.spill->req.Header("expect")) == "100-continue") {
    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
    Flush(c);
    if (!conns.count(c.id)) return true;
  }
  FeedSpill(c);
  return true;
}

// Moves the body bytes at the front of `c.in` into the spill file, decoding chunks; dispatches
// the request once the body is complete. False when the connection is gone or was answered
// with an error.
bool HttpIoLoop::FeedSpill(Conn& c) {
  Spill& sp = *c.spill;
  size_t pos = 0;
  auto write_out = [&](size_t n) -> bool {
    if (sp.written + static_cast<int64_t>(n) > sp.limit) return false;
    const char* p = c.in.data() + pos;
    size_t left = n;
    while (left > 0) {
      ssize_t w = ::write(sp.fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      left -= static_cast<size_t>(w);
    }
    sp.written += static_cast<int64_t>(n);
    pos += n;
    sp.remaining -= static_cast<int64_t>(n);
    return true;
  };
  int error = 0;
  std::string why;
  while (error == 0 && sp.stage != Spill::Stage::kDone) {
    size_t avail = c.in.size() - pos;
    if (!sp.chunked || sp.stage == Spill::Stage::kData) {
      size_t n = static_cast<size_t>(std::min<int64_t>(sp.remaining, static_cast<int64_t>(avail)));
      if (n > 0 && !write_out(n)) {
        error = sp.written + static_cast<int64_t>(n) > sp.limit ? 413 : 500;
        why = error == 413 ? "the body is over the limit of " + std::to_string(sp.limit) + " bytes"
                           : "cannot write the body to " + sp.path + ": " + std::strerror(errno);
        break;
      }
      if (sp.remaining > 0) break;  // wait for more
      sp.stage = sp.chunked ? Spill::Stage::kDataEnd : Spill::Stage::kDone;
      continue;
    }
    if (sp.stage == Spill::Stage::kDataEnd) {
      if (avail < 2) break;
      if (c.in.compare(pos, 2, "\r\n") != 0) {
        error = 400;
        why = "a chunk does not end with CRLF";
        break;
      }
      pos += 2;
      sp.stage = Spill::Stage::kSize;
      continue;
    }
    // kSize or kTrailer: a line.
    size_t eol = c.in.find("\r\n", pos);
    if (eol == std::string::npos) {
      if (avail > kMaxChunkLine) {
        error = 400;
        why = "a chunk-size or trailer line is too long";
      }
      break;
    }
    std::string_view line(c.in.data() + pos, eol - pos);
    pos = eol + 2;
    if (sp.stage == Spill::Stage::kTrailer) {
      if (line.empty()) sp.stage = Spill::Stage::kDone;  // trailer fields are dropped
      continue;
    }
    std::string size_text(line.substr(0, line.find(';')));  // chunk extensions are ignored
    char* endp = nullptr;
    unsigned long long size = std::strtoull(size_text.c_str(), &endp, 16);
    if (size_text.empty() || *endp != '\0' || size > static_cast<unsigned long long>(INT64_MAX)) {
      error = 400;
      why = "bad chunk size \"" + size_text + "\"";
      break;
    }
    if (size == 0) {
      sp.stage = Spill::Stage::kTrailer;
    } else if (sp.written + static_cast<int64_t>(size) > sp.limit) {
      error = 413;  // known before its bytes arrive
      why = "the body is over the limit of " + std::to_string(sp.limit) + " bytes";
    } else {
      sp.remaining = static_cast<int64_t>(size);
      sp.stage = Spill::Stage::kData;
    }
  }
  c.in.erase(0, pos);
  if (error != 0) {
    FailSpill(c, error, why);
    return false;
  }
  if (sp.stage != Spill::Stage::kDone) return true;
  ::close(sp.fd);
  HttpRequest req = std::move(sp.req);
  req.body_file = sp.path;
  req.body_file_size = sp.written;
  c.spill.reset();
  uint64_t id = c.id;
  Dispatch(c, std::move(req));
  return conns.count(id) > 0;
}

// Answers a spilled request with an error: the partial file goes, and the connection closes
// once the client has read the answer.
void HttpIoLoop::FailSpill(Conn& c, int status, std::string message) {
  if (c.spill->fd >= 0) {
    ::close(c.spill->fd);
    ::unlink(c.spill->path.c_str());
  }
  c.spill.reset();
  c.in.clear();
  c.linger = true;
  HttpResponse r;
  r.status = status;
  // Shaped like a Kubernetes `Status`, which every client of this server already reads.
  r.body = Json({{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", status == 413 ? "RequestEntityTooLarge" : status == 400 ? "BadRequest" : "InternalError"},
                 {"code", status}})
               .dump();
  Respond(c.id, std::move(r), /*close=*/true);
}

void HttpIoLoop::OnReadable(Conn& c) {
  uint64_t id = c.id;
  const HttpServerOptions& opts = server->opts;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0 && c.draining) {
      c.drained += n;
      if (c.drained > kMaxDrainBytes) {
        CloseConn(id);
        return;
      }
      continue;
    }
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (!c.spill && !c.busy && opts.body_to_file) {
        TryDispatch(c);  // a head that asks for spilling starts it before its body piles up
        if (!conns.count(id)) return;
      }
      if (c.spill) {
        // A body being spilled goes to its file as it comes, so `in` stays one read long.
        if (!FeedSpill(c)) return;
        continue;
      }
      if (c.in.size() > opts.max_body_bytes + opts.max_header_bytes) {
        CloseConn(id);
        return;
      }
      // A short read drained the socket: epoll is level-triggered, so anything arriving later
      // wakes the loop again, and the extra `recv` that would only say EAGAIN is saved.
      if (static_cast<size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    CloseConn(id);  // EOF or error: a streaming client that hangs up ends its stream here
    return;
  }
  TryDispatch(c);
}

void HttpIoLoop::Adopt(int fd, std::string peer) {
  Conn c;
  c.fd = fd;
  c.id = next_id++;
  c.peer = std::move(peer);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = c.id;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    server->open_conns.fetch_sub(1);
    return;
  }
  conns.emplace(c.id, std::move(c));
}

void HttpIoLoop::Accept() {
  for (;;) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(server->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char ip[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    std::string peer = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
    server->open_conns.fetch_add(1);
    // Round-robin over the loops: even with few connections (a benchmark's 32), each thread
    // gets its share, which hashing (SO_REUSEPORT) does not promise.
    HttpIoLoop* to = server->loops[next_loop++ % server->loops.size()].get();
    if (to == this) {
      Adopt(fd, std::move(peer));
    } else if (!to->Post([to, fd, peer = std::move(peer)]() mutable { to->Adopt(fd, std::move(peer)); })) {
      ::close(fd);  // that loop is stopping
      server->open_conns.fetch_sub(1);
    }
  }
}

void HttpIoLoop::DrainPosts() {
  for (;;) {
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard<std::mutex> l(posts->mu);
      if (posts->fns.empty()) return;
      fns.swap(posts->fns);
    }
    for (auto& fn : fns) fn();
  }
}

void HttpIoLoop::Run() {
  posts->owner.store(std::this_thread::get_id());
  epoll_event events[64];
  while (!server->stopping.load()) {
    int n = epoll_wait(epfd, events, 64, 500);
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == 0) {
        Accept();
        continue;
      }
      if (id == 1) {
        uint64_t v;
        ssize_t r = ::read(wakefd, &v, sizeof v);
        (void)r;
        DrainPosts();
        continue;
      }
      if (id == 2) {
        server->opts.on_poll();
        continue;
      }
      auto it = conns.find(id);
      if (it == conns.end()) continue;
      if (events[i].events & EPOLLOUT) {
        Flush(it->second);
        it = conns.find(id);
        if (it == conns.end()) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(it->second);
    }
    DrainPosts();  // what this thread posted to itself meanwhile (see `PostQueue::Post`)
  }
  while (!conns.empty()) CloseConn(conns.begin()->first);
}

void HttpServer::Impl::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(job_mu);
      job_cv.wait(l, [&] { return stopping.load() || !jobs.empty(); });
      if (stopping.load()) return;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    bool close = WantsClose(job.req);
    ExchangeImpl exchange(job.loop, job.conn, close);
    HttpResponse resp;
    handler(job.req, resp, exchange);
    if (!job.req.body_file.empty()) ::unlink(job.req.body_file.c_str());  // unless moved away
    if (exchange.streamed() || exchange.deferred()) continue;
    HttpIoLoop* loop = job.loop;
    uint64_t id = job.conn;
    loop->Post([loop, id, resp = std::move(resp), close]() mutable { loop->Respond(id, std::move(resp), close); });
  }
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

size_t HttpServer::connections() const { return impl_ ? impl_->open_conns.load() : 0; }

Status HttpServer::Start() {
  if (options_.raise_file_limit) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  if (options_.io_threads < 1) return InvalidArgument("io_threads: must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->opts = options_;
  impl->handler = handler_;
  impl->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (impl->listen_fd < 0) return Internal(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(impl->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  if (inet_pton(AF_INET, options_.host.c_str(), &addr.sin_addr) != 1) {
    ::close(impl->listen_fd);
    return InvalidArgument("address \"" + options_.host + "\" is not an IPv4 address");
  }
  if (::bind(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl->listen_fd, 1024) != 0) {
    std::string err = std::strerror(errno);
    ::close(impl->listen_fd);
    return Unavailable("listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + err);
  }
  socklen_t len = sizeof addr;
  getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  for (int i = 0; i < options_.io_threads; ++i) {
    auto loop = std::make_unique<HttpIoLoop>();
    loop->server = impl.get();
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    loop->posts->wakefd = loop->wakefd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 1;
    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev);
    if (i == 0) {
      ev.data.u64 = 0;
      epoll_ctl(loop->epfd, EPOLL_CTL_ADD, impl->listen_fd, &ev);
      if (options_.poll_fd >= 0 && options_.on_poll) {
        ev.data.u64 = 2;
        epoll_ctl(loop->epfd, EPOLL_CTL_ADD, options_.poll_fd, &ev);
      }
    }
    impl->loops.push_back(std::move(loop));
  }
  for (auto& loop : impl->loops) {
    HttpIoLoop* l = loop.get();
    l->thread = std::thread([l] { l->Run(); });
  }
  Impl* p = impl.get();
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    impl->workers.emplace_back([p] { p->WorkerLoop(); });
  }
  impl_ = std::move(impl);
  return OkStatus();
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->stopping.store(true);
  impl_->job_cv.notify_all();
  for (auto& loop : impl_->loops) loop->Post([] {});
  for (auto& w : impl_->workers) w.join();
  for (auto& loop : impl_->loops) loop->thread.join();
  for (const auto& job : impl_->jobs) {  // never handled: their spilled bodies go too
    if (!job.req.body_file.empty()) ::unlink(job.req.body_file.c_str());
  }
  // Posts after this are refused on every loop before any is destroyed: a dropped responder
  // answers (500) through a loop's queue as it goes.
  std::vector<std::function<void()>> dropped;
  for (auto& loop : impl_->loops) {
    std::lock_guard<std::mutex> l(loop->posts->mu);
    loop->posts->stopped = true;
    for (auto& fn : loop->posts->fns) dropped.push_back(std::move(fn));
    loop->posts->fns.clear();
  }
  dropped.clear();  // unlocked: may hold responders
  ::close(impl_->listen_fd);
  for (auto& loop : impl_->loops) {
    ::close(loop->epfd);
    ::close(loop->wakefd);
  }
  impl_.reset();
}

}  // namespace skiff::api
