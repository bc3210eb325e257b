// The HTTP adapter of authsvc: cpp-httplib in front of Api. The only file that includes
// httplib. It routes (routes.hpp), reads bodies within their limits, streams uploads into an
// UploadSession and downloads from disk, turns exceptions into 500 "internal", writes JSON
// errors for what httplib refuses itself (malformed requests), and records the request metrics.
//
//   HttpServer server(api, metrics, {.bind = "127.0.0.1", .port = 8080, .workers = 16});
//   server.Start();            // binds (ConfigError naming --port), serves from a thread
//   ...
//   server.Stop();
//
// Limits: a JSON body over ApiOptions::max_json_bytes, and an upload over max_file_bytes, are
// answered 413. A body that was refused (whatever the reason) is still read and discarded up
// to `drain_bytes`, so that an ordinary client that sends its whole body before reading the
// answer sees the 413 instead of a reset connection; beyond that the connection is closed.
// A declared Content-Length over max_file_bytes is refused without storing anything (and
// with `Expect: 100-continue`, before the client sends the body).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace sparrow::authsvc {

class Api;
class AuthsvcMetrics;

struct HttpServerOptions {
  std::string bind = "127.0.0.1";
  int port = 0;      // 0: a free port (see HttpServer::port())
  int workers = 16;  // request threads; one keep-alive connection holds one while it is open
  std::size_t drain_bytes = 16u << 20;
  int keep_alive_timeout_s = 5;
  int read_timeout_s = 10;
  int write_timeout_s = 10;
};

// Thread-safe: Start and Stop from the owning thread; requests run on the worker pool.
class HttpServer {
 public:
  // `api` and `metrics` must outlive the server.
  HttpServer(Api& api, AuthsvcMetrics& metrics, HttpServerOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on a thread of its own. Throws common::ConfigError naming --port
  // (or --bind) when it cannot bind.
  void Start();
  // Stops accepting, finishes the requests in progress and joins the threads. Idempotent.
  void Stop();
  // The bound port (after Start).
  int port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sparrow::authsvc
