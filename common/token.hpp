// Access tokens: JWTs signed with Ed25519 ("alg":"EdDSA"), so brokers hold only public keys.
//
// Claims: `sub` (userId or service name), `role` (user|svc|ops), `iat` (seconds since the
// epoch, with millisecond decimals), `exp` (seconds), `jti` (random id). The header names the
// signing key with `kid`, so keys can be rotated: a verifier holds every key still accepted.
// Verification is strict: the algorithm allowlist is exactly {EdDSA} (never `none`, never an
// HMAC "confusion"), base64url must be canonical, the token at most kMaxTokenBytes, `exp` in
// the future and `iat` not in the future (both within a small allowed skew).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sparrow::common {

enum class Role { kUser, kSvc, kOps };
std::string_view ToString(Role role);
std::optional<Role> ParseRole(std::string_view text);

struct TokenClaims {
  std::string sub;
  Role role = Role::kUser;
  std::int64_t iat_ms = 0;  // issued at, ms since the epoch
  std::int64_t exp_ms = 0;  // expires at, ms since the epoch (a whole second)
  std::string jti;
};

enum class TokenError {
  kNone,
  kMalformed,     // not three base64url parts of JSON, too long, missing/mistyped claims
  kBadAlgorithm,  // alg other than EdDSA (none, HS256, RS256, ...)
  kUnknownKey,    // kid names no key this verifier holds
  kBadSignature,
  kExpired,
  kNotYetValid,  // iat (or nbf) in the future beyond the skew
};
std::string_view ToString(TokenError error);

// An Ed25519 key pair. `secret` is libsodium's 64-byte secret key, `public_key` 32 bytes.
struct SigningKey {
  std::string secret;
  std::string public_key;
};

SigningKey GenerateSigningKey();
// The key id in token headers: 16 hex characters of BLAKE2b over the public key.
std::string KeyId(std::string_view public_key);

// Issues tokens. Thread-safe (immutable after construction).
class TokenSigner {
 public:
  explicit TokenSigner(SigningKey key);
  // `ttl_ms` > 0. `now_ms` is the wall clock, passed in so tests control it.
  std::string Issue(std::string_view sub, Role role, std::int64_t now_ms,
                    std::int64_t ttl_ms) const;
  // Lower-level: signs the given claims as they are (tests use it to build odd tokens).
  std::string Sign(const TokenClaims& claims) const;
  const std::string& key_id() const { return kid_; }

 private:
  SigningKey key_;
  std::string kid_;
};

struct VerifyOutcome {
  TokenError error = TokenError::kMalformed;
  TokenClaims claims;  // valid only when error == kNone
  bool ok() const { return error == TokenError::kNone; }
};

// Verifies tokens against a set of accepted public keys. Thread-safe (immutable), no I/O,
// no allocation beyond the token's size: it runs on the broker's only thread.
class TokenVerifier {
 public:
  static constexpr std::size_t kMaxTokenBytes = 4096;
  static constexpr std::int64_t kDefaultSkewMs = 30'000;

  explicit TokenVerifier(std::vector<std::string> public_keys,
                         std::int64_t skew_ms = kDefaultSkewMs);
  VerifyOutcome Verify(std::string_view token, std::int64_t now_ms) const noexcept;

 private:
  struct Key {
    std::string kid;
    std::string public_key;
  };
  std::vector<Key> keys_;
  std::int64_t skew_ms_;
};

// The `sub` claim of a token WITHOUT verifying it: for a service that was handed its own
// token and needs its MQTT username. Never use it to trust anything.
std::optional<std::string> PeekSubject(std::string_view token);

// Key files under the data folder: `token_secret.key` (mode 0600: base64 of the 64-byte
// secret) and `token_public.key` (base64 of each accepted public key, one per line; the
// first is the current one). Throws ConfigError naming the file when it cannot be read.
SigningKey LoadOrCreateSigningKey(const std::string& dir);
std::vector<std::string> LoadPublicKeys(const std::string& path);

}  // namespace sparrow::common
