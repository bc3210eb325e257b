#include "authsvc/routes.hpp"

#include <gtest/gtest.h>

namespace sparrow::authsvc {
namespace {

using Outcome = RouteMatch::Outcome;

TEST(RoutesTest, EveryRouteOfTheTableIsFound) {
  const std::pair<const char*, const char*> calls[] = {{"POST", "/api/v1/register"},
                                                       {"POST", "/api/v1/login"},
                                                       {"POST", "/api/v1/logout"},
                                                       {"POST", "/api/v1/password"},
                                                       {"POST", "/api/v1/friends"},
                                                       {"GET", "/api/v1/friends"},
                                                       {"POST", "/api/v1/friends/bob/accept"},
                                                       {"DELETE", "/api/v1/friends/bob"},
                                                       {"GET", "/api/v1/relations"},
                                                       {"POST", "/api/v1/files"},
                                                       {"GET", "/api/v1/files/abc"},
                                                       {"GET", "/healthz"},
                                                       {"GET", "/metrics"}};
  for (const auto& [method, path] : calls) {
    const RouteMatch match = MatchRoute(method, path);
    ASSERT_EQ(match.outcome, Outcome::kFound) << method << " " << path;
    EXPECT_EQ(match.route->method, method);
  }
  EXPECT_EQ(AllRoutes().size(), 13u);
}

TEST(RoutesTest, PathParametersAreExtracted) {
  RouteMatch match = MatchRoute("POST", "/api/v1/friends/bob/accept");
  EXPECT_EQ(match.route->id, RouteId::kAcceptFriend);
  EXPECT_EQ(match.params, (std::map<std::string, std::string>{{"userId", "bob"}}));
  match = MatchRoute("GET", "/api/v1/files/x7");
  EXPECT_EQ(match.route->id, RouteId::kDownloadFile);
  EXPECT_EQ(match.params.at("fileId"), "x7");
  // Whatever the segment holds: validating it is the call's job.
  match = MatchRoute("DELETE", "/api/v1/friends/NOT VALID");
  EXPECT_EQ(match.params.at("userId"), "NOT VALID");
}

TEST(RoutesTest, UnknownPathsAreNotFound) {
  for (const char* path : {"/", "", "/api", "/api/v1", "/api/v1/", "/api/v1/register/",
                           "/api/v2/login", "/api/v1/friends//accept", "/api/v1/files/",
                           "/api/v1/friends/bob/accept/x", "/healthz/", "relations"}) {
    EXPECT_EQ(MatchRoute("GET", path).outcome, Outcome::kNotFound) << path;
    EXPECT_EQ(MatchRoute("POST", path).outcome, Outcome::kNotFound) << path;
  }
}

TEST(RoutesTest, AKnownPathWithTheWrongMethodIsMethodNotAllowed) {
  RouteMatch match = MatchRoute("GET", "/api/v1/login");
  EXPECT_EQ(match.outcome, Outcome::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "POST");
  match = MatchRoute("PUT", "/api/v1/friends");
  EXPECT_EQ(match.outcome, Outcome::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "POST, GET");
  EXPECT_EQ(MatchRoute("GET", "/api/v1/friends/bob").allow, "DELETE");
  EXPECT_EQ(MatchRoute("DELETE", "/api/v1/files/abc").allow, "GET");
}

TEST(RoutesTest, HeadIsMatchedAsGet) {
  EXPECT_EQ(MatchRoute("HEAD", "/healthz").outcome, Outcome::kFound);
  EXPECT_EQ(MatchRoute("HEAD", "/api/v1/register").outcome, Outcome::kMethodNotAllowed);
}

}  // namespace
}  // namespace sparrow::authsvc
