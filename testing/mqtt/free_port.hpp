// A free TCP port on loopback for a test server (broker, HTTP service, database).
#pragma once

namespace sparrow::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket and returns it.
// Race: another process may take the port between this call and the server's bind; the
// kernel hands out ephemeral ports round-robin, so this is rare, and servers started by
// the test helpers (MosquittoProcess) retry on a fresh port when their bind fails.
// Throws std::system_error if no socket can be bound. Thread-safe.
int FreePort();

}  // namespace sparrow::testing
