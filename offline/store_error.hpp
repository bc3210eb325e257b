// The exception the message store and the account store throw when the database fails.
#pragma once

#include <string>

#include "common/error.hpp"

namespace sparrow::offline {

// A failure of the database itself (never of the data given to the store: outcomes such as a
// duplicate chat are values). Thrown by MessageStore and AccountStore implementations after
// their own internal retries are used up.
class StoreError : public common::Error {
 public:
  StoreError(const std::string& what, bool retryable) : Error(what), retryable_(retryable) {}

  // True when making the same call again may succeed: the connection was lost (the next call
  // reconnects), a lock wait timed out, the database was busy or deadlocked. False when the
  // same call would fail the same way (bad schema, disk full, a bug): the caller should stop.
  bool retryable() const noexcept { return retryable_; }

 private:
  bool retryable_;
};

}  // namespace sparrow::offline
