#include "authsvc/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace sparrow::authsvc {

AuthsvcMetrics::AuthsvcMetrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("sparrow_authsvc_requests_total")
                    .Help("HTTP requests answered, by route pattern and status")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("sparrow_authsvc_request_seconds")
                   .Help("HTTP request latency, by route pattern")
                   .Register(*registry_)),
      throttled_(prometheus::BuildCounter()
                     .Name("sparrow_authsvc_login_throttled_total")
                     .Help("Logins refused with 429, by scope (pair, address, account, busy)")
                     .Register(*registry_)),
      login_failures_(prometheus::BuildCounter()
                          .Name("sparrow_authsvc_login_failures_total")
                          .Help("Logins refused for a wrong password or an unknown user")
                          .Register(*registry_)
                          .Add({})),
      announce_failures_(prometheus::BuildCounter()
                             .Name("sparrow_authsvc_announce_failures_total")
                             .Help("MQTT announcements (relation, revoke) that were not sent")
                             .Register(*registry_)
                             .Add({})),
      hashes_in_progress_(prometheus::BuildGauge()
                              .Name("sparrow_authsvc_hashes_in_progress")
                              .Help("argon2id hashes running now")
                              .Register(*registry_)
                              .Add({})) {}

void AuthsvcMetrics::ObserveRequest(std::string_view route, int status, double seconds) {
  const std::string route_label(route);
  requests_.Add({{"route", route_label}, {"status", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  latency_.Add({{"route", route_label}}, kBuckets).Observe(seconds);
}

void AuthsvcMetrics::LoginThrottled(std::string_view scope) {
  throttled_.Add({{"scope", std::string(scope)}}).Increment();
}

std::string AuthsvcMetrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace sparrow::authsvc
