// Tokens that are wrong in exactly one way, for the plugin's unit and integration tests.
// Valid tokens come from common::TokenSigner; these cover what an attacker would send.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.hpp"
#include "common/token.hpp"

namespace sparrow::plugin::testing {

// A payload as TokenSigner writes it (times in seconds).
inline std::string TokenPayload(std::string_view sub, std::string_view role, std::int64_t iat_s,
                                std::int64_t exp_s) {
  return "{\"sub\":\"" + std::string(sub) + "\",\"role\":\"" + std::string(role) +
         "\",\"iat\":" + std::to_string(iat_s) + ",\"exp\":" + std::to_string(exp_s) +
         ",\"jti\":\"t1\"}";
}

// `{"alg":"none"}` and an empty signature: must never verify.
inline std::string AlgNoneToken(std::string_view sub, std::int64_t now_ms) {
  return common::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
         common::Base64UrlEncode(TokenPayload(sub, "user", now_ms / 1000, now_ms / 1000 + 3600)) +
         ".";
}

// `token` (as TokenSigner issues it) with the payload's sub replaced by `new_sub` and the
// original header and signature kept: a tampered token.
inline std::string TamperedToken(const std::string& token, std::string_view new_sub) {
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  std::string payload =
      common::Base64UrlDecode(std::string_view(token).substr(dot1 + 1, dot2 - dot1 - 1))
          .value_or("");
  const std::string key = "\"sub\":\"";
  const auto start = payload.find(key) + key.size();
  payload.replace(start, payload.find('"', start) - start, new_sub);
  return token.substr(0, dot1) + "." + common::Base64UrlEncode(payload) + token.substr(dot2);
}

// A well-formed token whose header names `trusted_kid` but which is signed by `other`'s
// secret key: the signature check must refuse it.
inline std::string SignedByAnotherKeyUnderKid(const std::string& trusted_kid,
                                              const common::SigningKey& other, std::string_view sub,
                                              std::int64_t now_ms) {
  const std::string input =
      common::Base64UrlEncode(R"({"alg":"EdDSA","typ":"JWT","kid":")" + trusted_kid + "\"}") + "." +
      common::Base64UrlEncode(TokenPayload(sub, "user", now_ms / 1000, now_ms / 1000 + 3600));
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(), reinterpret_cast<const unsigned char*>(other.secret.data()));
  return input + "." +
         common::Base64UrlEncode(
             std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

}  // namespace sparrow::plugin::testing
