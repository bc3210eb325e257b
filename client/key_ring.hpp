// KeyRing: where the client finds the relation key it shares with a peer (32 bytes, from
// GET /api/v1/relations). The client asks for a key for every body it seals or opens; a
// missing key makes the ring refetch (a new friend), at most once per `min_refresh`.
//
// Thread-safe: the implementations guard their cache with a mutex (the client thread and the
// app's Send/SendFile calls both ask).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "client/rest_client.hpp"
#include "common/clock.hpp"

namespace sparrow::client {

class KeyRing {
 public:
  virtual ~KeyRing() = default;
  // The relation key with `peer` (32 raw bytes), or nullopt when there is none.
  virtual std::optional<std::string> Get(const std::string& peer) = 0;
};

// Keys from the REST service, cached in memory for the life of the ring (never on disk).
class RestKeyRing final : public KeyRing {
 public:
  // `rest` must carry a token and outlive the ring.
  RestKeyRing(RestClient& rest, const common::Clock& clock,
              std::chrono::milliseconds min_refresh = std::chrono::milliseconds(1000));
  // Cached, else refetched (blocking HTTP) when the last fetch is older than min_refresh.
  std::optional<std::string> Get(const std::string& peer) override;

 private:
  RestClient& rest_;
  const common::Clock& clock_;
  const std::chrono::milliseconds min_refresh_;
  std::mutex mutex_;  // guards the members below
  std::map<std::string, std::string> keys_;
  std::optional<common::SteadyTime> last_fetch_;
};

// Keys given by the app (or a test).
class InMemoryKeyRing final : public KeyRing {
 public:
  void Set(const std::string& peer, std::string key);
  void Remove(const std::string& peer);
  std::optional<std::string> Get(const std::string& peer) override;

 private:
  std::mutex mutex_;  // guards keys_
  std::map<std::string, std::string> keys_;
};

}  // namespace sparrow::client
