// Failpoints: named places where a test build can make the process die, to prove that a crash
// at the worst moment loses nothing (tests/chaos/, docs/reliability.md).
//
//   SPARROW_FAILPOINT("bridge.after_commit_before_sent");
//
// Compiled only when the build defines SPARROW_FAILPOINTS (cmake -DSPARROW_FAILPOINTS=ON, which
// `./sparrow test` uses); otherwise the macro is empty. At run time the environment variable
// SPARROW_FAILPOINTS="name=probability[,name=probability...]" arms points: each time an armed
// point is passed, the process aborts (SIGABRT, no cleanup, like a kill -9) with that
// probability (0..1). "name=#N" aborts instead at the Nth pass of the point in this process
// (so a restarted process gets N-1 passes again: deterministic, and every life progresses).
// Unknown names are ignored. Thread-safe.
#pragma once

#include <string_view>

namespace sparrow::common {

// True when the point `name` is armed and its dice say "fail now". Reads the environment
// once, on first use.
bool FailpointHit(std::string_view name);

// Aborts the process when FailpointHit(name).
void Failpoint(std::string_view name);

}  // namespace sparrow::common

#ifdef SPARROW_FAILPOINTS
#define SPARROW_FAILPOINT(name) ::sparrow::common::Failpoint(name)
#else
#define SPARROW_FAILPOINT(name) \
  do {                          \
  } while (false)
#endif
