// A small pool of AccountStores (one database connection each) shared by the HTTP workers:
// an AccountStore is not thread-safe, so each request borrows one for its duration.
//
//   AccountStorePool pool([&] { return std::make_unique<AccountStore>(db, clock); }, 16);
//   { auto store = pool.Acquire(); store->GetUser("alice"); }   // returned at scope exit
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "offline/account_store.hpp"

namespace sparrow::authsvc {

// Thread-safe: `mutex_` guards `idle_` and `created_`.
class AccountStorePool {
 public:
  using Factory = std::function<std::unique_ptr<offline::AccountStore>()>;

  // Connections are opened lazily by `factory` (which may throw StoreError / ConfigError; the
  // exception reaches the caller of Acquire), at most `max_size` (>= 1) of them.
  AccountStorePool(Factory factory, std::size_t max_size);
  AccountStorePool(const AccountStorePool&) = delete;
  AccountStorePool& operator=(const AccountStorePool&) = delete;

  // A borrowed store, given back when the lease goes away. Movable, not copyable.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), store_(std::move(other.store_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    offline::AccountStore* operator->() const { return store_.get(); }
    offline::AccountStore& operator*() const { return *store_; }

   private:
    friend class AccountStorePool;
    Lease(AccountStorePool& pool, std::unique_ptr<offline::AccountStore> store)
        : pool_(pool), store_(std::move(store)) {}
    AccountStorePool& pool_;
    std::unique_ptr<offline::AccountStore> store_;
  };

  // An idle store, a new one if fewer than max_size exist, else waits for one to come back.
  Lease Acquire();

  std::size_t created() const;

 private:
  void Return(std::unique_ptr<offline::AccountStore> store);

  Factory factory_;
  const std::size_t max_size_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<offline::AccountStore>> idle_;
  std::size_t created_ = 0;
};

}  // namespace sparrow::authsvc
