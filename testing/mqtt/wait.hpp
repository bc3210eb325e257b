// Waiting in tests: the only place a test may sleep, and only while polling a condition
// against a deadline. A test that needs time to pass in logic under test advances a
// ManualClock instead.
#pragma once

#include <chrono>
#include <thread>

namespace sparrow::testing {

// Calls `pred()` until it returns true (then returns true) or `deadline` has passed (then
// returns false after one last check), sleeping `poll` between calls. Runs `pred` on the
// calling thread.
//   ASSERT_TRUE(WaitUntil([&] { return received.size() == 10; }, 5s));
template <class Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds deadline,
               std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= until) return pred();
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace sparrow::testing
