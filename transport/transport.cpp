#include "transport/transport.hpp"

#include <mosquitto.h>

#include <string>

#include "common/error.hpp"
#include "transport/mosquitto_transport.hpp"
#include "transport/paho_transport.hpp"

namespace sparrow::transport {
namespace {

void Require(bool ok, const std::string& what) {
  if (!ok) throw common::ConfigError("transport: " + what);
}

}  // namespace

std::string_view ToString(PublishResult result) {
  switch (result) {
    case PublishResult::kQueued:
      return "queued";
    case PublishResult::kNotConnected:
      return "not_connected";
    case PublishResult::kBackpressure:
      return "backpressure";
    case PublishResult::kInvalid:
      return "invalid";
  }
  return "unknown";
}

bool IsValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 65535) return false;
  if (topic.find_first_of("+#") != std::string_view::npos) return false;
  // libmosquitto's MQTT rules: well-formed UTF-8, no U+0000, no control characters.
  return mosquitto_validate_utf8(topic.data(), static_cast<int>(topic.size())) == MOSQ_ERR_SUCCESS;
}

void ValidateOptions(const Options& o) {
  Require(!o.host.empty(), "host: must not be empty");
  Require(o.port > 0 && o.port <= 65535, "port: must be 1..65535, got " + std::to_string(o.port));
  Require(
      o.protocol_version == 4 || o.protocol_version == 5,
      "protocol_version: must be 4 (MQTT 3.1.1) or 5, got " + std::to_string(o.protocol_version));
  Require(o.clean_start || !o.client_id.empty(), "client_id: required when clean_start is false");
  Require(o.session_expiry_s == 0 || o.protocol_version == 5,
          "session_expiry_s: MQTT 5 only (protocol_version 5)");
  Require(o.keepalive_s == 0 || (o.keepalive_s >= 5 && o.keepalive_s <= 65535),
          "keepalive_s: must be 0 or 5..65535, got " + std::to_string(o.keepalive_s));
  Require(o.max_inflight >= 1 && o.max_inflight <= 65535,
          "max_inflight: must be 1..65535, got " + std::to_string(o.max_inflight));
  Require(o.max_pending >= 1 && o.max_pending <= 65535,
          "max_pending: must be 1..65535, got " + std::to_string(o.max_pending));
  Require(o.password.empty() || !o.username.empty(), "password: given without username");
  Require(o.reconnect_min.count() > 0, "reconnect_min: must be > 0");
  Require(o.reconnect_max >= o.reconnect_min, "reconnect_max: must be >= reconnect_min");
}

std::unique_ptr<Transport> MakeTransport(std::string_view library, Options options) {
  if (library == "mosquitto") return std::make_unique<MosquittoTransport>(std::move(options));
  if (library == "paho") return std::make_unique<PahoTransport>(std::move(options));
  throw common::ConfigError("transport library: unknown '" + std::string(library) +
                            "' (mosquitto, paho)");
}

}  // namespace sparrow::transport
