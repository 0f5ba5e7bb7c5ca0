// A small HTTP/1.1 server: an epoll thread owns every socket (accepts, parses requests,
// writes responses), and a pool of worker threads runs the handlers, so a handler that waits on
// the store never stalls other connections. With `io_threads` > 1 there are several such
// threads, each owning its share of the connections; handlers that never block can run on them
// directly (`on_io_thread`). Keep-alive is supported; requests on one connection
// are answered in order (the next one is parsed once the previous response is done).
//
// A handler answers in one of two ways:
//  * fill `HttpResponse` and return (the common case), or
//  * call `HttpExchange::Stream()` for a chunked response that stays open (Kubernetes watches,
//    `logs -f`): the returned `HttpStream` can be written from any thread until the client goes
//    away or the stream is closed; `closed()` tells producers when to stop, or
//  * call `HttpExchange::Defer()` and answer later, from any thread, with the returned
//    `HttpResponder` (a proxy waiting on an upstream, a request held until a replica starts):
//    no worker thread waits meanwhile, so tens of thousands of requests can be pending at once.
//
// Thread-safety: `Start`/`Stop` from the owning thread; handlers run on worker threads, or on
// the I/O threads for requests `on_io_thread` claims (concurrently when `io_threads` > 1);
// `HttpStream` and `HttpResponder` methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace skiff::api {

struct HttpRequest {
  std::string method;   // "GET"
  std::string target;   // "/api/v1/pods?watch=true"
  std::string path;     // "/api/v1/pods", percent-decoded
  std::multimap<std::string, std::string> query;  // decoded; repeated keys kept
  std::map<std::string, std::string> headers;     // names lower-cased; repeats joined by ", "
  std::string body;
  // Set instead of `body` when `HttpServerOptions::body_to_file` spilled the body to disk: the
  // file that holds it, and its size. The handler may rename the file away (into a store on the
  // same filesystem); whatever is still at `body_file` when the handler returns is removed, so
  // a handler that defers must move it first.
  std::string body_file;
  int64_t body_file_size = 0;
  std::string peer;  // "127.0.0.1:54321"

  // The first value of `key`, or `fallback`.
  std::string Query(std::string_view key, std::string_view fallback = "") const;
  bool HasQuery(std::string_view key) const { return query.count(std::string(key)) > 0; }
  std::string Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Length is added
  std::string body;
  std::string content_type = "application/json";
  // Sent instead of `body` when set: `file_length` bytes (-1: to the end) of the file at
  // `body_file` from `file_offset`, read from disk by the I/O thread with sendfile(2) as the
  // socket takes them, so a large download never sits in memory. The file is opened when the
  // response is sent; if it is gone by then the client gets 404.
  std::string body_file;
  int64_t file_offset = 0;
  int64_t file_length = -1;
};

// Where a request body goes when it is spilled to disk (see `HttpServerOptions::body_to_file`).
struct BodySpill {
  std::string dir;    // the temporary file is created here (it must exist)
  int64_t limit = 0;  // bytes; a longer body gets 413 as soon as it crosses the limit
};

// An open chunked response.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Queues `data` as one chunk; false once the stream is closed (client gone or `Close`).
  virtual bool Write(std::string data) = 0;
  // Ends the response (zero-length chunk); the connection may then serve its next request.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // Runs `cb` once, on the connection's I/O thread, when the stream closes for any reason.
  virtual void OnClose(std::function<void()> cb) = 0;
};

// A response to be given later (see `HttpExchange::Defer`).
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  // Sends `resp` (the first call only). False when the client had already gone or the response
  // was already given; the response is then dropped.
  virtual bool Respond(HttpResponse resp) = 0;
  // True once the client's connection has closed (a held request need not be forwarded).
  virtual bool closed() const = 0;
};

class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  // Sends the status line and headers of a chunked response and returns its stream. After this
  // the handler's `HttpResponse` is ignored.
  virtual std::shared_ptr<HttpStream> Stream(int status, std::string content_type,
                                             std::vector<std::pair<std::string, std::string>>
                                                 headers = {}) = 0;
  // Answers later: the handler returns at once and its `HttpResponse` is ignored; the
  // connection waits (reading nothing further) until `Respond` is called. A responder dropped
  // without answering gets a 500, so a client is never left hanging.
  virtual std::shared_ptr<HttpResponder> Defer() = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&, HttpExchange&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port (see `port()`)
  int workers = 4;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 64 * 1024 * 1024;
  // Requests for which this returns true are handled on the I/O thread itself, skipping the
  // hand-off to a worker: only for handlers that never block (a proxy that defers at once, a
  // small model predicting in microseconds).
  // Called on the I/O thread.
  std::function<bool(const HttpRequest&)> on_io_thread = nullptr;
  // Called on the I/O thread with a request's head (method, path, query, headers; no body) when
  // it has a body: a `BodySpill` makes the I/O thread write the body, `Content-Length` or
  // `Transfer-Encoding: chunked`, chunk by chunk to a temporary file in `dir` as it arrives,
  // instead of collecting it in memory (`max_body_bytes` does not apply; `limit` does). The
  // handler then gets `HttpRequest::body_file`. A body over the limit gets 413 and the
  // connection closes (after the client has had the answer); a client that leaves mid-body
  // leaves no file behind. Must be cheap and must not block.
  std::function<std::optional<BodySpill>(const HttpRequest& head)> body_to_file = nullptr;
  // Raise the open-files soft limit to the hard limit at `Start` (each connection is a file).
  bool raise_file_limit = true;
  // Event loops, each on its own thread with its own epoll set. The first accepts and deals
  // connections out round-robin; a connection stays on its loop. With `on_io_thread` claiming
  // every request, a server answers on as many cores as it has loops with no thread hand-off
  // at all (the model server's mode); 1 keeps the control plane's single I/O thread.
  int io_threads = 1;
  // Another event source for the first I/O loop: whenever `poll_fd` (an epoll or timer fd) is
  // readable, that loop's thread calls `on_poll`. The serving gateway runs its proxy this way,
  // on the thread that reads the requests, so a proxied request never changes threads.
  int poll_fd = -1;
  std::function<void()> on_poll = nullptr;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O and worker threads.
  Status Start();
  // Closes the listener and every connection, and joins the threads. Idempotent.
  void Stop();
  int port() const { return port_; }
  // Open client connections now (thread-safe; for tests and metrics).
  size_t connections() const;

  struct Impl;

 private:
  HttpServerOptions options_;
  HttpHandler handler_;
  int port_ = 0;
  std::unique_ptr<Impl> impl_;
};

// "Not Found" for 404, ... ("Unknown" otherwise).
std::string_view HttpReason(int status);
// Percent-decoding ("a%2Fb+c" -> "a/b c" when `plus_is_space`).
std::string PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace skiff::api
