#include "cli/credentials.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.hpp"
#include "protocol/identity.hpp"

namespace sparrow::cli {
namespace {

using nlohmann::json;

void MakePrivateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw common::Error("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
}

// Writes `text` to `path` atomically with mode 0600.
void WritePrivateFile(const std::filesystem::path& path, const std::string& text) {
  const auto temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw common::Error("cannot write " + temp + ": " + std::strerror(errno));
  const ssize_t n = ::write(fd, text.data(), text.size());
  const bool ok = n == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    throw common::Error("cannot write " + path.string() + ": " + std::strerror(errno));
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CredentialStore::CredentialStore(std::filesystem::path home) : home_(std::move(home)) {}

std::filesystem::path CredentialStore::File(const std::string& user) const {
  return home_ / "credentials" / (user + ".json");
}

void CredentialStore::Save(const Credentials& c) {
  if (!protocol::IsValidUserId(c.user)) throw common::Error("invalid user id '" + c.user + "'");
  MakePrivateDir(home_);
  MakePrivateDir(home_ / "credentials");
  WritePrivateFile(File(c.user), json{{"user", c.user},
                                      {"token", c.token},
                                      {"expiresAt", c.expires_at_ms},
                                      {"server", c.server}}
                                     .dump());
  WritePrivateFile(home_ / "current-user", c.user + "\n");
}

std::optional<Credentials> CredentialStore::Load(const std::string& user) const {
  if (!protocol::IsValidUserId(user)) return std::nullopt;
  const json j = json::parse(ReadFile(File(user)), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  if (!j.contains("token") || !j["token"].is_string() || !j.contains("expiresAt") ||
      !j["expiresAt"].is_number_integer()) {
    return std::nullopt;
  }
  Credentials c;
  c.user = user;
  c.token = j["token"];
  c.expires_at_ms = j["expiresAt"];
  if (j.contains("server") && j["server"].is_string()) c.server = j["server"];
  return c;
}

void CredentialStore::Remove(const std::string& user) {
  std::error_code ec;
  if (protocol::IsValidUserId(user)) std::filesystem::remove(File(user), ec);
  if (DefaultUser() == user) std::filesystem::remove(home_ / "current-user", ec);
}

std::optional<std::string> CredentialStore::DefaultUser() const {
  std::string text = ReadFile(home_ / "current-user");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (!protocol::IsValidUserId(text)) return std::nullopt;
  return text;
}

}  // namespace sparrow::cli
