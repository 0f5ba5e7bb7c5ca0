#include "api/http_server.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "api/test_client.h"
#include "common/fs.h"

namespace skiff::api {
namespace {

using testing::Client;
using testing::Response;

TEST(HttpServerTest, AnswersRequestsOnAKeptAliveConnectionInOrder) {
  HttpServer server({"127.0.0.1", 0, 2}, [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.body = req.method + " " + req.path + " q=" + req.Query("q") + " body=" + req.body;
    resp.content_type = "text/plain";
  });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.connected());
  Response a = c.Do("GET", "/a%20b?q=x+y");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "GET /a b q=x y body=");
  Response b = c.Do("POST", "/p", "hello", "text/plain");
  EXPECT_EQ(b.body, "POST /p q= body=hello");
  // Two pipelined requests come back in order.
  ASSERT_TRUE(c.Send("GET", "/one"));
  ASSERT_TRUE(c.Send("GET", "/two"));
  Response r1, r2;
  ASSERT_TRUE(c.ReadHead(&r1));
  ASSERT_TRUE(c.ReadHead(&r2));
  EXPECT_EQ(r1.body, "GET /one q= body=");
  EXPECT_EQ(r2.body, "GET /two q= body=");
}

TEST(HttpServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  HttpServer server({"127.0.0.1", 0, 1}, [](const HttpRequest&, HttpResponse&, HttpExchange&) {});
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.SendRaw("NONSENSE\r\n\r\n"));
  Response r;
  ASSERT_TRUE(c.ReadHead(&r));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.headers["connection"], "close");
}

TEST(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  HttpServer server({"127.0.0.1", 0, 1}, [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.body = std::to_string(req.body.size());
  });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.SendRaw("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  Response cont;
  ASSERT_TRUE(c.ReadHead(&cont));
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(c.SendRaw("abc"));
  Response r;
  ASSERT_TRUE(c.ReadHead(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "3");
}

TEST(HttpServerTest, StreamsChunksFromAnotherThreadAndNoticesTheClientLeaving) {
  std::shared_ptr<HttpStream> stream;
  std::atomic<bool> closed_cb{false};
  std::mutex mu;
  HttpServer server({"127.0.0.1", 0, 1}, [&](const HttpRequest&, HttpResponse&, HttpExchange& ex) {
    auto s = ex.Stream(200, "application/json");
    s->OnClose([&] { closed_cb = true; });
    std::lock_guard<std::mutex> l(mu);
    stream = s;
  });
  ASSERT_TRUE(server.Start().ok());
  {
    Client c(server.port());
    ASSERT_TRUE(c.Send("GET", "/watch"));
    Response r;
    ASSERT_TRUE(c.ReadHead(&r));
    EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
    std::shared_ptr<HttpStream> s;
    for (int i = 0; i < 200 && !s; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      std::lock_guard<std::mutex> l(mu);
      s = stream;
    }
    ASSERT_TRUE(s);
    std::thread producer([s] {
      s->Write("one\n");
      s->Write("two\n");
    });
    producer.join();
    std::string chunk;
    ASSERT_TRUE(c.NextChunk(&chunk));
    EXPECT_EQ(chunk, "one\n");
    ASSERT_TRUE(c.NextChunk(&chunk));
    EXPECT_EQ(chunk, "two\n");
    EXPECT_FALSE(s->closed());
  }  // the client hangs up
  for (int i = 0; i < 400 && !closed_cb; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(closed_cb.load());
  std::lock_guard<std::mutex> l(mu);
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("late"));
}

TEST(HttpServerTest, ClosingAStreamEndsTheResponseAndTheConnectionServesTheNextRequest) {
  HttpServer server({"127.0.0.1", 0, 1}, [](const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
    if (req.path == "/stream") {
      auto s = ex.Stream(200, "text/plain");
      s->Write("a");
      s->Write("b");
      s->Close();
      return;
    }
    resp.body = "plain";
  });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  Response r = c.Do("GET", "/stream");
  EXPECT_EQ(r.body, "ab");
  Response p = c.Do("GET", "/next");
  EXPECT_EQ(p.body, "plain");
}

TEST(HttpServerTest, BindingAnAddressInUseFailsWithAClearError) {
  HttpServer a({"127.0.0.1", 0, 1}, [](const HttpRequest&, HttpResponse&, HttpExchange&) {});
  ASSERT_TRUE(a.Start().ok());
  HttpServer b({"127.0.0.1", a.port(), 1}, [](const HttpRequest&, HttpResponse&, HttpExchange&) {});
  Status s = b.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(std::to_string(a.port())), std::string::npos);
}

// Polls `cond` until it holds or `limit` passes (no fixed sleeps: the test waits only as long
// as the machine needs).
bool WaitFor(const std::function<bool()>& cond, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST(HttpServerTest, DeferredResponseIsSentLaterFromAnotherThreadAndTheConnectionStaysUsable) {
  std::mutex mu;
  std::shared_ptr<HttpResponder> held;
  HttpServer server({"127.0.0.1", 0, 1}, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
    if (req.path == "/later") {
      std::lock_guard<std::mutex> l(mu);
      held = ex.Defer();
      return;
    }
    resp.body = "now";
  });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  ASSERT_TRUE(c.Send("GET", "/later"));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return held != nullptr;
  }));
  // The only worker is free again: another connection is answered while the first waits.
  Client other(server.port());
  EXPECT_EQ(other.Do("GET", "/x").body, "now");
  std::thread([&] {
    HttpResponse r;
    r.status = 202;
    r.headers.push_back({"Retry-After", "1"});
    r.body = "done";
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(held->Respond(std::move(r)));
    EXPECT_FALSE(held->Respond(HttpResponse{}));  // once only
  }).join();
  Response r;
  ASSERT_TRUE(c.ReadHead(&r));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(c.Do("GET", "/next").body, "now");
}

TEST(HttpServerTest, HandlersChosenForTheIoThreadAnswerDirectlyOrDeferred) {
  std::mutex mu;
  std::shared_ptr<HttpResponder> held;
  HttpServerOptions opts{"127.0.0.1", 0, 1};
  opts.on_io_thread = [](const HttpRequest& req) { return req.path != "/worker"; };
  std::thread::id io_thread;
  HttpServer server(opts, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
    if (req.path == "/later") {
      std::lock_guard<std::mutex> l(mu);
      held = ex.Defer();
      return;
    }
    if (req.path == "/now") io_thread = std::this_thread::get_id();
    resp.body = (std::this_thread::get_id() == io_thread ? "io " : "worker ") + req.path;
  });
  ASSERT_TRUE(server.Start().ok());
  Client c(server.port());
  EXPECT_EQ(c.Do("GET", "/now").body, "io /now");
  EXPECT_EQ(c.Do("GET", "/worker").body, "worker /worker");
  ASSERT_TRUE(c.Send("GET", "/later"));
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> l(mu);
    return held != nullptr;
  }));
  HttpResponse r;
  r.body = "later";
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(held->Respond(std::move(r)));
  }
  Response got;
  ASSERT_TRUE(c.ReadHead(&got));
  EXPECT_EQ(got.body, "later");
  EXPECT_EQ(c.Do("GET", "/now").body, "io /now");
}

TEST(HttpServerTest, DeferredResponderReportsAClientThatLeftAndADroppedOneAnswers500) {
  std::mutex mu;
  std::vector<std::shared_ptr<HttpResponder>> held;
  HttpServer server({"127.0.0.1", 0, 1}, [&](const HttpRequest&, HttpResponse&, HttpExchange& ex) {
    std::lock_guard<std::mutex> l(mu);
    held.push_back(ex.Defer());
  });
  ASSERT_TRUE(server.Start().ok());
  auto count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return held.size();
  };
  {
    Client gone(server.port());
    ASSERT_TRUE(gone.Send("GET", "/a"));
    ASSERT_TRUE(WaitFor([&] { return count() == 1; }));
  }
  std::shared_ptr<HttpResponder> first;
  {
    std::lock_guard<std::mutex> l(mu);
    first = held[0];
  }
  ASSERT_TRUE(WaitFor([&] { return first->closed(); }));
  EXPECT_FALSE(first->Respond(HttpResponse{}));

  Client c(server.port());
  ASSERT_TRUE(c.Send("GET", "/b"));
  ASSERT_TRUE(WaitFor([&] { return count() == 2; }));
  {
    std::lock_guard<std::mutex> l(mu);
    held.clear();  // the handler's owner drops the request
  }
  first.reset();
  Response r;
  ASSERT_TRUE(c.ReadHead(&r));
  EXPECT_EQ(r.status, 500);
}

// The client side of the many-connections test, run in a child process so that its sockets do
// not count against the server's open-files limit. Talks to the parent through two pipes:
// reads the port, opens `n` connections and writes 'C'; on 'G' sends one request on each and
// writes 'S'; then reads every response and writes the number that were "200 ... held".
[[noreturn]] void ManyConnectionsClient(int from_parent, int to_parent, int n) {
  int port = 0;
  if (::read(from_parent, &port, sizeof port) != sizeof port) _exit(2);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(n));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) _exit(3);
    fds.push_back(fd);
  }
  char c = 'C';
  if (::write(to_parent, &c, 1) != 1 || ::read(from_parent, &c, 1) != 1 || c != 'G') _exit(4);
  const char req[] = "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int fd : fds) {
    if (::send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof req - 1)) _exit(5);
  }
  c = 'S';
  if (::write(to_parent, &c, 1) != 1) _exit(6);
  int ep = epoll_create1(0);
  for (size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  std::vector<std::string> got(fds.size());
  int done = 0, good = 0;
  epoll_event evs[256];
  while (done < n) {
    int k = epoll_wait(ep, evs, 256, 60000);
    if (k <= 0) break;
    for (int j = 0; j < k; ++j) {
      size_t i = evs[j].data.u64;
      char buf[512];
      ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
      if (r <= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
        ++done;
        continue;
      }
      got[i].append(buf, static_cast<size_t>(r));
      if (got[i].size() >= 4 && got[i].compare(got[i].size() - 4, 4, "held") == 0) {
        if (got[i].rfind("HTTP/1.1 200", 0) == 0) ++good;
        epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
        ++done;
      }
    }
  }
  if (::write(to_parent, &good, sizeof good) != sizeof good) _exit(7);
  _exit(0);
}

// A scratch directory for spilled bodies, removed at the end of the test.
class SpillDir {
 public:
  SpillDir() {
    char tmpl[] = "/tmp/skiff-spill-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~SpillDir() { (void)RemoveAll(path_); }
  const std::string& path() const { return path_; }
  size_t Files() const {
    size_t n = 0;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
      ::closedir(d);
    }
    return n;
  }
  // Waits (up to 5 s) until the directory is empty; the server removes files on its I/O thread.
  bool BecomesEmpty() const {
    for (int i = 0; i < 500 && Files() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Files() == 0;
  }

 private:
  std::string path_;
};

// A server whose POSTs to /spill are written to files in `dir` (at most `limit` bytes); the
// handler answers with what the file held, and whether the body came as a file.
struct SpillServer {
  SpillServer(const std::string& dir, int64_t limit, size_t in_memory_limit)
      : server(Options(dir, limit, in_memory_limit), [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
          resp.content_type = "text/plain";
          if (req.body_file.empty()) {
            resp.body = "memory:" + req.body;
            return;
          }
          auto data = ReadFile(req.body_file);
          resp.body = "file:" + std::to_string(req.body_file_size) + ":" + (data.ok() ? *data : "?");
        }) {}
  static HttpServerOptions Options(const std::string& dir, int64_t limit, size_t in_memory_limit) {
    HttpServerOptions o{"127.0.0.1", 0, 2};
    o.max_body_bytes = in_memory_limit;
    o.body_to_file = [dir, limit](const HttpRequest& head) -> std::optional<BodySpill> {
      if (head.path != "/spill") return std::nullopt;
      return BodySpill{dir, limit};
    };
    return o;
  }
  HttpServer server;
};

TEST(HttpServerTest, SpilledBodiesArriveAsFilesWhetherSizedOrChunkedAndAreRemovedAfterTheHandler) {
  SpillDir dir;
  // The in-memory limit is 16 bytes; spilled bodies may be far longer.
  SpillServer s(dir.path(), 1 << 20, 16);
  ASSERT_TRUE(s.server.Start().ok());
  testing::Client c(s.server.port());
  std::string body(100000, 'x');
  for (size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  Response r = c.Do("POST", "/spill", body, "application/octet-stream");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == "file:100000:" + body) << r.body.size();
  // Chunked, sent in pieces that split chunk-size lines and CRLFs, with an extension and a
  // trailer; then a pipelined request on the same connection.
  ASSERT_TRUE(c.SendRaw("POST /spill HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r"));
  ASSERT_TRUE(c.SendRaw("\nhello\r\n1"));
  ASSERT_TRUE(c.SendRaw("0\r\n0123456789abcdef\r"));
  ASSERT_TRUE(c.SendRaw("\n0\r\nX-Trailer: t\r\n\r\nGET /other HTTP/1.1\r\nHost: h\r\n\r\n"));
  Response chunked, next;
  ASSERT_TRUE(c.ReadHead(&chunked));
  EXPECT_EQ(chunked.status, 200);
  EXPECT_EQ(chunked.body, "file:21:hello0123456789abcdef");
  ASSERT_TRUE(c.ReadHead(&next));
  EXPECT_EQ(next.body, "memory:");
  // Other paths keep the in-memory path and its limit.
  Response big = c.Do("POST", "/other", std::string(17, 'y'), "text/plain");
  EXPECT_EQ(big.status, 413);
  EXPECT_TRUE(dir.BecomesEmpty());
}

TEST(HttpServerTest, SpilledBodyOverTheLimitGets413AndTheConnectionClosesLeavingNoFile) {
  SpillDir dir;
  SpillServer s(dir.path(), 1000, 1 << 20);
  ASSERT_TRUE(s.server.Start().ok());
  {
    // A declared length over the limit is refused before any of the body is read.
    testing::Client c(s.server.port());
    ASSERT_TRUE(c.SendRaw("POST /spill HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n"));
    Response r;
    ASSERT_TRUE(c.ReadHead(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.headers["connection"], "close");
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    // A chunked body is refused as soon as it crosses the limit, while the client still sends;
    // the client reads the answer (not a reset), and the partial file is gone.
    testing::Client c(s.server.port());
    ASSERT_TRUE(c.SendRaw("POST /spill HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
    ASSERT_TRUE(c.SendRaw("258\r\n" + std::string(600, 'a') + "\r\n"));
    ASSERT_TRUE(c.SendRaw("258\r\n" + std::string(600, 'b') + "\r\n"));
    c.SendRaw("258\r\n" + std::string(600, 'c') + "\r\n");  // may find the server gone
    Response r;
    ASSERT_TRUE(c.ReadHead(&r));
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("over the limit of 1000"), std::string::npos) << r.body;
    EXPECT_TRUE(c.ClosedByServer());
  }
  EXPECT_TRUE(dir.BecomesEmpty());
}

TEST(HttpServerTest, ClientLeavingMidBodyLeavesNoSpilledFile) {
  SpillDir dir;
  std::atomic<int> handled{0};
  HttpServerOptions o = SpillServer::Options(dir.path(), 1 << 20, 1 << 20);
  HttpServer server(o, [&](const HttpRequest&, HttpResponse&, HttpExchange&) { handled++; });
  ASSERT_TRUE(server.Start().ok());
  {
    testing::Client c(server.port());
    ASSERT_TRUE(c.SendRaw("POST /spill HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" + std::string(3000, 'z')));
    // The partial body is on disk while the client is connected...
    for (int i = 0; i < 500 && dir.Files() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(dir.Files(), 1u);
  }
  // ...and gone once it hangs up, without the handler having run.
  EXPECT_TRUE(dir.BecomesEmpty());
  EXPECT_EQ(handled.load(), 0);
}

TEST(HttpServerTest, FileResponsesAreSentFromDiskWholeOrInPartAndAMissingFileIs404) {
  SpillDir dir;
  std::string path = dir.path() + "/blob";
  std::string content;
  for (int i = 0; i < 300000; ++i) content.push_back(static_cast<char>('0' + i % 10));
  ASSERT_TRUE(WriteFile(path, content).ok());
  HttpServer server({"127.0.0.1", 0, 2}, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.content_type = "application/octet-stream";
    resp.body_file = req.path == "/missing" ? dir.path() + "/nope" : path;
    if (req.path == "/part") {
      resp.status = 206;
      resp.file_offset = 1000;
      resp.file_length = 25;
    }
  });
  ASSERT_TRUE(server.Start().ok());
  testing::Client c(server.port());
  // Pipelined: the second answer must wait until the whole file has gone out.
  ASSERT_TRUE(c.Send("GET", "/whole"));
  ASSERT_TRUE(c.Send("GET", "/part"));
  ASSERT_TRUE(c.Send("GET", "/missing"));
  Response whole, part, missing;
  ASSERT_TRUE(c.ReadHead(&whole));
  ASSERT_TRUE(c.ReadHead(&part));
  ASSERT_TRUE(c.ReadHead(&missing));
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.headers["content-length"], "300000");
  EXPECT_TRUE(whole.body == content);
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, content.substr(1000, 25));
  EXPECT_EQ(missing.status, 404);
}

TEST(HttpServerTest, ClientStreamsFilesUpAndDownAndLeavesNoPartialDownload) {
  SpillDir dir;
  std::string content;
  for (int i = 0; i < 3 * 1024 * 1024; ++i) content.push_back(static_cast<char>(i * 7 % 251));
  std::string src = dir.path() + "/src.bin";
  ASSERT_TRUE(WriteFile(src, content).ok());
  SpillDir spill;
  HttpServerOptions o = SpillServer::Options(spill.path(), 8 << 20, 1024);
  std::mutex mu;
  std::string received;
  HttpServer server(o, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    if (req.path == "/spill") {
      auto data = ReadFile(req.body_file);
      std::lock_guard<std::mutex> l(mu);
      received = data.ok() ? *data : "";
      resp.status = 201;
      return;
    }
    if (req.path == "/missing") {
      resp.status = 404;
      resp.body = "{\"message\": \"no such artifact\"}";
      return;
    }
    resp.body_file = src;
  });
  ASSERT_TRUE(server.Start().ok());
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(client.ok());
  auto up = client->UploadFile("POST", "/spill", src);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->status, 201);
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_TRUE(received == content) << received.size();
  }
  std::string out = dir.path() + "/out.bin";
  auto down = client->Download("/file", out);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->status, 200);
  auto got = ReadFile(out);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == content) << got->size();
  EXPECT_FALSE(PathExists(out + ".part"));
  // An error answer comes back in memory and writes no file.
  std::string none = dir.path() + "/none.bin";
  auto missing = client->Download("/missing", none);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("no such artifact"), std::string::npos);
  EXPECT_FALSE(PathExists(none));
  EXPECT_FALSE(PathExists(none + ".part"));
  // A missing local file is an error before anything is sent.
  EXPECT_EQ(client->UploadFile("POST", "/spill", dir.path() + "/nope").status().code(), StatusCode::kNotFound);
}

TEST(HttpServerTest, ClientDownloadCutShortLeavesNoFile) {
  // A peer that promises 100 bytes, sends 10 and hangs up.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread peer([lfd] {
    int c = ::accept(lfd, nullptr, nullptr);
    char buf[4096];
    (void)::recv(c, buf, sizeof buf, 0);
    std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
    (void)::send(c, r.data(), r.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  SpillDir dir;
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  ASSERT_TRUE(client.ok());
  std::string out = dir.path() + "/out.bin";
  auto r = client->Download("/x", out);
  peer.join();
  ::close(lfd);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("after 10 of 100 bytes"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(PathExists(out));
  EXPECT_FALSE(PathExists(out + ".part"));
}

TEST(HttpServerTest, HoldsTenThousandIdleConnectionsThenTenThousandDeferredRequestsAtOnce) {
  const int n = 10000;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max < static_cast<rlim_t>(n + 100)) GTEST_SKIP() << "open-files hard limit " << rl.rlim_max;
  int down[2], up[2];
  ASSERT_EQ(::pipe(down), 0);
  ASSERT_EQ(::pipe(up), 0);
  // Forked before the server starts its threads, so the child is a plain single-threaded process.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(down[1]);
    ::close(up[0]);
    ManyConnectionsClient(down[0], up[1], n);
  }
  ::close(down[0]);
  ::close(up[1]);

  std::mutex mu;
  std::vector<std::shared_ptr<HttpResponder>> held;  // GUARDED_BY(mu)
  HttpServer server({"127.0.0.1", 0, 2}, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
    if (req.path == "/hold") {
      auto r = ex.Defer();
      std::lock_guard<std::mutex> l(mu);
      held.push_back(std::move(r));
      return;
    }
    resp.body = "pong";
  });
  ASSERT_TRUE(server.Start().ok());
  int port = server.port();
  ASSERT_EQ(::write(down[1], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  char c = 0;
  ASSERT_EQ(::read(up[0], &c, 1), 1);
  ASSERT_EQ(c, 'C');
  ASSERT_TRUE(WaitFor([&] { return server.connections() >= static_cast<size_t>(n); }))
      << server.connections() << " connections";
  {
    // With 10,000 idle connections open, a new one is served at once.
    Client probe(server.port());
    EXPECT_EQ(probe.Do("GET", "/ping").body, "pong");
  }
  c = 'G';
  ASSERT_EQ(::write(down[1], &c, 1), 1);
  ASSERT_EQ(::read(up[0], &c, 1), 1);
  auto held_count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return held.size();
  };
  ASSERT_TRUE(WaitFor([&] { return held_count() == static_cast<size_t>(n); })) << held_count() << " held";
  {
    // Two workers, 10,000 requests held: the workers are free, so this one is answered too.
    Client probe(server.port());
    EXPECT_EQ(probe.Do("GET", "/ping").body, "pong");
  }
  std::vector<std::shared_ptr<HttpResponder>> all;
  {
    std::lock_guard<std::mutex> l(mu);
    all.swap(held);
  }
  std::thread answerer([&all] {
    for (auto& r : all) {
      HttpResponse resp;
      resp.content_type = "text/plain";
      resp.body = "held";
      r->Respond(std::move(resp));
    }
  });
  answerer.join();
  int good = 0;
  ASSERT_EQ(::read(up[0], &good, sizeof good), static_cast<ssize_t>(sizeof good));
  EXPECT_EQ(good, n);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  ::close(down[1]);
  ::close(up[0]);
}

// ---- several I/O loops (`io_threads`), every request answered on the loop that read it ----

// A handler that answers on the I/O thread and names it, so tests can see which loop served.
std::string ThreadName() {
  std::ostringstream os;
  os << std::this_thread::get_id();
  return os.str();
}

TEST(HttpServerIoLoopsTest, ConnectionsAreDealtRoundRobinAndEachStaysOnItsLoop) {
  HttpServerOptions opts{"127.0.0.1", 0, 1};
  opts.io_threads = 3;
  opts.on_io_thread = [](const HttpRequest&) { return true; };
  HttpServer server(opts, [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.content_type = "text/plain";
    resp.body = ThreadName() + " " + req.path;
  });
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Client>(server.port()));
  std::vector<std::string> thread_of(6);
  std::set<std::string> threads;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 6; ++i) {
      Response r = clients[i]->Do("GET", "/c" + std::to_string(i));
      ASSERT_EQ(r.status, 200);
      std::string t = r.body.substr(0, r.body.find(' '));
      EXPECT_EQ(r.body.substr(r.body.find(' ') + 1), "/c" + std::to_string(i));
      if (round == 0) thread_of[i] = t;
      EXPECT_EQ(t, thread_of[i]) << "connection " << i << " moved to another loop";
      threads.insert(t);
    }
  }
  // Six connections over three loops: two each, so three distinct threads answered, and
  // connections i and i+3 share one.
  EXPECT_EQ(threads.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(thread_of[i], thread_of[i + 3]);
  EXPECT_EQ(server.connections(), 6u);
  clients.clear();
  for (int i = 0; i < 200 && server.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server.connections(), 0u);
}

TEST(HttpServerIoLoopsTest, PipelinedRequestsLargeBodiesAndLargeResponsesOnEveryLoop) {
  HttpServerOptions opts{"127.0.0.1", 0, 1};
  opts.io_threads = 2;
  opts.on_io_thread = [](const HttpRequest&) { return true; };
  HttpServer server(opts, [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.content_type = "text/plain";
    if (req.path == "/echo") {
      // Reversed, so a body that came back unread could not pass.
      resp.body.assign(req.body.rbegin(), req.body.rend());
      return;
    }
    if (req.path == "/big") {
      size_t n = std::stoul(req.Query("n"));
      resp.body.resize(n);
      for (size_t i = 0; i < n; ++i) resp.body[i] = static_cast<char>('a' + i % 26);
      return;
    }
    resp.body = req.path;
  });
  ASSERT_TRUE(server.Start().ok());
  for (int conn = 0; conn < 2; ++conn) {  // one connection per loop
    Client c(server.port());
    ASSERT_TRUE(c.connected());
    // 50 requests in one write: answered in order.
    std::string batch;
    for (int i = 0; i < 50; ++i) {
      batch += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: h\r\n\r\n";
    }
    ASSERT_TRUE(c.SendRaw(batch));
    for (int i = 0; i < 50; ++i) {
      Response r;
      ASSERT_TRUE(c.ReadHead(&r)) << i;
      EXPECT_EQ(r.body, "/p" + std::to_string(i));
    }
    // A 5 MB body (many reads) and a 16 MB response (many writes, EPOLLOUT).
    std::string body(5 << 20, 'x');
    for (size_t i = 0; i < body.size(); i += 4097) body[i] = static_cast<char>('0' + i % 10);
    Response e = c.Do("POST", "/echo", body, "text/plain");
    ASSERT_EQ(e.status, 200);
    ASSERT_EQ(e.body.size(), body.size());
    EXPECT_TRUE(std::equal(e.body.begin(), e.body.end(), body.rbegin()));
    Response big = c.Do("GET", "/big?n=16777216");
    ASSERT_EQ(big.body.size(), 16777216u);
    std::string tail;
    for (size_t i = 16777216 - 3; i < 16777216; ++i) tail += static_cast<char>('a' + i % 26);
    EXPECT_EQ(big.body.substr(16777216 - 3), tail);
    // And the connection is still usable.
    EXPECT_EQ(c.Do("GET", "/after").body, "/after");
  }
}

TEST(HttpServerIoLoopsTest, ConcurrentClientsGetTheirOwnAnswers) {
  HttpServerOptions opts{"127.0.0.1", 0, 1};
  opts.io_threads = 4;
  opts.on_io_thread = [](const HttpRequest&) { return true; };
  HttpServer server(opts, [](const HttpRequest& req, HttpResponse& resp, HttpExchange&) {
    resp.content_type = "text/plain";
    resp.body = req.body + "@" + req.path;
  });
  ASSERT_TRUE(server.Start().ok());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c(server.port());
      for (int i = 0; i < 200; ++i) {
        std::string id = std::to_string(t) + "." + std::to_string(i);
        // Two at a time, pipelined.
        if (!c.Send("POST", "/a" + id, "x" + id, "text/plain") ||
            !c.Send("POST", "/b" + id, "y" + id, "text/plain")) {
          return;
        }
        Response a, b;
        if (!c.ReadHead(&a) || !c.ReadHead(&b)) return;
        if (a.body == "x" + id + "@/a" + id && b.body == "y" + id + "@/b" + id) good++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 8 * 200);
}

TEST(HttpServerIoLoopsTest, DeferStreamAndWorkerRequestsReturnToTheirOwnLoop) {
  HttpServerOptions opts{"127.0.0.1", 0, 2};
  opts.io_threads = 3;
  opts.on_io_thread = [](const HttpRequest& req) { return req.path != "/worker"; };
  std::mutex mu;
  std::vector<std::thread> answerers;
  HttpServer server(opts, [&](const HttpRequest& req, HttpResponse& resp, HttpExchange& ex) {
    resp.content_type = "text/plain";
    if (req.path == "/defer") {
      std::shared_ptr<HttpResponder> r = ex.Defer();
      std::string tag = req.Query("tag");
      std::lock_guard<std::mutex> l(mu);
      answerers.emplace_back([r, tag] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        HttpResponse out;
        out.content_type = "text/plain";
        out.body = "deferred " + tag;
        r->Respond(std::move(out));
      });
      return;
    }
    if (req.path == "/stream") {
      std::shared_ptr<HttpStream> s = ex.Stream(200, "text/plain");
      std::string tag = req.Query("tag");
      std::lock_guard<std::mutex> l(mu);
      answerers.emplace_back([s, tag] {
        s->Write("chunk1 " + tag + ";");
        s->Write("chunk2 " + tag);
        s->Close();
      });
      return;
    }
    resp.body = req.path + " " + req.Query("tag");
  });
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(std::make_unique<Client>(server.port()));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 6; ++i) {
      std::string tag = std::to_string(i) + "-" + std::to_string(round);
      Client& c = *clients[i];
      EXPECT_EQ(c.Do("GET", "/defer?tag=" + tag).body, "deferred " + tag);
      EXPECT_EQ(c.Do("GET", "/stream?tag=" + tag).body, "chunk1 " + tag + ";chunk2 " + tag);
      EXPECT_EQ(c.Do("GET", "/worker?tag=" + tag).body, "/worker " + tag);
      EXPECT_EQ(c.Do("GET", "/plain?tag=" + tag).body, "/plain " + tag);
    }
  }
  server.Stop();
  std::lock_guard<std::mutex> l(mu);
  for (auto& t : answerers) t.join();
}

TEST(HttpServerIoLoopsTest, ZeroIoThreadsIsRejected) {
  HttpServerOptions opts{"127.0.0.1", 0, 1};
  opts.io_threads = 0;
  HttpServer server(opts, [](const HttpRequest&, HttpResponse&, HttpExchange&) {});
  Status s = server.Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("io_threads"), std::string::npos);
}

}  // namespace
}  // namespace skiff::api
