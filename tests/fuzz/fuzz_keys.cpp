#include "tests/fuzz/fuzz_keys.hpp"

#include <sodium.h>

#include <array>
#include <cstdlib>

namespace sparrow::fuzz {

const common::SigningKey& FuzzSigningKey() {
  static const common::SigningKey key = [] {
    if (sodium_init() < 0) std::abort();
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<unsigned char>(i);
    common::SigningKey k;
    k.secret.resize(crypto_sign_SECRETKEYBYTES);
    k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
    crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()),
                             reinterpret_cast<unsigned char*>(k.secret.data()), seed.data());
    return k;
  }();
  return key;
}

const common::TokenSigner& FuzzSigner() {
  static const common::TokenSigner signer(FuzzSigningKey());
  return signer;
}

const common::TokenVerifier& FuzzVerifier() {
  static const common::TokenVerifier verifier({FuzzSigningKey().public_key});
  return verifier;
}

const std::vector<common::TokenClaims>& KnownClaims() {
  using common::Role;
  constexpr std::int64_t kHourMs = 3'600'000;
  static const std::vector<common::TokenClaims> claims = {
      {"alice", Role::kUser, kFuzzNowMs - 60'000, kFuzzNowMs + kHourMs, "jti-alice"},
      {"bob", Role::kUser, kFuzzNowMs - 60'000, kFuzzNowMs + kHourMs, "jti-bob"},
      {"bridge", Role::kSvc, kFuzzNowMs - 60'000, kFuzzNowMs + kHourMs, "jti-bridge"},
      {"watcher", Role::kOps, kFuzzNowMs - 60'000, kFuzzNowMs + kHourMs, "jti-watcher"},
      {"alice", Role::kUser, kFuzzNowMs - 2 * kHourMs, kFuzzNowMs - kHourMs, "jti-expired"},
      {"alice", Role::kUser, kFuzzNowMs + kHourMs, kFuzzNowMs + 2 * kHourMs, "jti-future"},
      {"Alice", Role::kUser, kFuzzNowMs - 60'000, kFuzzNowMs + kHourMs, "jti-upper"},
  };
  return claims;
}

const std::vector<std::string>& KnownTokens() {
  static const std::vector<std::string> tokens = [] {
    std::vector<std::string> out;
    for (const auto& claims : KnownClaims()) out.push_back(FuzzSigner().Sign(claims));
    return out;
  }();
  return tokens;
}

}  // namespace sparrow::fuzz
