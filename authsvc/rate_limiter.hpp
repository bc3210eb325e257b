// Login throttling: failed logins are limited per (account, client address), per client address
// and per account, with token buckets on an injected Clock.
//
// Only failures count: an attempt is let through while each bucket that applies holds a token,
// and a failure then takes one from each. Attempts that were let through together and all
// failed may drive a bucket below zero (at most `burst` below): that debt is paid back by a
// longer wait, so concurrency cannot raise an attacker's long-run rate. Successful logins take
// nothing, so any number of users behind one address log in freely.
//
//   auto gate = limiter.Check("alice", "203.0.113.7");
//   if (!gate.allowed()) return 429 with gate.retry_after;
//   ... check the password ...;
//   ok ? limiter.RecordSuccess("alice", "203.0.113.7") : limiter.RecordFailure(...);
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.hpp"

namespace sparrow::authsvc {

// A token bucket: `burst` attempts at once, then one more every `refill_every`.
struct BucketSpec {
  double burst = 5;
  std::chrono::milliseconds refill_every{60'000};
};

struct LoginLimits {
  BucketSpec per_pair{5, std::chrono::seconds(60)};      // (account, address)
  BucketSpec per_address{20, std::chrono::seconds(30)};  // all accounts from one address
  BucketSpec per_account{10, std::chrono::seconds(10)};  // one account from new addresses
  // How long a successful (account, address) stays exempt from the per-account bucket.
  std::chrono::milliseconds trusted_for{std::chrono::hours(24 * 30)};
  // Memory bound of each table. Entries whose bucket is full again are pruned first; past the
  // bound an arbitrary entry is dropped (its bucket forgotten): memory stays bounded under an
  // attack from very many addresses, at the price of a weaker limit for the forgotten keys.
  std::size_t max_entries = 100'000;
};

enum class LoginGate {
  kAllowed,
  kThrottledPair,     // this address failed too often on this account
  kThrottledAddress,  // this address failed too often (all accounts)
  kThrottledAccount,  // this account failed too often from new addresses
};
std::string_view ToString(LoginGate gate);  // "allowed", "pair", "address", "account"

struct GateDecision {
  LoginGate gate = LoginGate::kAllowed;
  std::chrono::milliseconds retry_after{0};  // when a retry can pass (throttled only)
  bool allowed() const { return gate == LoginGate::kAllowed; }
};

// Thread-safe: `mutex_` guards every table.
class LoginRateLimiter {
 public:
  LoginRateLimiter(const common::Clock& clock, LoginLimits limits = {});

  // Whether an attempt may go on (every bucket that applies holds a token: the pair, the
  // address, and the account unless the address is trusted for it). Changes nothing.
  GateDecision Check(std::string_view account, std::string_view address);

  // The password was wrong (or the account unknown): takes a token from each bucket that
  // applies.
  void RecordFailure(std::string_view account, std::string_view address);

  // The password was right: forgets the pair's failures and trusts the address for the
  // account (exempt from the account bucket for `trusted_for`).
  void RecordSuccess(std::string_view account, std::string_view address);

  // Entries held (for tests of the memory bound).
  std::size_t entries() const;

 private:
  struct Bucket {
    double tokens = 0;
    common::SteadyTime updated{};
  };
  using Table = std::unordered_map<std::string, Bucket>;

  double Refill(Bucket& bucket, const BucketSpec& spec, common::SteadyTime now) const;
  // The tokens `key` holds now (a full bucket when unknown).
  double Tokens(Table& table, const std::string& key, const BucketSpec& spec,
                common::SteadyTime now) const;
  bool Trusted(const std::string& pair_key, common::SteadyTime now) const;
  Bucket& Find(Table& table, const std::string& key, const BucketSpec& spec,
               common::SteadyTime now);
  void PruneTable(Table& table, const BucketSpec& spec, common::SteadyTime now) const;
  void Prune(common::SteadyTime now);  // every table and the trusted pairs
  static std::chrono::milliseconds WaitFor(double tokens, const BucketSpec& spec);

  const common::Clock& clock_;
  const LoginLimits limits_;
  mutable std::mutex mutex_;
  Table pairs_;
  Table addresses_;
  Table accounts_;
  std::unordered_map<std::string, common::SteadyTime> trusted_;  // pair key -> until
  common::SteadyTime next_prune_{};
};

}  // namespace sparrow::authsvc
