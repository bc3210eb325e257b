#include "authsvc/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sparrow::authsvc {
namespace {

constexpr auto kPruneInterval = std::chrono::seconds(60);

// A key no account or address can forge: ids and addresses never contain '\n'.
std::string PairKey(std::string_view account, std::string_view address) {
  std::string key(account);
  key.push_back('\n');
  key.append(address);
  return key;
}

}  // namespace

std::string_view ToString(LoginGate gate) {
  switch (gate) {
    case LoginGate::kAllowed:
      return "allowed";
    case LoginGate::kThrottledPair:
      return "pair";
    case LoginGate::kThrottledAddress:
      return "address";
    case LoginGate::kThrottledAccount:
      return "account";
  }
  return "allowed";
}

LoginRateLimiter::LoginRateLimiter(const common::Clock& clock, LoginLimits limits)
    : clock_(clock), limits_(limits), next_prune_(clock.Now() + kPruneInterval) {}

double LoginRateLimiter::Refill(Bucket& bucket, const BucketSpec& spec,
                                common::SteadyTime now) const {
  if (now > bucket.updated) {
    const double elapsed = std::chrono::duration<double, std::milli>(now - bucket.updated).count();
    bucket.tokens = std::min(
        spec.burst, bucket.tokens + elapsed / static_cast<double>(spec.refill_every.count()));
    bucket.updated = now;
  }
  return bucket.tokens;
}

LoginRateLimiter::Bucket& LoginRateLimiter::Find(Table& table, const std::string& key,
                                                 const BucketSpec& spec, common::SteadyTime now) {
  auto it = table.find(key);
  if (it != table.end()) {
    Refill(it->second, spec, now);
    return it->second;
  }
  if (table.size() >= limits_.max_entries) {
    PruneTable(table, spec, now);
    while (table.size() >= limits_.max_entries) table.erase(table.begin());
  }
  return table.emplace(key, Bucket{spec.burst, now}).first->second;
}

void LoginRateLimiter::PruneTable(Table& table, const BucketSpec& spec,
                                  common::SteadyTime now) const {
  for (auto it = table.begin(); it != table.end();) {
    if (Refill(it->second, spec, now) >= spec.burst) {
      it = table.erase(it);
    } else {
      ++it;
    }
  }
}

void LoginRateLimiter::Prune(common::SteadyTime now) {
  PruneTable(pairs_, limits_.per_pair, now);
  PruneTable(addresses_, limits_.per_address, now);
  PruneTable(accounts_, limits_.per_account, now);
  for (auto it = trusted_.begin(); it != trusted_.end();) {
    it = it->second <= now ? trusted_.erase(it) : std::next(it);
  }
  next_prune_ = now + kPruneInterval;
}

std::chrono::milliseconds LoginRateLimiter::WaitFor(double tokens, const BucketSpec& spec) {
  const double missing = std::max(0.0, 1.0 - tokens);
  return std::chrono::milliseconds(static_cast<std::int64_t>(
      std::ceil(missing * static_cast<double>(spec.refill_every.count()))));
}

double LoginRateLimiter::Tokens(Table& table, const std::string& key, const BucketSpec& spec,
                                common::SteadyTime now) const {
  auto it = table.find(key);
  return it == table.end() ? spec.burst : Refill(it->second, spec, now);
}

bool LoginRateLimiter::Trusted(const std::string& pair_key, common::SteadyTime now) const {
  auto it = trusted_.find(pair_key);
  return it != trusted_.end() && it->second > now;
}

GateDecision LoginRateLimiter::Check(std::string_view account, std::string_view address) {
  const common::SteadyTime now = clock_.Now();
  const std::string pair_key = PairKey(account, address);
  std::lock_guard<std::mutex> lock(mutex_);
  if (now >= next_prune_) Prune(now);
  const double pair = Tokens(pairs_, pair_key, limits_.per_pair, now);
  if (pair < 1) return {LoginGate::kThrottledPair, WaitFor(pair, limits_.per_pair)};
  const double by_address = Tokens(addresses_, std::string(address), limits_.per_address, now);
  if (by_address < 1) {
    return {LoginGate::kThrottledAddress, WaitFor(by_address, limits_.per_address)};
  }
  if (!Trusted(pair_key, now)) {
    const double by_account = Tokens(accounts_, std::string(account), limits_.per_account, now);
    if (by_account < 1) {
      return {LoginGate::kThrottledAccount, WaitFor(by_account, limits_.per_account)};
    }
  }
  return {};
}

void LoginRateLimiter::RecordFailure(std::string_view account, std::string_view address) {
  const common::SteadyTime now = clock_.Now();
  const std::string pair_key = PairKey(account, address);
  std::lock_guard<std::mutex> lock(mutex_);
  auto take = [&](Table& table, const std::string& key, const BucketSpec& spec) {
    Bucket& bucket = Find(table, key, spec, now);
    bucket.tokens = std::max(-spec.burst, bucket.tokens - 1);
  };
  take(pairs_, pair_key, limits_.per_pair);
  take(addresses_, std::string(address), limits_.per_address);
  if (!Trusted(pair_key, now)) take(accounts_, std::string(account), limits_.per_account);
}

void LoginRateLimiter::RecordSuccess(std::string_view account, std::string_view address) {
  const common::SteadyTime now = clock_.Now();
  const std::string pair_key = PairKey(account, address);
  std::lock_guard<std::mutex> lock(mutex_);
  pairs_.erase(pair_key);  // a fresh (full) bucket next time
  if (trusted_.size() >= limits_.max_entries && trusted_.find(pair_key) == trusted_.end()) {
    Prune(now);
    while (trusted_.size() >= limits_.max_entries) trusted_.erase(trusted_.begin());
  }
  trusted_[pair_key] = now + limits_.trusted_for;
}

std::size_t LoginRateLimiter::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pairs_.size() + addresses_.size() + accounts_.size() + trusted_.size();
}

}  // namespace sparrow::authsvc
