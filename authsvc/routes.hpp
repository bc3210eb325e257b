// The REST routes of authsvc (authsvc/README.md) and how a request's method and path select
// one. Plain data and a pure function, so routing is unit-tested without HTTP.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

namespace sparrow::authsvc {

enum class RouteId {
  kRegister,       // POST   /api/v1/register
  kLogin,          // POST   /api/v1/login
  kLogout,         // POST   /api/v1/logout              (extension)
  kPassword,       // POST   /api/v1/password            (extension)
  kRequestFriend,  // POST   /api/v1/friends
  kListFriends,    // GET    /api/v1/friends
  kAcceptFriend,   // POST   /api/v1/friends/{userId}/accept
  kDeleteFriend,   // DELETE /api/v1/friends/{userId}
  kRelations,      // GET    /api/v1/relations
  kUploadFile,     // POST   /api/v1/files?to={userId}   (raw body, streamed)
  kDownloadFile,   // GET    /api/v1/files/{fileId}
  kHealth,         // GET    /healthz
  kMetrics,        // GET    /metrics
};

enum class BodyKind {
  kNone,    // no body expected (any sent is read and ignored)
  kJson,    // a JSON object, at most the JSON limit (64 KiB)
  kStream,  // raw bytes, streamed (file upload)
};

struct Route {
  std::string_view method;
  std::string_view pattern;  // `{name}` matches one non-empty path segment
  RouteId id;
  BodyKind body;
};

// Every route, in the order of the README.
std::span<const Route> AllRoutes();

struct RouteMatch {
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
  Outcome outcome = Outcome::kNotFound;
  const Route* route = nullptr;               // kFound only
  std::map<std::string, std::string> params;  // kFound: {name} -> segment text
  std::string allow;                          // kMethodNotAllowed: "GET, POST"
};

// Selects the route for `method` and `path` (already percent-decoded, without the query).
// HEAD is matched as GET. A path no route has is kNotFound; a path some route has, but not
// with this method, is kMethodNotAllowed. Pure, thread-safe.
RouteMatch MatchRoute(std::string_view method, std::string_view path);

}  // namespace sparrow::authsvc
