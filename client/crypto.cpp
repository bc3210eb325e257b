#include "client/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

#include "common/base64.hpp"
#include "protocol/limits.hpp"

namespace sparrow::client {
namespace {

constexpr std::string_view kBodyDomain = "sparrow-body-v1";

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

CipherCtx NewCipherCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CryptoError("crypto: EVP_CIPHER_CTX_new failed");
  return ctx;
}

void CheckKeyAndNonce(std::string_view key, std::string_view nonce) {
  if (key.size() != kKeyBytes) throw std::invalid_argument("crypto: key must be 32 bytes");
  if (nonce.size() != kNonceBytes) throw std::invalid_argument("crypto: nonce must be 12 bytes");
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void AppendBigEndian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// The nonce of file chunk `index`: 8 bytes big-endian index, 3 zero bytes, 1 "last" byte.
// Deterministic nonces are safe here: every file has a fresh random key.
std::string ChunkNonce(std::uint64_t index, bool last) {
  std::string nonce;
  nonce.reserve(kNonceBytes);
  AppendBigEndian(nonce, index, 8);
  nonce.append(3, '\0');
  nonce += last ? '\1' : '\0';
  return nonce;
}

constexpr std::string_view kFileDomain = "sparrow-file-v1";

}  // namespace

std::string RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw CryptoError("crypto: RAND_bytes failed");
  }
  return out;
}

std::string AssociatedData(const BodyContext& context) {
  std::string aad(kBodyDomain);
  aad.reserve(aad.size() + 16 + context.from_id.size() + context.dest_id.size());
  AppendBigEndian(aad, context.from_id.size(), 4);
  aad.append(context.from_id);
  AppendBigEndian(aad, context.dest_id.size(), 4);
  aad.append(context.dest_id);
  AppendBigEndian(aad, static_cast<std::uint64_t>(context.id), 8);
  return aad;
}

std::string GcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                    std::string_view plaintext) {
  CheckKeyAndNonce(key, nonce);
  auto ctx = NewCipherCtx();
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1) {
    throw CryptoError("crypto: EVP_EncryptInit_ex failed");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    throw CryptoError("crypto: EVP_EncryptUpdate (aad) failed");
  }
  std::string out(plaintext.size() + kTagBytes, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), dst, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      throw CryptoError("crypto: EVP_EncryptUpdate failed");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), dst + written, &len) != 1) {
    throw CryptoError("crypto: EVP_EncryptFinal_ex failed");
  }
  written += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          dst + written) != 1) {
    throw CryptoError("crypto: EVP_CTRL_GCM_GET_TAG failed");
  }
  out.resize(static_cast<std::size_t>(written) + kTagBytes);
  return out;
}

std::optional<std::string> GcmOpen(std::string_view key, std::string_view nonce,
                                   std::string_view aad, std::string_view sealed) {
  CheckKeyAndNonce(key, nonce);
  if (sealed.size() < kTagBytes) return std::nullopt;
  const std::string_view ciphertext = sealed.substr(0, sealed.size() - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  auto ctx = NewCipherCtx();
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key), Bytes(nonce)) != 1) {
    throw CryptoError("crypto: EVP_DecryptInit_ex failed");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    return std::nullopt;
  }
  std::string out(ciphertext.size() + kTagBytes, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int written = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), dst, &len, Bytes(ciphertext),
                          static_cast<int>(ciphertext.size())) != 1) {
      return std::nullopt;
    }
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    throw CryptoError("crypto: EVP_CTRL_GCM_SET_TAG failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), dst + written, &len) != 1) return std::nullopt;
  written += len;
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string SealBody(std::string_view key, const BodyContext& context, std::string_view plaintext) {
  const std::string nonce = RandomBytes(kNonceBytes);
  std::string raw = nonce;
  raw += GcmSeal(key, nonce, AssociatedData(context), plaintext);
  return common::Base64Encode(raw);
}

std::optional<std::string> OpenBody(std::string_view key, const BodyContext& context,
                                    std::string_view body) {
  if (key.size() != kKeyBytes) throw std::invalid_argument("crypto: key must be 32 bytes");
  const auto raw = common::Base64Decode(body);
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  const std::string_view view(*raw);
  return GcmOpen(key, view.substr(0, kNonceBytes), AssociatedData(context),
                 view.substr(kNonceBytes));
}

std::size_t MaxBodyPlaintextBytes() {
  // base64 turns every 3 bytes into 4 characters (with padding).
  const std::size_t raw = protocol::kMaxBodyBytes / 4 * 3;
  return raw - kNonceBytes - kTagBytes;
}

std::uint64_t FileChunkCount(std::uint64_t plain_size, std::size_t chunk_bytes) {
  if (plain_size == 0) return 1;
  return (plain_size + chunk_bytes - 1) / chunk_bytes;
}

std::uint64_t SealedFileSize(std::uint64_t plain_size, std::size_t chunk_bytes) {
  return plain_size + FileChunkCount(plain_size, chunk_bytes) * kTagBytes;
}

std::string SealFileChunk(std::string_view file_key, std::uint64_t index, bool last,
                          std::string_view plaintext) {
  return GcmSeal(file_key, ChunkNonce(index, last), kFileDomain, plaintext);
}

FileOpener::FileOpener(std::string file_key, std::uint64_t plain_size, std::size_t chunk_bytes)
    : key_(std::move(file_key)),
      plain_size_(plain_size),
      chunk_bytes_(chunk_bytes),
      chunks_(FileChunkCount(plain_size, chunk_bytes)) {
  if (key_.size() != kKeyBytes) throw std::invalid_argument("crypto: file key must be 32 bytes");
  if (chunk_bytes_ == 0) throw std::invalid_argument("crypto: chunk size must be positive");
}

bool FileOpener::Update(std::string_view sealed, std::string& plaintext) {
  if (failed_) return false;
  buffer_.append(sealed);
  while (next_index_ < chunks_) {
    const bool last = next_index_ + 1 == chunks_;
    const std::uint64_t plain =
        last ? plain_size_ - next_index_ * chunk_bytes_ : static_cast<std::uint64_t>(chunk_bytes_);
    const std::size_t need = static_cast<std::size_t>(plain) + kTagBytes;
    if (buffer_.size() < need) return true;
    auto opened = GcmOpen(key_, ChunkNonce(next_index_, last), kFileDomain,
                          std::string_view(buffer_).substr(0, need));
    if (!opened) {
      failed_ = true;
      return false;
    }
    plaintext += *opened;
    buffer_.erase(0, need);
    ++next_index_;
  }
  if (!buffer_.empty()) failed_ = true;  // bytes beyond the last chunk
  return !failed_;
}

bool FileOpener::Finish() const { return !failed_ && next_index_ == chunks_ && buffer_.empty(); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    throw CryptoError("crypto: sha256 init failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size()) != 1) {
    throw CryptoError("crypto: sha256 update failed");
  }
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len) != 1) {
    throw CryptoError("crypto: sha256 final failed");
  }
  return common::HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 sha;
  sha.Update(bytes);
  return sha.HexDigest();
}

}  // namespace sparrow::client
