#include "api/http_server.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "api/test_client.h"

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
