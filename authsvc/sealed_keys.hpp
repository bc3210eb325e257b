// Relation keys at rest: each friendship's random 256-bit key (the original design's
// im_relation.encrypt_key) is stored sealed under the server's master key, so a copy of the
// database alone reveals no key.
//
// Sealing is libsodium's XChaCha20-Poly1305 (IETF AEAD) with a random 192-bit nonce; the
// associated data names the relation ("sparrow.relation.v1:{a}/{b}", ids sorted), so a sealed
// key moved to another row does not open. Stored form: standard base64 of nonce|ciphertext|tag
// (96 characters for a 32-byte key).
//
// Master key file `{keys}/master.key` (mode 0600, created on first start): base64 32-byte keys,
// one per line; the first seals, every line opens. Rotation: put a new key on the first line and
// keep the old ones below (see authsvc/README.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sparrow::authsvc {

inline constexpr std::size_t kRelationKeyBytes = 32;

// 32 random bytes from libsodium. Thread-safe.
std::string NewRelationKey();

// The associated data for the relation between `a` and `b` (either order).
std::string RelationContext(std::string_view a, std::string_view b);

// Thread-safe (immutable after construction).
class KeySealer {
 public:
  // `master_keys`: raw 32-byte keys, the first one current. Throws common::ConfigError if
  // empty or a key has the wrong size.
  explicit KeySealer(std::vector<std::string> master_keys);

  // base64(nonce | ciphertext | tag) of `plaintext` bound to `context`.
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  // The plaintext, or nullopt when `sealed` is not valid base64, too short, or fails to
  // authenticate under every master key with this context (tampered, moved, wrong key).
  std::optional<std::string> Unseal(std::string_view sealed, std::string_view context) const;

 private:
  std::vector<std::string> keys_;
};

// Reads `{dir}/master.key`, creating the folder (0700) and the file (0600, one new random key)
// on first start. Throws common::ConfigError naming the file when it is readable by group or
// others, unreadable, or holds anything but base64 32-byte keys.
KeySealer LoadOrCreateKeySealer(const std::string& dir);

}  // namespace sparrow::authsvc
