// Message and file encryption of the client (topics.md: `msgBody` is normally base64 of AES-256-GCM
// ciphertext under the relation key). OpenSSL EVP underneath; nothing here touches the network.
//
// Bodies: msgBody = base64(nonce(12) | ciphertext | tag(16)), under the 32-byte relation key of
// the two users, with a fresh random 96-bit nonce per seal and the chat's envelope (fromId,
// destId, id) bound as associated data: a body copied into another chat (other sender, other
// recipient, other id) fails to open. The associated data is a canonical, length-prefixed
// encoding (AssociatedData), so no two envelopes share one.
//
// Files: the contents are sealed under a fresh random per-file key in chunks of
// kFileChunkBytes (the last one shorter), each chunk `ciphertext | tag`, with a nonce that
// encodes the chunk's index and whether it is the last one: chunks cannot be reordered,
// dropped or the file truncated without failing. The per-file key travels inside the file
// message's sealed descriptor (file_transfer.hpp), never in the clear.
//
// What this does NOT protect against (client/README.md): the server that issued the relation
// key can read every body; metadata (who talks to whom, when, sizes) is visible to it.
//
// All functions are thread-safe. Keys of the wrong length are programming errors
// (std::invalid_argument); a failure inside OpenSSL throws CryptoError; a body or chunk that
// does not authenticate is an outcome (nullopt / false), never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace sparrow::client {

inline constexpr std::size_t kKeyBytes = 32;    // AES-256
inline constexpr std::size_t kNonceBytes = 12;  // 96-bit GCM nonce
inline constexpr std::size_t kTagBytes = 16;    // GCM tag
inline constexpr std::size_t kFileChunkBytes = 64 * 1024;

// OpenSSL failed (out of memory, no randomness): not an outcome of bad input.
class CryptoError : public common::Error {
 public:
  using common::Error::Error;
};

// `n` bytes from OpenSSL's CSPRNG. Throws CryptoError if it has none.
[[nodiscard]] std::string RandomBytes(std::size_t n);

// The envelope fields a body is bound to.
struct BodyContext {
  std::string_view from_id;  // the chat's sender (fromId)
  std::string_view dest_id;  // its recipient (destId)
  std::int64_t id = 0;       // the sender device's chat id
};

// The canonical associated data of a body: "sparrow-body-v1", then fromId and destId each as a
// 4-byte big-endian length and the bytes, then id as 8 bytes big-endian.
[[nodiscard]] std::string AssociatedData(const BodyContext& context);

// AES-256-GCM with an explicit nonce: returns ciphertext | tag. Preconditions: key 32 bytes,
// nonce 12 bytes (std::invalid_argument otherwise). The caller guarantees the nonce is never
// reused under the key.
[[nodiscard]] std::string GcmSeal(std::string_view key, std::string_view nonce,
                                  std::string_view aad, std::string_view plaintext);
// The plaintext, or nullopt when `sealed` (ciphertext | tag) does not authenticate under
// key, nonce and aad (tampered, wrong key, wrong aad, too short).
[[nodiscard]] std::optional<std::string> GcmOpen(std::string_view key, std::string_view nonce,
                                                 std::string_view aad, std::string_view sealed);

// A msgBody: base64(nonce | ciphertext | tag) with a fresh random nonce.
[[nodiscard]] std::string SealBody(std::string_view key, const BodyContext& context,
                                   std::string_view plaintext);
// The plaintext of a msgBody, or nullopt when it is not base64, is too short, or does not
// authenticate under `key` and `context`.
[[nodiscard]] std::optional<std::string> OpenBody(std::string_view key, const BodyContext& context,
                                                  std::string_view body);

// The largest plaintext whose sealed body fits the protocol's msgBody limit (64 KiB of base64).
[[nodiscard]] std::size_t MaxBodyPlaintextBytes();

// ---- file contents ----

// The number of chunks of a file of `plain_size` bytes (at least one: an empty file is one
// empty chunk, so that truncation to nothing is detected).
[[nodiscard]] std::uint64_t FileChunkCount(std::uint64_t plain_size,
                                           std::size_t chunk_bytes = kFileChunkBytes);
// The size of the sealed contents: plain_size + one tag per chunk.
[[nodiscard]] std::uint64_t SealedFileSize(std::uint64_t plain_size,
                                           std::size_t chunk_bytes = kFileChunkBytes);

// Seals chunk `index` of a file (ciphertext | tag). `last` marks the final chunk.
[[nodiscard]] std::string SealFileChunk(std::string_view file_key, std::uint64_t index, bool last,
                                        std::string_view plaintext);

// Opens a sealed file as a stream of bytes arriving in any pieces. Not thread-safe.
class FileOpener {
 public:
  // `plain_size` and `chunk_bytes` come from the file's descriptor.
  FileOpener(std::string file_key, std::uint64_t plain_size,
             std::size_t chunk_bytes = kFileChunkBytes);

  // Consumes `sealed` bytes, appending the plaintext of every chunk completed by them to
  // `plaintext`. False (and every later call false) when a chunk fails to authenticate or more
  // bytes arrive than the file has.
  [[nodiscard]] bool Update(std::string_view sealed, std::string& plaintext);
  // True iff every chunk arrived and authenticated, and nothing else did.
  [[nodiscard]] bool Finish() const;

 private:
  std::string key_;
  std::uint64_t plain_size_;
  std::size_t chunk_bytes_;
  std::uint64_t chunks_;
  std::uint64_t next_index_ = 0;
  std::string buffer_;
  bool failed_ = false;
};

// Incremental SHA-256 (lowercase hex digest). Not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  // The digest of everything updated so far, as 64 lowercase hex characters. Call once.
  [[nodiscard]] std::string HexDigest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

[[nodiscard]] std::string Sha256Hex(std::string_view bytes);

}  // namespace sparrow::client
