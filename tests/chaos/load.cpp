#include "tests/chaos/load.hpp"

#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "client/crypto.hpp"
#include "common/ids.hpp"
#include "tests/chaos/store_audit.hpp"

namespace sparrow::chaos {
namespace {

using namespace std::chrono_literals;

std::filesystem::path MakeStateRoot() {
  std::string base = "/dev/shm";
  if (!std::filesystem::is_directory(base)) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = base + "/sparrow-chaos-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("chaos: mkdtemp failed for " + pattern);
  }
  return pattern;
}

}  // namespace

Load::Load(testing::SparrowStack& stack, History& history, LoadOptions options)
    : stack_(stack), history_(history), options_(std::move(options)) {
  if (options_.state_root.empty()) {
    state_root_ = MakeStateRoot();
    own_state_root_ = true;
  } else {
    state_root_ = options_.state_root;
    std::filesystem::create_directories(state_root_);
  }
  run_ = common::NewMid(0).substr(16);  // 10 random characters
}

Load::~Load() {
  StopSending();
  std::vector<ChaosDevice*> all = all_devices();
  ForEachParallel(all, options_.parallel_starts, [](ChaosDevice& d) { d.Stop(); });
  devices_.clear();
  if (own_state_root_ && std::getenv("SPARROW_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(state_root_, ignored);
  }
}

std::string Load::user(int index) const { return options_.prefix + "-" + std::to_string(index); }

ChaosDevice& Load::device(int user_index, int device_index) {
  return *devices_.at(static_cast<std::size_t>(user_index))
              .at(static_cast<std::size_t>(device_index));
}

std::vector<ChaosDevice*> Load::all_devices() {
  std::vector<ChaosDevice*> out;
  for (auto& list : devices_) {
    for (auto& d : list) out.push_back(d.get());
  }
  return out;
}

std::optional<std::string> Load::KeyOf(const std::string& a, const std::string& b) const {
  auto it = index_of_.find(a);
  if (it == index_of_.end() || friend_of(it->second) != b) return std::nullopt;
  return key(it->second);
}

DeviceOptions Load::OptionsFor(int user_index, const std::string& device) const {
  DeviceOptions o;
  o.user = user(user_index);
  o.device = device;
  o.token = stack_.Token(o.user, common::Role::kUser, 12LL * 3600 * 1000);
  o.mqtt_port = options_.mqtt_port != 0 ? options_.mqtt_port : stack_.broker(0).port();
  o.state_dir = state_root_ / o.user / device;
  o.transport = options_.transport;
  o.keys = {{friend_of(user_index), key(user_index)}};
  o.outbox = options_.outbox;
  o.sync_timeout = options_.sync_timeout;
  o.read_every = options_.read_every;
  return o;
}

void Load::ForEachParallel(const std::vector<ChaosDevice*>& devices, int parallel,
                           const std::function<void(ChaosDevice&)>& work) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  const int n = std::max(1, std::min<int>(parallel, static_cast<int>(devices.size())));
  std::mutex error_mutex;
  std::string error;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < devices.size(); i = next++) {
        try {
          work(*devices[i]);
        } catch (const std::exception& e) {  // reported to the test thread below
          std::lock_guard<std::mutex> lock(error_mutex);
          if (error.empty()) error = devices[i]->name() + ": " + e.what();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error(error);
}

void Load::Setup(const Tend& tend, std::chrono::milliseconds timeout) {
  for (int i = 0; i < options_.pairs; ++i) {
    stack_.Befriend(user(2 * i), user(2 * i + 1));
    keys_.push_back(client::RandomBytes(32));
  }
  for (int u = 0; u < users(); ++u) index_of_[user(u)] = u;
  devices_.resize(static_cast<std::size_t>(users()));
  for (int u = 0; u < users(); ++u) {
    for (int d = 0; d < options_.devices_per_user; ++d) {
      DeviceOptions o = OptionsFor(u, "d" + std::to_string(d));
      if (options_.customize) options_.customize(u, d, o);
      devices_[static_cast<std::size_t>(u)].push_back(std::make_unique<ChaosDevice>(
          std::move(o), [this](Event e) { history_.Append(std::move(e)); }));
    }
  }
  if (tend) tend();
  std::vector<ChaosDevice*> all = all_devices();
  for (auto* d : all) history_.Watch(d->name());
  ForEachParallel(all, options_.parallel_starts, [&](ChaosDevice& d) {
    d.Start();
    if (!d.WaitSynced(timeout)) throw std::runtime_error("did not sync at start");
  });
}

void Load::StartSending(std::int64_t total, double rate) {
  StopSending();
  stop_ = false;
  std::vector<ChaosDevice*> senders;
  for (int u = 0; u < users(); ++u) {
    if (options_.senders_per_pair == 1 && u % 2 == 1) continue;
    senders.push_back(&device(u, 0));
  }
  const int threads = std::clamp(static_cast<int>((senders.size() + 15) / 16), 1, 4);
  send_started_ = std::chrono::steady_clock::now();
  queued_ = 0;
  ++round_;
  for (int t = 0; t < threads; ++t) {
    std::vector<ChaosDevice*> mine;
    for (std::size_t i = static_cast<std::size_t>(t); i < senders.size();
         i += static_cast<std::size_t>(threads)) {
      mine.push_back(senders[i]);
    }
    std::int64_t quota = total / threads + (t < total % threads ? 1 : 0);
    ++senders_running_;
    senders_.emplace_back([this, mine, quota, rate, threads] {
      SendLoop(mine, quota, rate > 0 ? rate / threads : 0);
      --senders_running_;
    });
  }
}

void Load::SendLoop(std::vector<ChaosDevice*> senders, std::int64_t quota, double rate) {
  std::vector<std::int64_t> counters(senders.size(), 0);
  std::size_t next = 0;
  const auto interval =
      rate > 0 ? std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / rate)) : 0ns;
  auto due = std::chrono::steady_clock::now();
  std::int64_t done = 0;
  while (done < quota && !stop_) {
    if (interval > 0ns) {
      const auto now = std::chrono::steady_clock::now();
      if (due > now) std::this_thread::sleep_for(due - now);
      if (now - due > 1s) due = now;  // far behind (stalled): do not burst to catch up
      due += interval;
    }
    // The next device that is not saturated.
    bool sent = false;
    while (!sent && !stop_) {
      for (std::size_t tried = 0; tried < senders.size() && !sent; ++tried) {
        const std::size_t i = next;
        next = (next + 1) % senders.size();
        ChaosDevice& d = *senders[i];
        if (d.Pending() >= options_.max_pending) continue;
        const std::string peer = friend_of(index_of_.at(d.options().user));
        const std::string text = run_ + " " + d.name() + ">" + peer + " #" +
                                 std::to_string(round_) + "." + std::to_string(++counters[i]);
        if (d.Send(peer, text)) {
          sent = true;
          ++queued_;
          ++done;
        }
      }
      if (!sent) std::this_thread::sleep_for(2ms);  // every device saturated (or stopped)
    }
  }
}

bool Load::WaitSendingDone(const Tend& tend, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (senders_running_ > 0 && std::chrono::steady_clock::now() < until) {
    if (tend) tend();
    std::this_thread::sleep_for(20ms);
  }
  const bool done = senders_running_ == 0;
  StopSending();
  return done;
}

void Load::StopSending() {
  stop_ = true;
  for (auto& t : senders_) t.join();
  senders_.clear();
  if (queued_ > 0) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - send_started_).count();
    if (seconds > 0) sent_rate_ = static_cast<double>(queued_.load()) / seconds;
  }
}

bool Load::WaitQuiet(std::chrono::milliseconds timeout, const Tend& tend) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (history_.Unresolved() == 0 && history_.MissingDisplays() == 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    if (tend) tend();
    std::this_thread::sleep_for(20ms);
  }
}

void Load::Attach(RemoteDevice* remote) {
  remotes_.push_back(remote);
  history_.Watch(remote->name());
}

void Load::Attach(ChaosDevice* device) {
  extra_.push_back(device);
  history_.Watch(device->name());
}

bool Load::Finish(std::chrono::milliseconds timeout, const Tend& tend) {
  StopSending();
  std::vector<ChaosDevice*> all = all_devices();
  all.insert(all.end(), extra_.begin(), extra_.end());
  for (auto* d : all) {
    history_.Append(Event{.kind = EventKind::kFinalSync, .t_ns = NowNs(), .device = d->name()});
  }
  for (auto* r : remotes_) {
    history_.Append(Event{.kind = EventKind::kFinalSync, .t_ns = NowNs(), .device = r->name()});
    r->Restart();
  }
  ForEachParallel(all, options_.parallel_starts, [](ChaosDevice& d) { d.Restart(); });
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool ok = true;
  for (auto* d : all) {
    while (!d->WaitSynced(100ms)) {
      if (tend) tend();
      if (std::chrono::steady_clock::now() >= until) {
        ok = false;
        break;
      }
    }
  }
  for (auto* r : remotes_) {
    while (!r->synced()) {
      r->Poll();
      if (tend) tend();
      if (std::chrono::steady_clock::now() >= until) {
        ok = false;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  ok = WaitQuiet(std::max(left, std::chrono::milliseconds(1000)), tend) && ok;
  for (auto* d : all) {
    history_.Append(Event{.kind = EventKind::kSettled, .t_ns = NowNs(), .device = d->name()});
  }
  for (auto* r : remotes_) {
    r->Poll();
    history_.Append(Event{.kind = EventKind::kSettled, .t_ns = NowNs(), .device = r->name()});
  }
  return ok;
}

bool Load::SettleAndStop(ChaosDevice& device, std::chrono::milliseconds timeout, const Tend& tend) {
  history_.Append(Event{.kind = EventKind::kFinalSync, .t_ns = NowNs(), .device = device.name()});
  device.Restart();
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool ok = true;
  while (!device.WaitSynced(100ms)) {
    if (tend) tend();
    if (std::chrono::steady_clock::now() >= until) {
      ok = false;
      break;
    }
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  ok = WaitQuiet(std::max(left, std::chrono::milliseconds(1000)), tend) && ok;
  history_.Append(Event{.kind = EventKind::kSettled, .t_ns = NowNs(), .device = device.name()});
  history_.Forget(device.name());
  device.Stop();
  return ok;
}

CheckResult Load::Check(const std::vector<Outage>& outages) {
  for (auto* r : remotes_) r->Poll();
  CheckOptions options;
  options.store = AuditStore(
      stack_.db_url(), [this](const std::string& a, const std::string& b) { return KeyOf(a, b); });
  options.outages = outages;
  return chaos::Check(history_.Events(), options);
}

}  // namespace sparrow::chaos
