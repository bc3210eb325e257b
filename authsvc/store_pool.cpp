#include "authsvc/store_pool.hpp"

#include <stdexcept>

namespace sparrow::authsvc {

AccountStorePool::AccountStorePool(Factory factory, std::size_t max_size)
    : factory_(std::move(factory)), max_size_(max_size) {
  if (max_size_ < 1) throw std::invalid_argument("AccountStorePool: max_size must be >= 1");
}

AccountStorePool::Lease::~Lease() {
  if (store_) pool_.Return(std::move(store_));
}

AccountStorePool::Lease AccountStorePool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    returned_.wait(lock, [this] { return !idle_.empty() || created_ < max_size_; });
    if (!idle_.empty()) {
      auto store = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(store));
    }
    ++created_;  // reserve the slot; the connection opens outside the lock
  }
  try {
    return Lease(*this, factory_());
  } catch (...) {  // give the slot back, then let the caller's boundary handle the failure
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --created_;
    }
    returned_.notify_one();
    throw;
  }
}

void AccountStorePool::Return(std::unique_ptr<offline::AccountStore> store) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(store));
  }
  returned_.notify_one();
}

std::size_t AccountStorePool::created() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return created_;
}

}  // namespace sparrow::authsvc
