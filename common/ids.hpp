// Identifiers Sparrow mints: message ids (`mid`) and file ids. Both come from libsodium's
// CSPRNG, so they are unique across a deployment without coordination and unguessable.
#pragma once

#include <cstdint>
#include <string>

namespace sparrow::common {

// A `mid`: 26 characters of Crockford base32 (a ULID): 48 bits of `wall_millis` then 80
// random bits, so mids sort by creation time. Thread-safe.
std::string NewMid(std::int64_t wall_millis);

// A file id: 32 characters of lowercase base32 over 160 random bits. Thread-safe.
std::string NewFileId();

// `n` random bytes from libsodium. Thread-safe.
std::string RandomBytes(std::size_t n);

// True when `s` could be a mid we minted (26 Crockford base32 characters).
bool LooksLikeMid(const std::string& s);

}  // namespace sparrow::common
