// sparrow-token: mints a Sparrow access token from the key folder, for scripts, tests and the
// launcher (service and operator tokens; users get theirs from POST /api/v1/login).
//
//   sparrow-token --key-dir data/keys --sub bridge --role svc [--ttl 3600]
//
// Prints the token on stdout (nothing else). Creates the signing key pair in --key-dir
// (token_secret.key, token_public.key: what plugin_opt_public_key_file points to) if it is
// not there yet. Exit code 0 on success, 1 on a bad option or an unreadable key folder, with
// the reason on stderr.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <string>

#include "common/clock.hpp"
#include "common/token.hpp"
#include "protocol/identity.hpp"

int main(int argc, char** argv) {
  using namespace sparrow;
  CLI::App app{"sparrow-token: mint a Sparrow access token (printed on stdout)"};
  std::string key_dir;
  std::string sub;
  std::string role_name = "user";
  std::int64_t ttl_s = 3600;
  app.add_option("--key-dir", key_dir, "folder of token_secret.key / token_public.key")
      ->required()
      ->envname("SPARROW_KEY_DIR");
  app.add_option("--sub", sub, "the token's subject: a userId or a service name")->required();
  app.add_option("--role", role_name, "user, svc or ops")
      ->check(CLI::IsMember({"user", "svc", "ops"}));
  app.add_option("--ttl", ttl_s, "lifetime in seconds")->check(CLI::Range(1, 10 * 365 * 86400));
  CLI11_PARSE(app, argc, argv);

  // The broker accepts only a sub that can also be a client id's user part.
  if (!protocol::IsValidUserId(sub)) {
    std::cerr << "sparrow-token: --sub '" << sub
              << "' is not a valid id (^[a-z0-9][a-z0-9_.-]{2,31}$)\n";
    return 1;
  }
  try {
    const common::TokenSigner signer(common::LoadOrCreateSigningKey(key_dir));
    const auto role = common::ParseRole(role_name);
    std::cout << signer.Issue(sub, *role, common::SystemClock::Instance().WallMillis(),
                              ttl_s * 1000)
              << '\n';
  } catch (const std::exception& e) {
    std::cerr << "sparrow-token: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
