// The login cache of the `sparrow` command: one small file per user under $SPARROW_HOME, so
// that commands after `sparrow login` need no password (config.hpp shows the layout).
// Files are 0600 in a 0700 folder; a token is never printed.
//
// Not thread-safe (the command's main thread uses it). I/O failures throw common::Error with
// the path in the message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace sparrow::cli {

struct Credentials {
  std::string user;
  std::string token;
  std::int64_t expires_at_ms = 0;  // from the login answer
  std::string server;              // the REST service that issued the token

  friend bool operator==(const Credentials&, const Credentials&) = default;
};

class CredentialStore {
 public:
  explicit CredentialStore(std::filesystem::path home);

  // Saves `credentials` (atomically, 0600) and makes its user the default one.
  void Save(const Credentials& credentials);
  // The cached credentials of `user`; nullopt when none or unreadable.
  [[nodiscard]] std::optional<Credentials> Load(const std::string& user) const;
  // Forgets `user`'s token (and the default user if it was them).
  void Remove(const std::string& user);
  // The user of the last login, if any.
  [[nodiscard]] std::optional<std::string> DefaultUser() const;

 private:
  std::filesystem::path File(const std::string& user) const;
  const std::filesystem::path home_;
};

}  // namespace sparrow::cli
