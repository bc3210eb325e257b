// The Sparrow client library: what a mobile, desktop or IoT app embeds to be one device of a
// user. Accounts and friends go through RestClient (rest_client.hpp); messages through this
// Client, over MQTT (Paho MQTT C++), following the public contract (topics.md).
//
//   RestClient rest({.server_url = "http://127.0.0.1:8080"});
//   auto login = rest.Login("alice", password);            // RestResult<LoginResult>
//   Client client(Client::Options{.user = "alice", .device = "phone",
//                                 .token = login.value().token,
//                                 .state_dir = "/var/lib/app/sparrow/alice/phone"},
//                 Callbacks{.on_message = [](const Message& m) { show(m); },
//                           .on_status = [](const StatusUpdate& s) { tick(s); }});
//   client.Connect();
//   SendResult r = client.Send("bob", "hello");            // r.local_id names it in on_status
//   client.MarkRead(message);                              // READ receipt
//
// Guarantees:
//   - Every incoming message reaches on_message once, in seq order, decrypted and
//     authenticated (a body that fails is reported through on_error, never shown); DELIVERED
//     is sent for it automatically, READ when the app calls MarkRead.
//   - Outgoing messages keep their order per conversation; each is resent with the same id
//     until the server's SENT (with backoff, up to a number of tries, then on_status(failed)).
//   - State (lastSeq, lastId, outbox) is in a file under state_dir: after Send() returns the
//     message survives a crash or kill of the process, and a restart resends it with the same
//     id (the server stores it once). Across such a crash, a message being shown when the
//     process died may be shown again (compare mids).
//
// Threads: the Client runs one thread of its own, the client thread. It owns every piece of
// state; the network (Paho's threads) only enqueues events for it. Every callback runs on the
// client thread, one at a time, never on a Paho thread. The methods of Client are
// thread-safe and may be called from any thread, callbacks included, except Disconnect() and
// the destructor (never from a callback). Send() waits for the client thread to persist the
// message (milliseconds) unless called from a callback. SendFile() and Download() run the
// transfer on the calling thread (call them from a worker thread, not from a callback, or
// events wait behind the transfer).
//
// Errors: invalid Options throw common::ConfigError naming the option; a state folder that
// another process holds (one process per user and device) or that is damaged throws
// StateError. Everything that happens later is reported through values and callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/files.hpp"
#include "client/history.hpp"
#include "client/key_ring.hpp"
#include "client/message.hpp"
#include "client/outbox.hpp"
#include "client/reorder_buffer.hpp"
#include "client/rest_client.hpp"
#include "common/clock.hpp"
#include "transport/transport.hpp"

namespace sparrow::client {

// The outcome of Send/SendFile: queued (local_id set) or refused at once (error set).
struct SendResult {
  bool ok = false;
  std::string local_id;  // names the message in on_status and in History
  std::string error;     // !ok: one line for people
};

class Client {
 public:
  struct Options {
    std::string user;    // a valid userId
    std::string device;  // a valid deviceId; MQTT client id "{user}:{device}"
    std::string token;   // an access token from RestClient::Login (never logged)
    std::string server_url = "http://127.0.0.1:8080";  // the REST service
    std::string mqtt_host = "127.0.0.1";
    int mqtt_port = 1883;
    int mqtt_version = 5;  // 5 or 4 (3.1.1)
    // This user and device's folder (created 0700): state.json, history/. Required.
    std::filesystem::path state_dir;
    // false: a one-shot sender that leaves incoming frames to the device's receiving sessions
    // (session.hpp). on_message is then never called.
    bool receive = true;
    bool keep_history = true;  // record conversations under state_dir/history
    Outbox::Options outbox{};
    ReorderBuffer::Options reorder{};
    std::chrono::milliseconds sync_timeout{4000};

    // Seams (tests, special apps). Empty/null: Paho MQTT C++, the REST key ring, the system
    // clock. A given clock or key ring must outlive the Client.
    std::function<std::unique_ptr<transport::Transport>(const transport::Options&)>
        make_transport{};
    KeyRing* keys = nullptr;
    const common::Clock* clock = nullptr;
  };

  // Checks the options and opens (locks) the state folder; starts the client thread. No
  // network until Connect().
  Client(Options options, Callbacks callbacks);
  // Disconnect().
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects in the background and stays connected (reconnecting with backoff, re-syncing
  // after every reconnect) until Disconnect(). Call once.
  void Connect();
  // Saves the state, disconnects and stops the client thread: no callback runs after it
  // returns. Idempotent. Messages still queued stay in the state file and go out at the next
  // Connect() of this device. Never call it from a callback.
  void Disconnect();

  // Wait for the connection / for the first `synced` after it / for an empty outbox. True if
  // it happened within `timeout`.
  bool WaitConnected(std::chrono::milliseconds timeout);
  bool WaitSynced(std::chrono::milliseconds timeout);
  bool WaitIdle(std::chrono::milliseconds timeout);

  // Queues a text message to `peer` (a friend). Refused at once (ok = false) for an invalid
  // peer, a peer without relation key, an empty, non-UTF-8 or too long text (about 48 KiB),
  // or after Disconnect().
  SendResult Send(const std::string& peer, const std::string& text);
  // Encrypts and uploads the file (blocking, `progress` on the calling thread), then queues a
  // file message carrying its sealed descriptor.
  SendResult SendFile(const std::string& peer, const std::filesystem::path& path,
                      const Progress& progress = {});
  // Sends READ for an incoming message (ignored for outgoing ones).
  void MarkRead(const Message& message);
  // Downloads, decrypts and verifies (sha256) an incoming file into `dir`. Blocking.
  DownloadResult Download(const FileInfo& file, const std::filesystem::path& dir,
                          const Progress& progress = {});

  // The recorded conversation with `peer` (empty without keep_history).
  std::vector<HistoryEntry> Conversation(const std::string& peer, std::size_t limit = 0) const;
  // Peers with a recorded conversation.
  std::vector<std::string> Conversations() const;

  // Messages queued and not yet acknowledged by the server.
  std::size_t Pending() const;
  bool connected() const;

  RestClient& rest();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sparrow::client
