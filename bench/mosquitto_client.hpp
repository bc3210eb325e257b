// Small helpers around libmosquitto shared by the load generator and the ceiling relay: one
// place that creates a client the way both need it (MQTT version, TCP_NODELAY, in-flight
// window) and without libmosquitto's wake-up socket pair.
//
// Why without the socket pair: mosquitto_new() opens a socketpair per client (3 descriptors
// per connection in all) so that mosquitto_loop() can be woken from another thread, and
// libmosquitto 2.0 writes one byte into it for every packet it queues, even for clients whose
// loop it never runs. Programs that drive the sockets themselves (epoll here) need neither:
// without it a process of 20,000 descriptors holds ~19,000 connections instead of ~6,600, and
// every publish saves a write(2). libmosquitto has no option for it; when socketpair() fails
// it logs a warning and carries on without one, so NewClient makes it fail by lowering
// RLIMIT_NOFILE to the lowest free descriptor for the duration of mosquitto_new().
// That window is a few microseconds, but another thread opening a file during it would get
// EMFILE: create clients before starting threads that open files (the load generator creates
// all its clients on the caller's thread before its loop threads start).
//
// Thread safety: NewClient is not thread-safe with other threads opening files (see above);
// everything else is plain libmosquitto.
#pragma once

#include <string>

struct mosquitto;

namespace sparrow::bench {

struct ClientSettings {
  std::string client_id;
  std::string username;
  std::string password;
  int protocol_version = 5;  // 5 or 4 (3.1.1)
  int max_inflight = 1000;   // QoS 1 messages in flight each way (receive/send maximum)
  bool without_wake_pipe = true;
};

// mosquitto_lib_init(), once per process. Thread-safe.
void InitMosquittoOnce();

// A clean-session client configured as above, with `userdata` as the callbacks' obj. Throws
// std::runtime_error if libmosquitto cannot create or configure it.
mosquitto* NewClient(const ClientSettings& settings, void* userdata);

// The number of descriptors a client costs (1 without the wake pipe, 3 with it), measured
// once by creating a client: for sizing processes. Not thread-safe (calls NewClient).
int DescriptorsPerClient(bool without_wake_pipe);

}  // namespace sparrow::bench
