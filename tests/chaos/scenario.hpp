// What every chaos scenario shares: its size (SHORT by default, FULL with SPARROW_CHAOS_FULL=1),
// the report line it prints, and the supervisor that restarts dead services as the launcher
// does in production (the stack fixture never restarts anything by itself).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "testing/stack/stack.hpp"
#include "tests/chaos/history.hpp"

namespace sparrow::chaos {

// True when SPARROW_CHAOS_FULL is set to something other than "" or "0".
bool FullRun();

// `short_value` normally, `full_value` in a FULL run.
template <class T>
T Size(T short_value, T full_value) {
  return FullRun() ? full_value : short_value;
}

// Prints "CHAOS scenario=NAME size=short|full FIGURES EXTRA seconds=S" on stdout and appends the
// same line to $SPARROW_CHAOS_REPORT when set (tests/chaos/run.sh collects them).
void Report(const std::string& scenario, const Figures& figures, const std::string& extra,
            double seconds);

// Restarts the stack's bridges and sync service when they die (a failpoint's abort, a crash),
// counting deaths by cause. Call Tend() from the test thread (ChildProcess rules), often.
class Supervisor {
 public:
  // `options`: what the stack was started with (which services exist).
  // `disarm_after` > 0: a service that died that many times is restarted with its failpoints
  // disarmed (SPARROW_FAILPOINTS emptied), so that a point hit at every life (a replay longer
  // than the failpoint's "#N") cannot keep a service down for ever.
  Supervisor(testing::SparrowStack& stack, const testing::StackOptions& options,
             int disarm_after = 0)
      : stack_(stack),
        bridges_(options.bridges),
        offline_(options.offline),
        disarm_after_(disarm_after) {}
  // Restarts every dead service; returns how many it restarted.
  int Tend();
  int restarts() const { return restarts_; }
  // "bridge-0:SIGABRT=3 offline:SIGABRT=1" (empty when nothing died).
  std::string Deaths() const;

 private:
  testing::SparrowStack& stack_;
  const int bridges_;
  const bool offline_;
  const int disarm_after_;
  int restarts_ = 0;
  std::map<std::string, int> deaths_by_service_;
  std::map<std::string, int> deaths_;  // "name:cause" -> count
};

}  // namespace sparrow::chaos
