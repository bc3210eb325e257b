// The chaos load: users in pairs of friends, each with one or more devices (ChaosDevice: a real
// client::Client each, with its own state folder), sending messages with unique texts at a
// target rate while the scenario breaks things, everything logged to a History.
//
//   Load load(stack, history, LoadOptions{.pairs = 4, .devices_per_user = 2});
//   load.Setup(tend);                       // users, friendships, keys, devices synced
//   load.StartSending(10'000, 500.0);       // in the background
//   ... kill things; call tend() (restart services) ...
//   load.WaitSendingDone(tend, 120s);
//   bool quiet = load.WaitQuiet(60s, tend); // outboxes empty, everything displayed
//   load.Finish(60s, tend);                 // each device reconnects (final sync), settles
//   CheckResult r = load.Check();           // figures, with the store audit
//
// Users are `{prefix}{i}` (i = 0 .. 2*pairs-1); users 2k and 2k+1 are friends. Device "d0" of
// every user sends to its friend; every device displays. One sender thread per 16 sending
// devices (at most 4) paces the sends; a device with `max_pending` messages unacknowledged is
// skipped (the rate is then what the system takes: see sent_rate()).
//
// Not thread-safe: the test thread owns it (the sender threads are its own).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "testing/stack/stack.hpp"
#include "tests/chaos/device.hpp"
#include "tests/chaos/history.hpp"
#include "tests/chaos/remote_device.hpp"

namespace sparrow::chaos {

using Tend = std::function<void()>;

struct LoadOptions {
  std::string prefix = "u";  // user ids: prefix + index (valid user ids: 3+ characters)
  int pairs = 2;
  int devices_per_user = 1;
  // How many users of each pair send: 2 (both ways) or 1 (the even user only).
  int senders_per_pair = 2;
  std::string transport = "paho";
  // The MQTT port the devices use (0: the stack's first broker). A proxy's, for the storm.
  int mqtt_port = 0;
  // The library's retransmission policy, with a first resend after 2 s instead of 5 s (so that
  // short runs recover quickly): 6 tries over about 90 s, then the message fails.
  client::Outbox::Options outbox{.ack_timeout = std::chrono::milliseconds(2000),
                                 .max_backoff = std::chrono::milliseconds(30000),
                                 .max_attempts = 6,
                                 .window = 32,
                                 .quarantine = std::chrono::milliseconds(7000)};
  std::chrono::milliseconds sync_timeout{3000};
  int read_every = 7;
  std::size_t max_pending = 200;
  // Where the devices' state folders go (empty: /dev/shm when it exists, else $TMPDIR).
  std::filesystem::path state_root;
  // Devices started/restarted at once by Setup and Finish.
  int parallel_starts = 8;
  // Adjusts the options of device `device` of user `user` before it is created (e.g. a slow
  // consumer).
  std::function<void(int user, int device, DeviceOptions&)> customize{};
};

class Load {
 public:
  Load(testing::SparrowStack& stack, History& history, LoadOptions options);
  ~Load();
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  // Creates users and friendships, starts every device and waits until each synced (throws
  // std::runtime_error naming the device otherwise). Watches every device (History::Watch).
  void Setup(const Tend& tend, std::chrono::milliseconds timeout = std::chrono::seconds(120));

  // Sends `total` messages at `rate` per second (0: as fast as the system takes) in the
  // background. Call once at a time; StopSending() or WaitSendingDone() ends it.
  void StartSending(std::int64_t total, double rate);
  bool WaitSendingDone(const Tend& tend, std::chrono::milliseconds timeout);
  void StopSending();
  std::int64_t queued() const { return queued_.load(); }
  // Messages per second the last sending phase achieved.
  double sent_rate() const { return sent_rate_; }

  // Waits until no message is unresolved (every Send has SENT or failed) and every watched
  // device displayed every SENT message it must show. Calls tend() every poll.
  bool WaitQuiet(std::chrono::milliseconds timeout, const Tend& tend);

  // The end of the run: logs kFinalSync for every device (attached helpers included), restarts
  // it (a fresh connection and `sync`), waits until each synced and the history is quiet, then
  // logs kSettled.
  bool Finish(std::chrono::milliseconds timeout, const Tend& tend);
  // The same for one device, which is then stopped and no longer watched (a device that leaves
  // in the middle of a run, e.g. at the end of an iteration).
  bool SettleAndStop(ChaosDevice& device, std::chrono::milliseconds timeout, const Tend& tend);

  // A helper-process device that Finish() restarts and settles too (the test polls it in tend).
  void Attach(RemoteDevice* remote);
  // An extra in-process device (owned by the test) that Finish() restarts and settles too.
  void Attach(ChaosDevice* device);

  // The checker's result over the history, with the store audit (AuditStore) and `outages`.
  CheckResult Check(const std::vector<Outage>& outages = {});

  std::string user(int index) const;
  std::string friend_of(int index) const { return user(index ^ 1); }
  int users() const { return options_.pairs * 2; }
  ChaosDevice& device(int user_index, int device_index);
  std::vector<ChaosDevice*> all_devices();
  // The relation key of the pair of user `index` (32 bytes).
  const std::string& key(int index) const { return keys_.at(static_cast<std::size_t>(index / 2)); }
  std::optional<std::string> KeyOf(const std::string& a, const std::string& b) const;
  // A device option set for `user_index` (state folder, token, keys), e.g. for a helper process.
  DeviceOptions OptionsFor(int user_index, const std::string& device) const;
  const std::filesystem::path& state_root() const { return state_root_; }
  History& history() { return history_; }

  // Runs `work` on every device, `parallel` at a time (threads), e.g. to restart them.
  static void ForEachParallel(const std::vector<ChaosDevice*>& devices, int parallel,
                              const std::function<void(ChaosDevice&)>& work);

 private:
  void SendLoop(std::vector<ChaosDevice*> senders, std::int64_t quota, double rate);

  testing::SparrowStack& stack_;
  History& history_;
  LoadOptions options_;
  std::filesystem::path state_root_;
  bool own_state_root_ = false;
  std::string run_;  // a nonce in every text
  // Which StartSending this is: in every text, so that the numbering restarting at each call
  // never gives two messages the same text (the checker and the store audit key on texts).
  int round_ = 0;
  std::vector<std::string> keys_;
  std::unordered_map<std::string, int> index_of_;                   // user id -> index
  std::vector<std::vector<std::unique_ptr<ChaosDevice>>> devices_;  // [user][device]
  std::vector<RemoteDevice*> remotes_;
  std::vector<ChaosDevice*> extra_;
  std::vector<std::thread> senders_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> queued_{0};
  std::atomic<int> senders_running_{0};
  std::chrono::steady_clock::time_point send_started_{};
  double sent_rate_ = 0;
};

}  // namespace sparrow::chaos
