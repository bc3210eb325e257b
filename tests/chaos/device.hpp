// ChaosDevice: one device of the chaos load, a real client::Client (the library apps embed) whose
// every user-visible effect becomes an Event (history.hpp): what it was asked to send, SENT and
// failures, every message it displayed (on_message), the receipts it showed, its connection.
// The same class runs inside the test process and inside the helper process
// (chaos_device_main.cpp) that the scenarios pause and kill.
//
// Displaying: on_message logs kDisplayed, optionally sleeps (a slow consumer), and marks one
// incoming message in `read_every` as read (MarkRead, logged as kMarkedRead). DELIVERED is the
// library's own business.
//
// Thread-safe: Send() may be called from any thread, also while the test thread calls
// Restart(); `mutex_` (shared for Send, exclusive for Start/Stop) guards client_. Callbacks run
// on the client's thread and never take mutex_ (Stop joins that thread under it).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "client/client.hpp"
#include "client/key_ring.hpp"
#include "tests/chaos/history.hpp"

namespace sparrow::chaos {

using EventSink = std::function<void(Event)>;

struct DeviceOptions {
  std::string user;
  std::string device;
  std::string token;
  std::string mqtt_host = "127.0.0.1";
  int mqtt_port = 1883;
  std::filesystem::path state_dir;  // this device's own folder
  // "paho" (what apps use) or "mosquitto" (libmosquitto: cheaper, for thousands of devices).
  std::string transport = "paho";
  std::map<std::string, std::string> keys;  // peer -> 32-byte relation key
  client::Outbox::Options outbox{};
  client::ReorderBuffer::Options reorder{};
  std::chrono::milliseconds sync_timeout{4000};
  std::chrono::milliseconds display_delay{0};  // a slow consumer: on_message takes this long
  int read_every = 0;                          // mark 1 in N incoming messages read (0: none)
  int first_incarnation = 1;
};

class ChaosDevice {
 public:
  ChaosDevice(DeviceOptions options, EventSink sink);
  ~ChaosDevice();
  ChaosDevice(const ChaosDevice&) = delete;
  ChaosDevice& operator=(const ChaosDevice&) = delete;

  // A new incarnation: creates the Client on the state folder and connects. No-op if running.
  void Start();
  // Disconnect (state saved): the incarnation ends cleanly.
  void Stop();
  void Restart() {
    Stop();
    Start();
  }

  // Queues a text (logs kAttempt, or kRefused when the library refuses it at once). False when
  // refused or stopped.
  bool Send(const std::string& peer, const std::string& text);
  // Messages queued and not yet acknowledged (0 when stopped).
  std::size_t Pending() const;
  bool WaitSynced(std::chrono::milliseconds timeout);
  bool running() const;

  const std::string& name() const { return name_; }
  const DeviceOptions& options() const { return options_; }
  int incarnation() const { return incarnation_; }

 private:
  void Log(Event e) const;

  DeviceOptions options_;
  EventSink sink_;
  std::string name_;
  client::InMemoryKeyRing keys_;
  mutable std::shared_mutex mutex_;  // guards client_ and incarnation_
  std::unique_ptr<client::Client> client_;
  int incarnation_ = 0;
};

}  // namespace sparrow::chaos
