// Forged and odd access tokens, for the broker and the REST service (token_forgery_test,
// revocation_test). Valid tokens come from common::TokenSigner; plugin/testing/tokens.hpp has
// the basic odd ones (alg none, tampered sub, another key under our kid); these add what an
// attacker tries next: HMAC "algorithm confusion" with the public key as the secret, tampered
// role, a malleated Ed25519 signature, non-canonical base64url, an embedded attacker key.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.hpp"
#include "common/token.hpp"
#include "plugin/testing/tokens.hpp"

namespace sparrow::security {

struct TokenParts {
  std::string header;   // decoded JSON text
  std::string payload;  // decoded JSON text
  std::string signature_b64;
};

inline TokenParts SplitToken(const std::string& token) {
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  return TokenParts{
      common::Base64UrlDecode(std::string_view(token).substr(0, dot1)).value_or(""),
      common::Base64UrlDecode(std::string_view(token).substr(dot1 + 1, dot2 - dot1 - 1))
          .value_or(""),
      token.substr(dot2 + 1)};
}

// `token` with `from` replaced by `to` in its payload; header and signature kept.
inline std::string ReplaceInPayload(const std::string& token, const std::string& from,
                                    const std::string& to) {
  TokenParts parts = SplitToken(token);
  const auto at = parts.payload.find(from);
  if (at != std::string::npos) parts.payload.replace(at, from.size(), to);
  return common::Base64UrlEncode(parts.header) + "." + common::Base64UrlEncode(parts.payload) +
         "." + parts.signature_b64;
}

// header.payload signed with HMAC-SHA256 under `secret`: what a verifier that trusts the
// token's own "alg" would accept when `secret` is its public key ("algorithm confusion").
inline std::string Hs256Token(const std::string& header_json, const std::string& payload_json,
                              std::string_view secret) {
  const std::string input =
      common::Base64UrlEncode(header_json) + "." + common::Base64UrlEncode(payload_json);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(input.data()),
                                input.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return input + "." +
         common::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

// The same token with its Ed25519 signature's scalar S replaced by S + L (the group order):
// the same point equation holds, so a verifier that does not insist on a canonical S accepts a
// second, different string for the same token.
inline std::string MalleatedSignature(const std::string& token) {
  static constexpr unsigned char kOrder[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                               0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                               0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
  const auto dot2 = token.rfind('.');
  std::string signature = common::Base64UrlDecode(token.substr(dot2 + 1)).value_or("");
  if (signature.size() != 64) return token;
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {  // little-endian S += L
    const unsigned sum = static_cast<unsigned char>(signature[32 + i]) + kOrder[i] + carry;
    signature[32 + i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  return token.substr(0, dot2 + 1) + common::Base64UrlEncode(signature);
}

// The same token with its signature's last base64url character changed in the two bits that
// carry no data: decodes to the same bytes, but is not the canonical text.
inline std::string NonCanonicalSignature(const std::string& token) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = token;
  const auto at = kAlphabet.find(out.back());
  out.back() = kAlphabet[at ^ 0x1];  // 64 bytes -> 86 chars: the last holds 2 bits + 4 zeros
  return out;
}

// A token signed by the attacker's own key, carrying that key in the header ("jwk", "kid"):
// a verifier that takes keys from the token itself would accept it.
inline std::string EmbeddedKeyToken(const common::SigningKey& attacker, std::string_view sub,
                                    std::int64_t now_ms) {
  const std::string header = R"({"alg":"EdDSA","typ":"JWT","kid":")" +
                             common::KeyId(attacker.public_key) +
                             R"(","jwk":{"kty":"OKP","crv":"Ed25519","x":")" +
                             common::Base64UrlEncode(attacker.public_key) + "\"}}";
  const std::string input = common::Base64UrlEncode(header) + "." +
                            common::Base64UrlEncode(plugin::testing::TokenPayload(
                                sub, "user", now_ms / 1000, now_ms / 1000 + 3600));
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(),
                       reinterpret_cast<const unsigned char*>(attacker.secret.data()));
  return input + "." +
         common::Base64UrlEncode(
             std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

}  // namespace sparrow::security
