// Which bridge instance applies which device's frames. A plain shared subscription would hand
// consecutive frames of one device to different instances and break id order, so instead every
// bridge receives every im/up frame and applies only the devices it owns: the owner of a device
// is the live instance with the highest hash of (instance, user:device) (rendezvous hashing:
// when an instance joins or leaves, only its share of devices moves).
//
// Instances announce themselves on im/sys/bridge/{instance} every `heartbeat`; one not heard
// for `timeout` is gone and its share moves to the others. While views differ (a second or
// two), two instances may both apply a device's frame: the store's unique key and gapless seq
// allocation keep that correct (a repeat is answered as a repeat), and the ordering re-reads
// the device's last id from the store before refusing a chat as out of order.
//
// Not thread-safe: owned by the bridge's core thread. Time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace sparrow::bridge {

class Membership {
 public:
  struct Options {
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds timeout{3500};
  };

  Membership(std::string self, Options options);

  // A heartbeat of `instance` arrived (our own included). Returns true when the member set
  // changed (ownership of some devices moved).
  bool Heard(const std::string& instance, common::SteadyTime now);
  // Drops instances not heard for `timeout`. Returns true when the member set changed.
  bool Expire(common::SteadyTime now);
  // True when this instance should send its heartbeat now (and notes that it did).
  bool HeartbeatDue(common::SteadyTime now);

  bool Owns(std::string_view user, std::string_view device) const;
  std::string Owner(std::string_view user, std::string_view device) const;
  std::size_t size() const { return members_.size(); }
  const std::string& self() const { return self_; }

 private:
  std::string self_;
  Options options_;
  std::map<std::string, common::SteadyTime> members_;  // instance -> last heard
  common::SteadyTime last_heartbeat_{};
  bool sent_any_ = false;
};

}  // namespace sparrow::bridge
