// The fixed Ed25519 key pair and tokens of the token and ACL fuzz targets. Deterministic (the
// key comes from a constant seed, Ed25519 signatures are deterministic and the claims are
// fixed), so the tokens in corpus/token/ and corpus/acl/ stay valid and the targets can tell a
// token they signed from anything else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/token.hpp"

namespace sparrow::fuzz {

// "Now" for every verification in the fuzz targets: 2025-11-29T15:26:40Z.
inline constexpr std::int64_t kFuzzNowMs = 1'764'430'000'000;

// The key pair, from the seed bytes 0, 1, ..., 31.
const common::SigningKey& FuzzSigningKey();
const common::TokenSigner& FuzzSigner();
// A verifier accepting FuzzSigningKey() only (default skew).
const common::TokenVerifier& FuzzVerifier();

// The claims of the known tokens, in this order (the ACL target names them "@0".."@6"):
//   0 alice user, 1 bob user, 2 bridge svc, 3 watcher ops  (valid at kFuzzNowMs),
//   4 alice user expired, 5 alice user issued in the future, 6 "Alice" user (not a userId).
const std::vector<common::TokenClaims>& KnownClaims();
// The tokens FuzzSigner() signs for KnownClaims(), same order.
const std::vector<std::string>& KnownTokens();

}  // namespace sparrow::fuzz
