// authsvc's Prometheus metrics (served by GET /metrics):
//   sparrow_authsvc_requests_total{route,status}   requests answered; route is the route's
//                                                  pattern ("/api/v1/friends/{userId}"),
//                                                  "unmatched" or "invalid", never an id
//   sparrow_authsvc_request_seconds{route}         latency histogram
//   sparrow_authsvc_hashes_in_progress             argon2id hashes running now
//   sparrow_authsvc_login_failures_total           wrong password or unknown user
//   sparrow_authsvc_login_throttled_total{scope}   refused by the rate limiter (pair, address,
//                                                  account) or by the hashing bound (busy)
//   sparrow_authsvc_announce_failures_total        MQTT announcements that could not be sent
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

namespace sparrow::authsvc {

// Thread-safe (prometheus-cpp families lock internally).
class AuthsvcMetrics {
 public:
  explicit AuthsvcMetrics(std::shared_ptr<prometheus::Registry> registry);

  void ObserveRequest(std::string_view route, int status, double seconds);
  void LoginFailed() { login_failures_.Increment(); }
  void LoginThrottled(std::string_view scope);
  void AnnounceFailed() { announce_failures_.Increment(); }
  prometheus::Gauge& hashes_in_progress() { return hashes_in_progress_; }

  // The whole registry in the text format 0.0.4.
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& throttled_;
  prometheus::Counter& login_failures_;
  prometheus::Counter& announce_failures_;
  prometheus::Gauge& hashes_in_progress_;
};

}  // namespace sparrow::authsvc
