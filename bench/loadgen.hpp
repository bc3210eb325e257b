// LoadGen: the benchmark load generator. Many MQTT connections in one process, driven by a
// few event-loop threads (epoll over libmosquitto's external-loop API: mosquitto_socket,
// mosquitto_loop_read/write/misc; TCP_NODELAY on every socket), acting as chat devices.
//
// Two modes, one traffic pattern, so that Sparrow and its ceiling are driven identically:
//   kSparrow  devices `{user}:{device}` log in with tokens, subscribe `im/in/{u}` and
//             `im/in/{u}/{d}`, send `chat` frames on `im/up/{u}/{d}`, answer every chat they
//             receive with a DELIVERED `ack` (as a real client does), and count SENT,
//             DELIVERED and their own sender copies.
//   kRelay    device k publishes the very same chat frame on `{prefix}up/{k}` and subscribes
//             `{prefix}down/{partner}`; the relay (bench/relay.hpp) republishes up/k to
//             down/k. Nothing else flows.
// Devices come in pairs; each is the other's only partner, and both of a pair live on one
// loop thread. A chat's `msgBody` carries its send time (steady clock, ns) and its id, padded
// so that the whole up frame is `payload_bytes` long: latency is measured one way, from
// that timestamp to the moment the recipient's loop thread decodes it ("display").
//
// Loads: closed loop (each sender keeps `window` chats sent but not yet displayed) or open
// loop (a fixed total rate spread over the senders; the timestamp is the scheduled send time,
// so a generator that falls behind still reports the queueing delay: no coordinated
// omission). At the end of a run every sent chat must be displayed exactly once (after
// de-duplication by id, as a client de-duplicates live repeats by seq): `lost` counts the rest.
//
// Thread safety: the public methods are called from one controlling thread; the loop threads
// are internal. Not copyable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/histogram.hpp"

namespace sparrow::bench {

enum class LoadMode { kSparrow, kRelay };

struct LoadOptions {
  LoadMode mode = LoadMode::kSparrow;
  int threads = 1;          // event-loop threads (pairs are spread over them)
  int payload_bytes = 200;  // the size of every chat frame published by a device
  int protocol_version = 5;
  int keepalive_s = 300;
  int connect_inflight = 256;                  // handshakes (CONNECT..SUBACK) at once, in all
  std::string relay_prefix = "im/sys/bench/";  // kRelay topics: {prefix}up/{k}, {prefix}down/{k}
  bool without_wake_pipe = true;               // see bench/mosquitto_client.hpp
};

struct DeviceSpec {
  std::string user;
  std::string device = "d";
  std::string token;  // the MQTT password (kRelay: a token of the svc role)
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string bind_address;  // source address of the connection; empty: any
};

struct ConnectReport {
  int requested = 0;
  int ready = 0;   // connected and subscribed
  int failed = 0;  // refused or closed during the handshake, after retries
  double seconds = 0;
  double per_second = 0;          // ready / seconds
  LatencyHistogram handshake_ns;  // CONNECT sent .. SUBACK received
};

struct RunSpec {
  // Closed loop (rate == 0): every sender keeps `window` chats between send and display.
  int window = 20;
  // Open loop: chats per second over all senders (then `window` is ignored).
  double rate = 0;
  // The run lasts `duration`, or, when messages_per_sender > 0, until every sender has sent
  // that many (the duration is then only a safety limit).
  std::chrono::milliseconds duration{5000};
  std::int64_t messages_per_sender = 0;
  bool both_directions = true;  // false: only the first device of each pair sends
  // After the senders stop: how long to wait for every chat (and SENT, DELIVERED) to arrive.
  std::chrono::milliseconds drain_timeout{30000};
  bool record = true;  // false: a warm-up; nothing goes into the report's histograms
};

struct RunReport {
  std::uint64_t senders = 0;
  std::uint64_t sent = 0;                 // chats sent in the run
  std::uint64_t displayed = 0;            // distinct chats displayed at their recipient
  std::uint64_t displayed_in_window = 0;  // of which before the end of the sending interval
  std::uint64_t duplicates = 0;           // displayed again (live repeats): de-duplicated
  std::uint64_t lost = 0;                 // sent and never displayed, after the drain
  std::uint64_t sent_acks = 0;            // kSparrow: SENT received
  std::uint64_t delivered = 0;            // kSparrow: DELIVERED received by the senders
  std::uint64_t copies = 0;               // kSparrow: sender copies received
  std::uint64_t errors = 0;               // kSparrow: error frames received
  std::uint64_t publishes = 0;            // MQTT publishes by the devices (chats + acks)
  std::uint64_t receives = 0;             // MQTT messages received by the devices
  std::uint64_t disconnects = 0;          // connections lost during the run
  bool drained = false;                   // everything expected arrived before the timeout
  double seconds = 0;                     // the sending interval (or first send .. last display)
  double throughput = 0;                  // chats displayed per second in that interval
  std::string first_error;                // the first error frame, for the report
  LatencyHistogram display_ns;            // send -> displayed at the recipient
  LatencyHistogram sent_ns;               // kSparrow: send -> SENT at the sender
  LatencyHistogram delivered_ns;          // kSparrow: send -> DELIVERED at the sender
};

struct SyncReport {
  bool done = false;         // `synced` arrived before the timeout
  std::uint64_t frames = 0;  // frames replayed before `synced`
  std::uint64_t upto = 0;    // from `synced`
  std::uint64_t gaps = 0;    // replayed seqs that were not last + 1
  double seconds = 0;        // sync sent .. synced received
  double frames_per_second = 0;
};

class LoadGen {
 public:
  explicit LoadGen(LoadOptions options);
  // Disconnect() and join the loop threads.
  ~LoadGen();
  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;

  // Before Connect(): adds two devices that chat with each other; returns the first's index
  // (the second is index + 1). Throws std::runtime_error if libmosquitto cannot create them.
  int AddPair(const DeviceSpec& a, const DeviceSpec& b);
  // Before Connect(): a device without a partner (e.g. to sync). Returns its index.
  int AddDevice(const DeviceSpec& device);

  // Starts the loop threads (first call) and connects every device not yet connected,
  // `connect_inflight` handshakes at a time, until all are ready or `timeout` passes.
  ConnectReport Connect(std::chrono::milliseconds timeout);

  // One load run on the connected devices (see RunSpec). Blocks until the run and its drain
  // are over.
  RunReport Run(const RunSpec& spec);

  // kSparrow: each device of `indexes` sends {"type":"sync","after":after} at once, and counts
  // the frames replayed to it until its `synced`. One report per device, in order.
  std::vector<SyncReport> Sync(const std::vector<int>& indexes, std::uint64_t after,
                               std::chrono::milliseconds timeout);

  // Disconnects every device (DISCONNECT, then close) and stops the loop threads. Idempotent.
  void Disconnect();

  int size() const;
  int ready() const;  // devices connected and subscribed now

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// `{prefix}{k}` with k zero-padded to 6 digits: the user names of numbered bench devices, shared
// by the harness (which befriends them) and sparrow-loadgen (which connects them). Pairs are
// (k, k + 1) for even k.
std::string NumberedUser(const std::string& prefix, int k);

// --- Frame helpers, exposed for the unit test -------------------------------------------------

// The chat frame a device publishes: exactly `payload_bytes` long when that is at least the
// frame's minimum size (about 90 bytes plus the ids), else the minimum.
std::string MakeChatFrame(std::int64_t id, const std::string& dest, std::int64_t send_ns,
                          int payload_bytes);

// What the load generator reads of a received frame, without a JSON parser (the generator
// must stay cheap next to what it measures). Fields absent from the frame stay empty / 0.
struct FrameView {
  std::string_view type;      // "chat", "ack", "synced", "error", ...
  std::string_view from_id;   // chat
  std::string_view mid;       // chat, ack
  std::string_view msg_type;  // ack: SENT / DELIVERED / READ
  std::int64_t ack_msg_id = 0;
  std::int64_t seq = 0;      // a stored frame's seq (0: none)
  std::int64_t upto = 0;     // synced
  std::int64_t send_ns = 0;  // chat: from msgBody
  std::int64_t body_id = 0;  // chat: from msgBody
  std::string_view code;     // error
};
FrameView ParseFrame(std::string_view payload);

}  // namespace sparrow::bench
