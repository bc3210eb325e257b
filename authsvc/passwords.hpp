// Password hashing for accounts: argon2id through libsodium's crypto_pwhash_str, with a bound on
// how many hashes run at once (each one holds `memory_kib` of RAM for ~20 ms), and a dummy hash
// so that a login for an unknown user costs exactly what a wrong password costs.
//
//   PasswordHasher hasher(HasherOptions{.memory_kib = 19 * 1024, .passes = 2});
//   if (auto hash = hasher.Hash(password)) store(*hash);          // nullopt: too busy, 429
//   switch (hasher.Verify(stored_hash, password)) { ... }
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace prometheus {
class Gauge;
}

namespace sparrow::authsvc {

// The password rules of POST /api/v1/register and /api/v1/password. Checked before any hashing.
inline constexpr std::size_t kMinPasswordChars = 8;     // Unicode code points
inline constexpr std::size_t kMaxPasswordBytes = 1024;  // UTF-8 bytes

enum class [[nodiscard]] PasswordProblem{kNone, kTooShort, kTooLong};
// kTooLong when over kMaxPasswordBytes bytes, kTooShort when under kMinPasswordChars code points
// (UTF-8 continuation bytes are not counted). Pure, thread-safe.
PasswordProblem CheckNewPassword(std::string_view password);

struct HasherOptions {
  // argon2id cost. The floor (19 MiB, 2 passes: the OWASP minimum for argon2id) is enforced by
  // Validate(); tests may go below it only through `allow_weak`.
  std::size_t memory_kib = 19 * 1024;
  unsigned passes = 2;
  // Hashes computed at once, at most: bounds the memory (max_concurrent x memory_kib) and the
  // CPU a login flood can take.
  int max_concurrent = 2;
  // Callers that may wait for a slot; one more is refused at once (kBusy), so a flood cannot
  // tie up every HTTP worker.
  int max_waiting = 16;
  // How long a caller waits for a slot before giving up (kBusy).
  std::chrono::milliseconds max_wait{5000};
  bool allow_weak = false;  // tests only: accept memory/passes below the floor

  // Throws common::ConfigError naming the flag (--argon2-memory-kib, ...) on a bad value.
  void Validate() const;
};

enum class [[nodiscard]] VerifyResult{
    kMatch,
    kMismatch,  // wrong password (or a stored hash that is not a valid argon2 string)
    kBusy,      // no hashing slot within max_wait: nothing was checked
};

// Thread-safe. `mutex_` guards `running_`, `waiting_` and `peak_`.
class PasswordHasher {
 public:
  // Validates the options and computes the dummy hash (one hash: ~20 ms at the defaults).
  // `in_progress` (optional, must outlive the hasher) tracks the hashes running now.
  explicit PasswordHasher(HasherOptions options, prometheus::Gauge* in_progress = nullptr);
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // An argon2id string ("$argon2id$v=19$m=...") for `password`; nullopt when no slot was free
  // within max_wait. Throws common::Error if libsodium fails (out of memory).
  std::optional<std::string> Hash(std::string_view password);

  // Checks `password` against a stored hash (any argon2 parameters).
  VerifyResult Verify(std::string_view hash, std::string_view password);

  // The same work as Verify against a real hash, for a user that does not exist; never kMatch.
  VerifyResult VerifyUnknownUser(std::string_view password);

  // True when `hash` was made with other parameters than the current ones (rehash at login).
  bool NeedsRehash(std::string_view hash) const;

  const HasherOptions& options() const { return options_; }
  // Hashes and verifications started since construction (the dummy hash excluded).
  std::uint64_t hashes_computed() const;
  // The most hashes that ever ran at once; the number running now.
  int peak_concurrent() const;
  int running() const;

 private:
  bool Acquire();
  void Release();
  VerifyResult VerifyInSlot(std::string_view hash, std::string_view password);

  const HasherOptions options_;
  prometheus::Gauge* in_progress_;
  std::string dummy_hash_;
  mutable std::mutex mutex_;
  std::condition_variable slot_free_;
  int running_ = 0;
  int waiting_ = 0;
  int peak_ = 0;
  std::uint64_t computed_ = 0;
};

}  // namespace sparrow::authsvc
