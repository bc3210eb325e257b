// RemoteDevice: a chaos device in a process of its own (sparrow-chaos-device, built from
// chaos_device_main.cpp), so that a scenario can do to it what happens to phones and laptops:
// SIGSTOP it (a frozen app), SIGKILL it (killed mid-sync), start it again on the same state
// folder. The helper prints its events as JSON lines; Poll() reads them into the History.
//
// Each Start() is a new incarnation (its own log file). Kill() logs kCrashed for the
// incarnation that died, after reading what it printed.
//
// Not thread-safe: the test thread owns it (ChildProcess rules: start it from a thread that
// outlives the process).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "testing/mqtt/child_process.hpp"
#include "tests/chaos/device.hpp"
#include "tests/chaos/history.hpp"

namespace sparrow::chaos {

struct RemoteDeviceOptions {
  DeviceOptions device;           // as for an in-process device
  std::filesystem::path log_dir;  // the helper's event logs, one file per incarnation
  // The first incarnation sends `send_count` texts to `send_to` (empty: it only receives).
  std::string send_to;
  std::int64_t send_count = 0;    // messages to send
  double send_rate = 0;           // per second
  std::string text_prefix = "r";  // texts: "{prefix} {device}>{peer} #{n}"
};

// The helper binary (from the build; SPARROW_BIN_DIR overrides the folder).
std::string ChaosDeviceBinary();

class RemoteDevice {
 public:
  RemoteDevice(RemoteDeviceOptions options, History& history);
  ~RemoteDevice();  // Stop()
  RemoteDevice(const RemoteDevice&) = delete;
  RemoteDevice& operator=(const RemoteDevice&) = delete;

  // A new incarnation (no-op if running).
  void Start();
  // SIGTERM: the helper disconnects cleanly (state saved) and exits.
  void Stop();
  // SIGKILL, then kCrashed for the incarnation.
  void Kill();
  void Pause();
  void Resume();
  void Restart() {
    Stop();
    Start();
  }

  // Reads the events printed since the last Poll into the History. Returns how many.
  int Poll();
  bool running();
  // Events of the current incarnation seen so far, by kind.
  int displayed() const { return displayed_; }
  int sent_acks() const { return sent_; }
  bool synced() const { return synced_; }

  const std::string& name() const { return name_; }
  int incarnation() const { return incarnation_; }
  std::string Log() const;

 private:
  RemoteDeviceOptions options_;
  History& history_;
  std::string name_;
  int incarnation_ = 0;
  std::unique_ptr<testing::ChildProcess> process_;
  std::filesystem::path log_path_;
  std::uint64_t offset_ = 0;
  std::string partial_;
  int displayed_ = 0;
  int sent_ = 0;
  bool synced_ = false;
};

}  // namespace sparrow::chaos
