// LeakSanitizer suppressions for test binaries that create Paho clients: Paho C 1.3.12
// (libpaho-mqtt3as) leaks a few hundred bytes inside the library for some clients that are
// destroyed (seen for clients that never connected). Compiled into each such test binary:
// LSan reads this hook at exit. Only the library's own allocations are suppressed.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libpaho-mqtt3as.so\n";
}
