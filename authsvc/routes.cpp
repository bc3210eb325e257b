#include "authsvc/routes.hpp"

#include <array>
#include <vector>

namespace sparrow::authsvc {
namespace {

constexpr std::array kRoutes{
    Route{"POST", "/api/v1/register", RouteId::kRegister, BodyKind::kJson},
    Route{"POST", "/api/v1/login", RouteId::kLogin, BodyKind::kJson},
    Route{"POST", "/api/v1/logout", RouteId::kLogout, BodyKind::kNone},
    Route{"POST", "/api/v1/password", RouteId::kPassword, BodyKind::kJson},
    Route{"POST", "/api/v1/friends", RouteId::kRequestFriend, BodyKind::kJson},
    Route{"GET", "/api/v1/friends", RouteId::kListFriends, BodyKind::kNone},
    Route{"POST", "/api/v1/friends/{userId}/accept", RouteId::kAcceptFriend, BodyKind::kNone},
    Route{"DELETE", "/api/v1/friends/{userId}", RouteId::kDeleteFriend, BodyKind::kNone},
    Route{"GET", "/api/v1/relations", RouteId::kRelations, BodyKind::kNone},
    Route{"POST", "/api/v1/files", RouteId::kUploadFile, BodyKind::kStream},
    Route{"GET", "/api/v1/files/{fileId}", RouteId::kDownloadFile, BodyKind::kNone},
    Route{"GET", "/healthz", RouteId::kHealth, BodyKind::kNone},
    Route{"GET", "/metrics", RouteId::kMetrics, BodyKind::kNone},
};

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  // "/a/b" -> {"a", "b"}; "/a/" -> {"a", ""} (an empty segment never matches a parameter).
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool Matches(const Route& route, const std::vector<std::string_view>& segments,
             std::map<std::string, std::string>* params) {
  const auto pattern = Segments(route.pattern);
  if (pattern.size() != segments.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (segments[i].empty()) return false;
      if (params != nullptr) {
        (*params)[std::string(p.substr(1, p.size() - 2))] = std::string(segments[i]);
      }
    } else if (p != segments[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::span<const Route> AllRoutes() { return kRoutes; }

RouteMatch MatchRoute(std::string_view method, std::string_view path) {
  if (method == "HEAD") method = "GET";
  const auto segments = Segments(path);
  RouteMatch match;
  for (const Route& route : kRoutes) {
    if (!Matches(route, segments, nullptr)) continue;
    if (route.method == method) {
      match.outcome = RouteMatch::Outcome::kFound;
      match.route = &route;
      match.params.clear();
      Matches(route, segments, &match.params);
      match.allow.clear();
      return match;
    }
    match.outcome = RouteMatch::Outcome::kMethodNotAllowed;
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += route.method;
  }
  return match;
}

}  // namespace sparrow::authsvc
