#include "api/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

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

}  // namespace
}  // namespace skiff::api
