#include "authsvc/http_server.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

#include "authsvc/api.hpp"
#include "authsvc/metrics.hpp"
#include "authsvc/routes.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace sparrow::authsvc {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::shared_ptr<spdlog::logger> Log() {
  static auto log = common::Logger("authsvc");
  return log;
}

std::optional<std::uint64_t> ContentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  const std::string text = req.get_header_value("Content-Length");
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool IsChunked(const httplib::Request& req) {
  return req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
}

// A request has a body only with a Content-Length or chunked encoding (RFC 9112 6.3): without
// either, httplib's reader would wait for the connection to close (a POST with no body from
// curl -X POST).
bool HasBody(const httplib::Request& req) {
  if (IsChunked(req)) return true;
  const auto length = ContentLength(req);
  return length && *length > 0;
}

// The token of `Authorization: Bearer <token>` (scheme case-insensitive), else "".
std::string BearerToken(const httplib::Request& req) {
  const std::string value = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return {};
  }
  std::size_t start = kScheme.size();
  while (start < value.size() && value[start] == ' ') ++start;
  return value.substr(start);
}

// A read-only file shared by the content provider and its releaser.
struct OpenFile {
  int fd = -1;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

std::string MessageFor(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request";
    case 404:
      return "no such route";
    case 405:
      return "method not allowed";
    case 413:
      return "the body is too large";
    case 414:
      return "the URI is too long";
    default:
      return status >= 500 ? "internal error" : "request refused";
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(Api& api, AuthsvcMetrics& metrics, HttpServerOptions options)
      : api_(api), metrics_(metrics), options_(std::move(options)) {
    Configure();
  }
  ~Impl() { Stop(); }

  void Start() {
    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.bind);
      if (port_ < 0) throw common::ConfigError("--bind: cannot bind a port on " + options_.bind);
    } else {
      if (!server_.bind_to_port(options_.bind, options_.port)) {
        throw common::ConfigError("--port: cannot bind " + options_.bind + ":" +
                                  std::to_string(options_.port) + " (in use?)");
      }
      port_ = options_.port;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

  void Stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }

 private:
  // What reading a request body gave.
  struct BodyRead {
    bool complete = true;  // the whole body was read: the connection can be kept
    bool over_limit = false;
  };

  void Configure();
  void Dispatch(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader* reader);
  ApiResponse Route(const httplib::Request& req, const httplib::ContentReader* reader,
                    const RouteMatch& match, bool* close);
  ApiResponse Upload(const httplib::Request& req, const httplib::ContentReader* reader,
                     ApiRequest request, bool* close);
  BodyRead ReadBody(const httplib::Request& req, const httplib::ContentReader* reader,
                    std::size_t limit, std::string* out) const;
  BodyRead Drain(const httplib::Request& req, const httplib::ContentReader* reader) const {
    return ReadBody(req, reader, 0, nullptr);
  }
  void Write(ApiResponse response, httplib::Response& res) const;

  Api& api_;
  AuthsvcMetrics& metrics_;
  const HttpServerOptions options_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
};

void HttpServer::Impl::Configure() {
  const int workers = options_.workers;
  server_.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  server_.set_keep_alive_max_count(1000);
  server_.set_read_timeout(options_.read_timeout_s, 0);
  server_.set_write_timeout(options_.write_timeout_s, 0);
  // httplib refuses (and skips) a declared Content-Length beyond this by itself; every smaller
  // body reaches our readers, which apply the per-route limits.
  server_.set_payload_max_length(api_.options().max_file_bytes);

  // Bodies of GET/HEAD/OPTIONS are read by httplib into memory: allow small ones only.
  const std::size_t max_json = api_.options().max_json_bytes;
  server_.set_pre_routing_handler([max_json](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const auto length = ContentLength(req);
    if (!IsChunked(req) && (!length || *length <= max_json)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const ApiResponse refusal = ErrorResponse(413, "the body is too large");
    res.status = refusal.status;
    res.set_header("Connection", "close");
    res.set_content(refusal.json.dump(), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });

  // `Expect: 100-continue`: refuse a declared length over the route's limit before the body.
  const std::uint64_t max_file = api_.options().max_file_bytes;
  server_.set_expect_100_continue_handler([max_json, max_file](const httplib::Request& req,
                                                               httplib::Response& res) {
    const auto match = MatchRoute(req.method, req.path);
    const auto length = ContentLength(req);
    if (match.outcome != RouteMatch::Outcome::kFound || !length) return 100;
    const std::uint64_t limit =
        match.route->body == BodyKind::kStream ? max_file : static_cast<std::uint64_t>(max_json);
    if (*length <= limit) return 100;
    const ApiResponse refusal = ErrorResponse(413, "the body is too large");
    res.set_header("Connection", "close");
    res.set_content(refusal.json.dump(), "application/json");
    return 413;
  });

  // What httplib answers by itself (a malformed request line, an unknown method, a URI too
  // long) gets a JSON error too; our own answers already have a body and are left alone.
  server_.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty() || res.content_length_ > 0) return;
    const ApiResponse error = ErrorResponse(res.status, MessageFor(res.status));
    res.set_content(error.json.dump(), "application/json");
    metrics_.ObserveRequest("invalid", res.status, 0);
  });
  server_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        const ApiResponse error = ErrorResponse(500, "internal error");
        res.status = 500;
        res.set_content(error.json.dump(), "application/json");
      });

  // Every path of every method comes to Dispatch, which routes by itself (404 vs 405).
  auto with_reader = [this](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) { Dispatch(req, res, &reader); };
  auto without_reader = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res, nullptr);
  };
  server_.Get(".*", without_reader);
  server_.Options(".*", without_reader);
  server_.Post(".*", with_reader);
  server_.Put(".*", with_reader);
  server_.Patch(".*", with_reader);
  server_.Delete(".*", with_reader);
}

HttpServer::Impl::BodyRead HttpServer::Impl::ReadBody(const httplib::Request& req,
                                                      const httplib::ContentReader* reader,
                                                      std::size_t limit, std::string* out) const {
  BodyRead result;
  if (reader == nullptr) {  // httplib has read it (GET/OPTIONS, bounded by the pre-routing check)
    result.over_limit = req.body.size() > limit;
    if (out != nullptr && !result.over_limit) *out = req.body;
    return result;
  }
  if (!HasBody(req)) return result;
  std::size_t discarded = 0;
  result.complete = (*reader)([&](const char* data, std::size_t size) {
    if (out != nullptr && !result.over_limit && out->size() + size <= limit) {
      out->append(data, size);
      return true;
    }
    if (out != nullptr && !result.over_limit) {
      result.over_limit = true;
      out->clear();
    }
    discarded += size;
    return discarded <= options_.drain_bytes;
  });
  // httplib refused a declared length over payload_max_length without calling us.
  const auto length = ContentLength(req);
  if (!result.complete && length && *length > api_.options().max_file_bytes) {
    result.over_limit = true;
  }
  return result;
}

void HttpServer::Impl::Dispatch(const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader* reader) {
  const auto started = std::chrono::steady_clock::now();
  const RouteMatch match = MatchRoute(req.method, req.path);
  const std::string route = match.outcome == RouteMatch::Outcome::kFound
                                ? std::string(match.route->pattern)
                                : std::string("unmatched");
  bool close = false;
  ApiResponse response;
  try {
    response = Route(req, reader, match, &close);
  } catch (const std::exception& e) {  // boundary: one request fails, the service goes on
    Log()->error("request failed method={} route={} error={}", req.method, route, e.what());
    response = ErrorResponse(500, "internal error");
    close = true;  // the body may be half read
  }
  const int status = response.status;
  try {
    Write(std::move(response), res);
  } catch (const std::exception& e) {
    Log()->error("cannot write the answer route={} error={}", route, e.what());
    const ApiResponse error = ErrorResponse(500, "internal error");
    res.status = 500;
    res.set_content(error.json.dump(), "application/json");
  }
  if (close) res.set_header("Connection", "close");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.ObserveRequest(route, res.status, seconds);
  Log()->debug("request method={} route={} status={} ms={:.1f} address={}", req.method, route,
               status, seconds * 1000, req.remote_addr);
}

ApiResponse HttpServer::Impl::Route(const httplib::Request& req,
                                    const httplib::ContentReader* reader, const RouteMatch& match,
                                    bool* close) {
  if (match.outcome != RouteMatch::Outcome::kFound) {
    *close = !Drain(req, reader).complete;
    if (match.outcome == RouteMatch::Outcome::kNotFound) {
      return ErrorResponse(404, "no such route");
    }
    ApiResponse response = ErrorResponse(405, "method not allowed");
    response.headers.emplace_back("Allow", match.allow);
    return response;
  }

  ApiRequest request;
  request.method = req.method;
  request.params = match.params;
  for (const auto& [key, value] : req.params) request.query.emplace(key, value);  // first wins
  request.bearer = BearerToken(req);
  request.client_address = req.remote_addr;
  request.content_length = ContentLength(req);

  switch (match.route->body) {
    case BodyKind::kStream:
      return Upload(req, reader, std::move(request), close);
    case BodyKind::kJson: {
      const BodyRead read = ReadBody(req, reader, api_.options().max_json_bytes, &request.body);
      *close = !read.complete;
      if (read.over_limit) return ErrorResponse(413, "the JSON body is over 64 KiB");
      if (!read.complete) return ErrorResponse(400, "the body could not be read");
      break;
    }
    case BodyKind::kNone:
      *close = !Drain(req, reader).complete;
      break;
  }
  return api_.Handle(match.route->id, request);
}

ApiResponse HttpServer::Impl::Upload(const httplib::Request& req,
                                     const httplib::ContentReader* reader, ApiRequest request,
                                     bool* close) {
  Api::UploadStart start = api_.BeginUpload(request);
  if (start.refusal) {
    *close = !Drain(req, reader).complete;
    return std::move(*start.refusal);
  }
  UploadSession& session = *start.session;
  // The session is touched from httplib's read loop, on this thread: an exception from Append
  // (disk full) is kept until the loop has returned.
  std::exception_ptr failure;
  std::size_t discarded = 0;
  const auto receive = [&](const char* data, std::size_t size) {
    if (!session.too_large() && !failure) {
      try {
        if (session.Append(std::string_view(data, size))) return true;
      } catch (...) {  // rethrown below, outside httplib
        failure = std::current_exception();
        return false;
      }
    }
    discarded += size;
    return discarded <= options_.drain_bytes;
  };
  const bool complete = !HasBody(req) || (reader != nullptr && (*reader)(receive));
  if (failure) {
    *close = true;
    std::rethrow_exception(failure);
  }
  *close = !complete;
  if (!complete && !session.too_large()) {
    const auto length = ContentLength(req);
    if (length && *length > api_.options().max_file_bytes) {
      session.MarkTooLarge();
    } else {
      return ErrorResponse(400, "the body could not be read");  // the client went away
    }
  }
  return api_.FinishUpload(std::move(start.session));
}

void HttpServer::Impl::Write(ApiResponse response, httplib::Response& res) const {
  res.status = response.status;
  for (const auto& [name, value] : response.headers) res.set_header(name, value);
  res.set_header("Cache-Control", "no-store");
  if (response.file) {
    auto file = std::make_shared<OpenFile>();
    file->fd = ::open(response.file->path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (file->fd < 0 || ::fstat(file->fd, &st) != 0 ||
        static_cast<std::uint64_t>(st.st_size) != response.file->size) {
      throw common::Error("cannot open stored file " + response.file->path.filename().string());
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Disposition", "attachment");
    res.set_content_provider(
        response.file->size, "application/octet-stream",
        [file](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          char buffer[kReadChunk];
          const ssize_t n = ::pread(file->fd, buffer, std::min(length, sizeof buffer),
                                    static_cast<off_t>(offset));
          if (n <= 0) return false;
          return sink.write(buffer, static_cast<std::size_t>(n));
        },
        [file](bool) {});  // keeps the file open until httplib is done with the response
    return;
  }
  if (!response.json.is_null()) {
    res.set_content(response.json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
  } else if (!response.content_type.empty()) {
    res.set_content(response.text, response.content_type);
  }
}

HttpServer::HttpServer(Api& api, AuthsvcMetrics& metrics, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(api, metrics, std::move(options))) {}

HttpServer::~HttpServer() = default;

void HttpServer::Start() { impl_->Start(); }
void HttpServer::Stop() { impl_->Stop(); }
int HttpServer::port() const { return impl_->port(); }

}  // namespace sparrow::authsvc
