#include "authsvc/passwords.hpp"

#include <prometheus/gauge.h>
#include <sodium.h>

#include <algorithm>

#include "common/error.hpp"
#include "common/ids.hpp"

namespace sparrow::authsvc {
namespace {

constexpr std::size_t kFloorMemoryKib = 19 * 1024;
constexpr unsigned kFloorPasses = 2;

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw common::Error("libsodium failed to initialise");
}

}  // namespace

PasswordProblem CheckNewPassword(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) return PasswordProblem::kTooLong;
  std::size_t chars = 0;
  for (char c : password) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;  // not a continuation byte
  }
  return chars < kMinPasswordChars ? PasswordProblem::kTooShort : PasswordProblem::kNone;
}

void HasherOptions::Validate() const {
  if (!allow_weak && memory_kib < kFloorMemoryKib) {
    throw common::ConfigError("--argon2-memory-kib: must be at least 19456 (19 MiB)");
  }
  if (memory_kib < 8 || memory_kib > 4 * 1024 * 1024) {
    throw common::ConfigError("--argon2-memory-kib: must be at most 4194304 (4 GiB)");
  }
  if (!allow_weak && passes < kFloorPasses) {
    throw common::ConfigError("--argon2-passes: must be at least 2");
  }
  if (passes < 1 || passes > 64) throw common::ConfigError("--argon2-passes: must be 1..64");
  if (max_concurrent < 1 || max_concurrent > 256) {
    throw common::ConfigError("--max-concurrent-hashes: must be 1..256");
  }
  if (max_waiting < 0) throw common::ConfigError("--max-waiting-hashes: must be >= 0");
  if (max_wait.count() < 0) throw common::ConfigError("hash wait: must be >= 0");
}

PasswordHasher::PasswordHasher(HasherOptions options, prometheus::Gauge* in_progress)
    : options_(options), in_progress_(in_progress) {
  options_.Validate();
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  // The dummy's password is random and forgotten: no input can ever match it.
  const std::string secret = common::RandomBytes(32);
  if (crypto_pwhash_str(out, secret.data(), secret.size(), options_.passes,
                        options_.memory_kib * 1024) != 0) {
    throw common::Error("argon2id: cannot compute the dummy hash (out of memory?)");
  }
  dummy_hash_ = out;
}

bool PasswordHasher::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (running_ >= options_.max_concurrent) {
    if (waiting_ >= options_.max_waiting) return false;
    ++waiting_;
    const bool got = slot_free_.wait_for(lock, options_.max_wait,
                                         [this] { return running_ < options_.max_concurrent; });
    --waiting_;
    if (!got) return false;
  }
  ++running_;
  ++computed_;
  peak_ = std::max(peak_, running_);
  if (in_progress_ != nullptr) in_progress_->Increment();
  return true;
}

void PasswordHasher::Release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
    if (in_progress_ != nullptr) in_progress_->Decrement();
  }
  slot_free_.notify_one();
}

std::optional<std::string> PasswordHasher::Hash(std::string_view password) {
  if (!Acquire()) return std::nullopt;
  char out[crypto_pwhash_STRBYTES];
  const int rc = crypto_pwhash_str(out, password.data(), password.size(), options_.passes,
                                   options_.memory_kib * 1024);
  Release();
  if (rc != 0) throw common::Error("argon2id: hashing failed (out of memory?)");
  return std::string(out);
}

VerifyResult PasswordHasher::VerifyInSlot(std::string_view hash, std::string_view password) {
  if (!Acquire()) return VerifyResult::kBusy;
  // crypto_pwhash_str_verify wants a NUL-terminated string.
  const std::string text(hash);
  const int rc = crypto_pwhash_str_verify(text.c_str(), password.data(), password.size());
  Release();
  return rc == 0 ? VerifyResult::kMatch : VerifyResult::kMismatch;
}

VerifyResult PasswordHasher::Verify(std::string_view hash, std::string_view password) {
  return VerifyInSlot(hash, password);
}

VerifyResult PasswordHasher::VerifyUnknownUser(std::string_view password) {
  const VerifyResult result = VerifyInSlot(dummy_hash_, password);
  return result == VerifyResult::kBusy ? VerifyResult::kBusy : VerifyResult::kMismatch;
}

bool PasswordHasher::NeedsRehash(std::string_view hash) const {
  const std::string text(hash);
  return crypto_pwhash_str_needs_rehash(text.c_str(), options_.passes,
                                        options_.memory_kib * 1024) != 0;
}

std::uint64_t PasswordHasher::hashes_computed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return computed_;
}

int PasswordHasher::peak_concurrent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_;
}

int PasswordHasher::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

}  // namespace sparrow::authsvc
