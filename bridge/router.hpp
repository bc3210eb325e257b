// Where the bridge's frames go when there are several brokers (ARCHITECTURE.md "Scale-out"):
// the plugin on each broker reports which devices are connected to it
// (im/sys/presence/{broker}/{user}/{device}, retained while online), and the router publishes a
// user's live frames only to the brokers where that user has devices: nothing when none (the
// frames wait in the store for the next sync).
//
// With presence off (brokers without the Sparrow plugin) every frame goes to every broker.
// Not thread-safe: owned by the bridge's core thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "transport/transport.hpp"

namespace sparrow::bridge {

class Router {
 public:
  // `brokers[i]` is the connection to the broker whose plugin reports as `broker_ids[i]`.
  Router(std::vector<transport::Transport*> brokers, std::vector<std::string> broker_ids,
         bool presence);

  std::size_t broker_count() const { return brokers_.size(); }
  // The index of a broker id, or -1.
  int IndexOf(std::string_view broker_id) const;

  // A presence report (retained or live) made in broker run `epoch` (0: unknown). Reports of
  // another run than the broker's current one are stale leftovers and do not count.
  void OnPresence(int broker, const std::string& user, const std::string& device, bool online,
                  std::int64_t epoch = 0);
  // The broker announced its current run's epoch: reports of other runs are dropped.
  void OnBrokerEpoch(int broker, std::int64_t epoch);
  // The connection to `broker` was (re)established: its retained reports are about to arrive
  // again, so what we knew of it is dropped first.
  void OnBrokerConnected(int broker);

  // Brokers where `user` has a device (all brokers when presence is off).
  std::vector<int> BrokersOf(const std::string& user) const;
  // Brokers where `user` has a device other than `device` on `broker` (the sender's copy
  // needs to go only there). All brokers when presence is off.
  std::vector<int> BrokersOfOtherDevices(const std::string& user, int broker,
                                         const std::string& device) const;
  std::size_t online_devices() const { return devices_; }
  // Devices connected to broker `broker` (index), as its presence reports say.
  std::size_t online_devices(int broker) const {
    return per_broker_.at(static_cast<std::size_t>(broker));
  }
  const std::string& broker_id(int broker) const {
    return broker_ids_.at(static_cast<std::size_t>(broker));
  }

  transport::PublishResult Publish(int broker, const std::string& topic,
                                   const std::string& payload);

 private:
  std::vector<transport::Transport*> brokers_;
  std::vector<std::string> broker_ids_;
  bool presence_;
  struct DeviceReport {
    int broker;
    std::string device;
    std::int64_t epoch;
    bool operator<(const DeviceReport& o) const {
      return broker != o.broker ? broker < o.broker : device < o.device;
    }
  };
  // Whether a report of `epoch` counts for `broker` now.
  bool Current(int broker, std::int64_t epoch) const;
  void Count(int broker, int delta);

  // user -> devices online (one report per (broker, device)).
  std::unordered_map<std::string, std::set<DeviceReport>> online_;
  std::vector<std::int64_t> epochs_;  // per broker; 0 = not announced yet
  std::size_t devices_ = 0;
  std::vector<std::size_t> per_broker_;  // devices_ by broker
};

}  // namespace sparrow::bridge
