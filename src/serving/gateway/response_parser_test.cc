#include "serving/gateway/response_parser.h"

#include <gtest/gtest.h>

namespace skiff::serving {
namespace {

using State = ResponseParser::State;

// Feeds `text` one byte at a time (the worst split a socket can produce).
State FeedBytewise(ResponseParser& p, const std::string& text) {
  State s = State::kIncomplete;
  for (char c : text) {
    s = p.Feed(std::string_view(&c, 1));
    if (s != State::kIncomplete) break;
  }
  return s;
}

TEST(ResponseParserTest, ContentLengthBodyInPiecesAndTheConnectionIsReusable) {
  ResponseParser p;
  p.Reset();
  EXPECT_EQ(FeedBytewise(p, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"),
            State::kComplete);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.headers().at("content-type"), "application/json");
  EXPECT_TRUE(p.reusable());
  EXPECT_EQ(p.TakeBody(), "{\"a\":1}");
}

TEST(ResponseParserTest, ChunkedBodyIsDechunkedWithExtensionsAndTrailers) {
  ResponseParser p;
  p.Reset();
  std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n";
  EXPECT_EQ(FeedBytewise(p, text), State::kComplete);
  EXPECT_EQ(p.TakeBody(), "Wikipedia in\r\n\r\nchunks.");
  EXPECT_TRUE(p.reusable());

  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.TakeBody(), "abc");
}

TEST(ResponseParserTest, MalformedChunksAndTruncatedBodiesAreBad) {
  ResponseParser p;
  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), State::kBad);
  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n"), State::kBad);
  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), State::kIncomplete);
  EXPECT_EQ(p.Feed("", /*eof=*/true), State::kBad);
  p.Reset();
  EXPECT_EQ(p.Feed("garbage\r\n\r\n"), State::kBad);
  p.Reset();
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.Feed("", /*eof=*/true), State::kBad);  // closed before any byte: a stale keep-alive
  EXPECT_FALSE(p.started());
}

TEST(ResponseParserTest, BodyUntilCloseInterimResponsesAndBodilessStatuses) {
  ResponseParser p;
  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nall of it"), State::kIncomplete);
  EXPECT_EQ(p.Feed(" until close", /*eof=*/true), State::kComplete);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.TakeBody(), "all of it until close");
  EXPECT_FALSE(p.reusable());

  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 204 No Content\r\n\r\n"), State::kComplete);
  EXPECT_TRUE(p.reusable());
  p.Reset(/*head_request=*/true);
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), State::kComplete);
  EXPECT_EQ(p.TakeBody(), "");

  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"),
            State::kComplete);
  EXPECT_FALSE(p.reusable());
  p.Reset();
  EXPECT_EQ(p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1"), State::kComplete);
  EXPECT_FALSE(p.reusable());  // bytes beyond the response: do not trust the connection
}

}  // namespace
}  // namespace skiff::serving
