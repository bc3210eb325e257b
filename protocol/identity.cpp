#include "protocol/identity.hpp"

#include <cassert>

#include "protocol/limits.hpp"

namespace sparrow::protocol {
namespace {

// ASCII-only classification: <cctype> depends on the locale and is UB for negative chars.
constexpr bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
constexpr bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool IsValidUserId(std::string_view id) noexcept {
  if (id.size() < 3 || id.size() > kMaxUserIdBytes || !IsLowerAlnum(id.front())) return false;
  for (char c : id.substr(1)) {
    if (!IsLowerAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsValidDeviceId(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxDeviceIdBytes) return false;
  for (char c : id) {
    if (!IsAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

std::optional<DeviceAddress> ParseClientId(std::string_view client_id) {
  // Neither alphabet contains ':', so splitting at the first colon and validating both halves
  // also rejects a second colon.
  const auto colon = client_id.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view user = client_id.substr(0, colon);
  const std::string_view device = client_id.substr(colon + 1);
  if (!IsValidUserId(user) || !IsValidDeviceId(device)) return std::nullopt;
  return DeviceAddress{std::string(user), std::string(device)};
}

std::string ClientId(const DeviceAddress& address) {
  assert(IsValidUserId(address.user) && IsValidDeviceId(address.device));
  std::string id;
  id.reserve(address.user.size() + 1 + address.device.size());
  id += address.user;
  id += ':';
  id += address.device;
  return id;
}

}  // namespace sparrow::protocol
