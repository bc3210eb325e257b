// Identities on the wire (PROTOCOL.md, "Identities"): user ids, device ids, and the MQTT client
// id `{userId}:{deviceId}` that names one connection (one device).
//
// All functions are pure, thread-safe and never throw on any input. Validation is written by
// hand (no std::regex: slow, and its recursive matcher can overflow the stack on long input).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sparrow::protocol {

// True iff `id` matches `^[a-z0-9][a-z0-9_.-]{2,31}$` (3..32 bytes, lowercase ASCII).
[[nodiscard]] bool IsValidUserId(std::string_view id) noexcept;

// True iff `id` matches `^[A-Za-z0-9_-]{1,64}$`.
[[nodiscard]] bool IsValidDeviceId(std::string_view id) noexcept;

// One device of one user. Invariant when produced by this library's parsers: both ids valid.
struct DeviceAddress {
  std::string user;
  std::string device;

  friend bool operator==(const DeviceAddress&, const DeviceAddress&) = default;
};

// Parses an MQTT client id: exactly `user ':' device`, with a valid userId and a valid deviceId.
// Anything else (no colon, two colons, an empty or invalid part) is nullopt.
[[nodiscard]] std::optional<DeviceAddress> ParseClientId(std::string_view client_id);

// `{user}:{device}`. Precondition: both ids valid (e.g. the result of ParseClientId).
[[nodiscard]] std::string ClientId(const DeviceAddress& address);

}  // namespace sparrow::protocol
