#include "cli/config.hpp"

#include <charconv>
#include <cstdlib>

namespace sparrow::cli {

std::optional<MqttAddress> ParseMqttAddress(std::string_view text) {
  for (std::string_view scheme : {"tcp://", "mqtt://"}) {
    if (text.substr(0, scheme.size()) == scheme) text.remove_prefix(scheme.size());
  }
  if (!text.empty() && text.back() == '/') text.remove_suffix(1);
  MqttAddress address;
  const auto colon = text.rfind(':');
  std::string_view host = text;
  if (colon != std::string_view::npos) {
    host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value <= 0 || value > 65535) {
      return std::nullopt;
    }
    address.port = value;
  }
  if (host.empty() || host.find_first_of("/ ") != std::string_view::npos) return std::nullopt;
  address.host = std::string(host);
  return address;
}

std::filesystem::path DefaultHome() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return ".sparrow";
  return std::filesystem::path(home) / ".sparrow";
}

std::filesystem::path StateDir(const std::filesystem::path& home, const std::string& user,
                               const std::string& device) {
  return home / "state" / user / device;
}

std::filesystem::path DownloadDir(const std::filesystem::path& home, const std::string& user) {
  return home / "downloads" / user;
}

}  // namespace sparrow::cli
