// Applies each device's chats in `id` order: the original design's lastId + waiting queue.
//
// Per device the orderer knows `last_id` (the highest id accepted, loaded from the store on
// first contact) and holds chats that arrived before their predecessor. For each chat offered:
//   id <= last_id           -> kRepeat: answer with the stored SENT, store nothing;
//   id == last_id + 1       -> kReady: the caller decides now (stores it, then Accept(); or
//                              refuses it, e.g. not_friends, then Refuse());
//   id >  last_id + 1       -> kWaiting (bounded per device: beyond the bound -> kRefused with
//                              out_of_order and `expected` = last_id + 1).
// A chat that waited longer than `max_wait` is refused by Expire() with out_of_order, together
// with every chat of its device still waiting: the device renumbers from `expected`.
//
// Not thread-safe: owned by the bridge's core thread. Time is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "protocol/frames.hpp"
#include "protocol/identity.hpp"

namespace sparrow::bridge {

struct DeviceKeyHash {
  std::size_t operator()(const protocol::DeviceAddress& d) const noexcept {
    return std::hash<std::string>()(d.user) * 31 + std::hash<std::string>()(d.device);
  }
};

class ChatOrderer {
 public:
  struct Options {
    std::chrono::milliseconds max_wait{2000};
    std::size_t max_waiting_per_device = 256;
    // Device states beyond this many are dropped when idle (no chat waiting); they are loaded
    // again from the store on the device's next chat.
    std::size_t max_devices = 200'000;
  };

  enum class Verdict { kReady, kRepeat, kWaiting, kRefused };

  // A chat the orderer hands back with the `origin` it was offered with (the bridge's broker
  // index: answers go back where the chat came from). Refused ones carry the id the server
  // waits for.
  struct Held {
    protocol::ChatUp chat;
    int origin = 0;
  };
  struct Refusal {
    protocol::DeviceAddress device;
    protocol::ChatUp chat;
    int origin = 0;
    std::int64_t expected = 0;
  };

  explicit ChatOrderer(Options options);

  // True when the device's last id is known (else the caller loads it and calls Load first).
  bool Known(const protocol::DeviceAddress& device) const;
  // Sets the device's last id from the store. Precondition: !Known(device). May drop idle
  // states of other devices (see Options::max_devices).
  void Load(const protocol::DeviceAddress& device, std::int64_t last_id, common::SteadyTime now);

  // Offers an arriving chat. Precondition: Known(device). A kWaiting chat is kept; a kReady one
  // must be followed by Accept or Refuse for that id before the next Offer for the device.
  // A chat equal in id to one already waiting is a repeat of it: kRepeat (dropped).
  Verdict Offer(const protocol::DeviceAddress& device, const protocol::ChatUp& chat,
                common::SteadyTime now, int origin = 0);

  // The kReady chat `id` was accepted: last_id = id. Returns the waiting successor that is now
  // ready (id + 1), if any; the caller treats it like a kReady chat.
  std::optional<Held> Accept(const protocol::DeviceAddress& device, std::int64_t id);

  // The kReady chat `id` was refused (it does not use up its id). Every chat of the device
  // still waiting is refused too (out_of_order, expected = id) and returned.
  std::vector<Refusal> Refuse(const protocol::DeviceAddress& device, std::int64_t id);

  // Chats that waited longer than max_wait, with every other chat of their device that waits:
  // out_of_order, expected = last_id + 1.
  std::vector<Refusal> Expire(common::SteadyTime now);

  // When Expire() next has work (nullopt: nothing waits).
  std::optional<common::SteadyTime> NextDeadline() const;

  // Drops the device's state, waiting chats included (e.g. after a failed commit, when the
  // in-memory last id is ahead of the store): the clients resend and the state is reloaded.
  void Forget(const protocol::DeviceAddress& device);
  void ForgetAll();
  // Drops the state of every device for which `pred(device)` is true (ownership moved).
  void ForgetIf(const std::function<bool(const protocol::DeviceAddress&)>& pred);

  // The device's `expected` id (last_id + 1). Precondition: Known(device).
  std::int64_t Expected(const protocol::DeviceAddress& device) const;

  std::size_t devices() const { return devices_.size(); }
  std::size_t waiting() const { return waiting_total_; }

 private:
  struct Waiting {
    protocol::ChatUp chat;
    common::SteadyTime arrived;
    int origin = 0;
  };
  struct DeviceState {
    std::int64_t last_id = 0;
    std::map<std::int64_t, Waiting> waiting;  // by id
    common::SteadyTime last_used{};
  };

  std::vector<Refusal> RefuseAllWaiting(const protocol::DeviceAddress& device, DeviceState& state,
                                        std::int64_t expected);
  void MaybeEvictIdle();

  Options options_;
  std::unordered_map<protocol::DeviceAddress, DeviceState, DeviceKeyHash> devices_;
  std::size_t waiting_total_ = 0;
};

}  // namespace sparrow::bridge
