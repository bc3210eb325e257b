// Fuzz target: common::TokenVerifier::Verify (the broker's CONNECT check, on untrusted
// passwords) and common::PeekSubject.
//
// A random token never carries a valid signature, so raw fuzzing alone stops at the signature
// check and never reaches the claims. The first input byte therefore selects a mode:
//   'p' + PAYLOAD           the rest is the JWT payload text; the target signs it with the
//                           fixed fuzz key under the standard header, then verifies;
//   'h' + HEADER '\n' PAYLOAD  both texts are the fuzzer's; signed with the fuzz key;
//   anything else           the whole input is the token, verified as is.
// Properties, beyond "no crash, no hang, no sanitizer report":
//   - raw tokens: one that verifies is one of KnownTokens() (byte for byte), with its claims:
//     nothing the fuzzer makes up passes as signed by the key;
//   - signed payloads: Verify accepts exactly when an independent reading of the claims (a DOM
//     parse and the rules of token.hpp) says it is valid at kFuzzNowMs, and then returns those
//     claims; the error is never about the algorithm, key or signature;
//   - a verified token: sub of 1..64 bytes, exp not past and iat not in the future beyond the
//     skew, PeekSubject gives the same sub; the header named EdDSA and the fuzz key's kid.
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/base64.hpp"
#include "common/token.hpp"
#include "tests/fuzz/fuzz_keys.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace sparrow::fuzz {
namespace {

using common::TokenError;
using nlohmann::json;

constexpr std::int64_t kSkewMs = common::TokenVerifier::kDefaultSkewMs;

// `header.payload.signature` with the fuzz key's signature over the first two parts.
std::string SignRaw(std::string_view header, std::string_view payload) {
  const std::string signing_input =
      common::Base64UrlEncode(header) + "." + common::Base64UrlEncode(payload);
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(
      signature, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size(), reinterpret_cast<const unsigned char*>(FuzzSigningKey().secret.data()));
  return signing_input + "." +
         common::Base64UrlEncode(
             std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

std::string StandardHeader() {
  return json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", FuzzSigner().key_id()}}.dump();
}

// A NumericDate claim as token.hpp reads it: a number of seconds in 0..4e9, in ms.
std::optional<std::int64_t> ReferenceDateMs(const json& value) {
  if (value.is_number_unsigned()) {
    const auto s = value.get<std::uint64_t>();
    if (s > 4'000'000'000ULL) return std::nullopt;
    return static_cast<std::int64_t>(s) * 1000;
  }
  if (value.is_number_integer()) {
    const auto s = value.get<std::int64_t>();
    if (s < 0 || s > 4'000'000'000LL) return std::nullopt;
    return s * 1000;
  }
  if (value.is_number_float()) {
    const double s = value.get<double>();
    if (!(s >= 0.0 && s <= 4'000'000'000.0)) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(s * 1000.0));
  }
  return std::nullopt;
}

// The claims of a payload signed with the right key, if they are valid at kFuzzNowMs.
std::optional<common::TokenClaims> ReferenceClaims(std::string_view payload_text) {
  const json payload = json::parse(payload_text.begin(), payload_text.end(), nullptr, false);
  if (!payload.is_object()) return std::nullopt;
  for (const char* name : {"sub", "role", "iat", "exp", "jti"}) {
    if (!payload.contains(name)) return std::nullopt;
  }
  const json& sub = payload["sub"];
  const json& role = payload["role"];
  const json& jti = payload["jti"];
  if (!sub.is_string() || !role.is_string() || !jti.is_string()) return std::nullopt;
  const auto& sub_text = sub.get_ref<const std::string&>();
  if (sub_text.empty() || sub_text.size() > 64) return std::nullopt;
  const auto parsed_role = common::ParseRole(role.get_ref<const std::string&>());
  const auto iat = ReferenceDateMs(payload["iat"]);
  const auto exp = ReferenceDateMs(payload["exp"]);
  if (!parsed_role || !iat || !exp) return std::nullopt;
  if (*exp + kSkewMs <= kFuzzNowMs || *iat > kFuzzNowMs + kSkewMs) return std::nullopt;
  if (payload.contains("nbf")) {
    const auto nbf = ReferenceDateMs(payload["nbf"]);
    if (!nbf || *nbf > kFuzzNowMs + kSkewMs) return std::nullopt;
  }
  return common::TokenClaims{sub_text, *parsed_role, *iat, *exp, jti.get_ref<const std::string&>()};
}

bool SameClaims(const common::TokenClaims& a, const common::TokenClaims& b) {
  return a.sub == b.sub && a.role == b.role && a.iat_ms == b.iat_ms && a.exp_ms == b.exp_ms &&
         a.jti == b.jti;
}

// What holds for any token that verified.
void CheckVerified(std::string_view token, const common::VerifyOutcome& outcome) {
  const auto& claims = outcome.claims;
  SPARROW_FUZZ_CHECK(!claims.sub.empty() && claims.sub.size() <= 64);
  SPARROW_FUZZ_CHECK(claims.exp_ms + kSkewMs > kFuzzNowMs);
  SPARROW_FUZZ_CHECK(claims.iat_ms <= kFuzzNowMs + kSkewMs);
  SPARROW_FUZZ_CHECK(claims.iat_ms >= 0 && claims.exp_ms >= 0);
  SPARROW_FUZZ_CHECK(token.size() <= common::TokenVerifier::kMaxTokenBytes);
  SPARROW_FUZZ_CHECK(common::PeekSubject(token) == claims.sub);

  const auto dot = token.find('.');
  const auto header_text = common::Base64UrlDecode(token.substr(0, dot));
  SPARROW_FUZZ_CHECK(header_text.has_value());
  const json header = json::parse(*header_text, nullptr, false);
  SPARROW_FUZZ_CHECK(header.is_object());
  SPARROW_FUZZ_CHECK(header.value("alg", json()) == "EdDSA");
  SPARROW_FUZZ_CHECK(header.value("kid", json()) == FuzzSigner().key_id());
}

void FuzzRawToken(std::string_view token) {
  const common::VerifyOutcome outcome = FuzzVerifier().Verify(token, kFuzzNowMs);
  (void)common::PeekSubject(token);  // must not crash on anything
  if (!outcome.ok()) return;
  CheckVerified(token, outcome);
  const auto& known = KnownTokens();
  const auto it = std::find(known.begin(), known.end(), token);
  SPARROW_FUZZ_CHECK(it != known.end());
  SPARROW_FUZZ_CHECK(SameClaims(outcome.claims, KnownClaims()[it - known.begin()]));
}

void FuzzSigned(std::string_view header, std::string_view payload, bool standard_header) {
  const std::string token = SignRaw(header, payload);
  const common::VerifyOutcome outcome = FuzzVerifier().Verify(token, kFuzzNowMs);
  (void)common::PeekSubject(token);
  if (outcome.ok()) CheckVerified(token, outcome);
  if (token.size() > common::TokenVerifier::kMaxTokenBytes) {
    SPARROW_FUZZ_CHECK(outcome.error == TokenError::kMalformed);
    return;
  }
  if (!standard_header) return;  // the header may name another algorithm or key
  SPARROW_FUZZ_CHECK(outcome.error != TokenError::kBadAlgorithm &&
                     outcome.error != TokenError::kUnknownKey &&
                     outcome.error != TokenError::kBadSignature);
  const auto expected = ReferenceClaims(payload);
  SPARROW_FUZZ_CHECK(outcome.ok() == expected.has_value());
  if (expected) SPARROW_FUZZ_CHECK(SameClaims(outcome.claims, *expected));
}

}  // namespace
}  // namespace sparrow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sparrow::fuzz;
  const std::string_view input = AsText(data, size);
  if (input.starts_with('p')) {
    static const std::string header = StandardHeader();
    FuzzSigned(header, input.substr(1), /*standard_header=*/true);
  } else if (input.starts_with('h')) {
    const std::string_view rest = input.substr(1);
    const auto newline = rest.find('\n');
    const std::string_view payload =
        newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    FuzzSigned(rest.substr(0, newline), payload, /*standard_header=*/false);
  } else {
    FuzzRawToken(input);
  }
  return 0;
}
