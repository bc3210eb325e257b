// The MQTT seam: every Sparrow service, the client library and the benchmarks talk to the
// broker through `Transport`, in our words and with the few operations we use. Two adapters
// implement it (MosquittoTransport over libmosquitto, the fast path for services;
// PahoTransport over Paho MQTT C++, used by the client library) and one fake
// (testing/mqtt/fake_transport.hpp) for unit tests.
//
//   auto transport = MakeTransport("mosquitto", {.port = 1883, .client_id = "bridge-1"});
//   transport->SetMessageHandler([&](Message&& m) { queue.Push(std::move(m)); });
//   transport->Subscribe("$share/bridge/im/up/#", 1);
//   transport->Start();
//   if (transport->Publish("im/in/bob", frame, 1) != PublishResult::kQueued) { retry later }
//
// Threads: every method is thread-safe unless it says otherwise. Handlers run on the
// transport's own network thread (see SetMessageHandler).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sparrow::transport {

// One MQTT application message, received or to publish.
struct Message {
  std::string topic{};
  std::string payload{};
  int qos = 0;
  bool retain = false;
};

// Connection settings. Designated-initializer friendly:
//   Options{.port = 18830, .client_id = "svc-1", .protocol_version = 4}
// Validated by the transport's constructor: an invalid value throws common::ConfigError
// naming the option.
struct Options {
  std::string host = "127.0.0.1";
  int port = 1883;
  // Empty: the broker assigns one (MQTT 5) or accepts it for clean sessions (3.1.1).
  // Required when clean_start is false.
  std::string client_id{};
  std::string username{};
  std::string password{};    // never logged
  int protocol_version = 5;  // 5 = MQTT 5, 4 = MQTT 3.1.1
  bool clean_start = true;
  // MQTT 5 only: how long the broker keeps the session after a disconnect. With
  // clean_start = false over MQTT 5 it must be > 0, else the session ends at disconnect.
  // (MQTT 3.1.1 sessions without clean start are kept until the broker expires them.)
  std::uint32_t session_expiry_s = 0;
  int keepalive_s = 30;  // 0 = none; libmosquitto refuses 1..4
  // QoS 1/2 messages in flight, in both directions (MQTT 5 Receive Maximum that we send,
  // and the cap we apply to our own sends). 1..65535.
  int max_inflight = 1000;
  // Publishes accepted by Publish() but not yet handed to the network (QoS 0) or not yet
  // acknowledged by the broker (QoS 1/2). Beyond it Publish() returns kBackpressure.
  // 1..65535 (MQTT packet ids are 16 bits).
  int max_pending = 20000;
  // Source address of the TCP connection (e.g. 127.0.0.2, to spread many connections over
  // loopback addresses); empty = any. MosquittoTransport only: Paho C cannot bind, and
  // PahoTransport rejects a non-empty value with ConfigError.
  std::string bind_address{};
  // Reconnect backoff: the first retry after reconnect_min, doubling (with jitter) up to
  // reconnect_max; back to reconnect_min after every successful connect.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
};

// The outcome of Publish(). Never a loss: only kQueued means the transport took the message.
enum class [[nodiscard]] PublishResult{
    kQueued,        // taken; QoS 1/2 is (re)sent until the broker acknowledges it
    kNotConnected,  // not connected now: retry after the connection handler says connected
    kBackpressure,  // max_pending publishes wait inside the library: retry a little later
    kInvalid,       // the broker could never accept it (bad topic, QoS, size): do not retry
};

// "queued", "not_connected", "backpressure", "invalid": for logs and metrics labels.
std::string_view ToString(PublishResult result);

// Counters for metrics; monotonic from construction, except the `pending` gauge.
struct Stats {
  std::uint64_t messages_in = 0;   // messages handed to the message handler
  std::uint64_t messages_out = 0;  // Publish() calls that returned kQueued
  std::uint64_t connects = 0;      // successful connects (CONNACK accepted), first included
  std::uint64_t reconnects = 0;    // successful connects after the first
  std::uint64_t backpressure = 0;  // Publish() calls that returned kBackpressure
  std::uint64_t pending = 0;       // gauge: publishes waiting in the library now
};

class Transport {
 public:
  // Called with every received message, on the network thread, one at a time.
  using MessageHandler = std::function<void(Message&&)>;
  // Called on the network thread after every connect (true, 0) and every connection loss
  // (false, reason: the library's code, 0 for our own Stop). On a connect, the remembered
  // subscriptions have already been re-sent when it runs. The final (false, 0) of Stop()
  // may run on the thread calling Stop() (PahoTransport: Paho reports no callback for it).
  using ConnectionHandler = std::function<void(bool connected, int reason)>;

  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Set both handlers before Start(); not thread-safe with Start().
  // Handlers run on the transport's network thread and MUST NOT block: no waiting on I/O,
  // locks held by slow work, or other transports (the Paho rule: never wait for a token
  // in a callback, it never completes). Move the message into a queue and return.
  // They may call Publish, Subscribe and Unsubscribe (which never block), never Stop().
  // A handler that throws is a bug: the exception is logged and swallowed.
  virtual void SetMessageHandler(MessageHandler handler) = 0;
  virtual void SetConnectionHandler(ConnectionHandler handler) = 0;

  // Starts connecting in the background and keeps reconnecting (with backoff) forever
  // until Stop(). After every (re)connect it re-sends every remembered subscription.
  // Call at most once. Returns at once; use WaitConnected() to wait.
  virtual void Start() = 0;

  // Disconnects cleanly (best effort, bounded by about a second), stops reconnecting and
  // joins the network thread: no handler runs after it returns. Idempotent; the destructor
  // calls it. Publishes not yet acknowledged by the broker may be lost: delivery guarantees
  // come from the application protocol's acks and resends, not from the transport.
  // Never call it from a handler.
  virtual void Stop() = 0;

  // True once connected (CONNACK accepted), false if `timeout` passed first or on Stop.
  virtual bool WaitConnected(std::chrono::milliseconds timeout) = 0;
  virtual bool IsConnected() const = 0;

  // Remembers `filter` (replacing its QoS if already there) and sends the subscription now
  // if connected; it is re-sent after every reconnect. A refused subscription (SUBACK
  // failure) is logged, not reported.
  virtual void Subscribe(std::string filter, int qos) = 0;
  // Forgets `filter` and sends the unsubscribe now if connected.
  virtual void Unsubscribe(const std::string& filter) = 0;

  // Queues one message for the network; never blocks on the network, never throws for
  // network conditions. See PublishResult.
  virtual PublishResult Publish(std::string_view topic, std::string_view payload, int qos,
                                bool retain = false) = 0;

  virtual Stats GetStats() const = 0;

 protected:
  Transport() = default;
};

// Creates the adapter named `library`: "mosquitto" (MosquittoTransport) or "paho"
// (PahoTransport). Throws common::ConfigError naming the option on an unknown library or
// an invalid option.
std::unique_ptr<Transport> MakeTransport(std::string_view library, Options options);

// True when `topic` may be published to: 1..65535 bytes of valid MQTT UTF-8 (no U+0000,
// no control characters) without the wildcards `+` and `#`. The adapters return kInvalid
// for anything else, because Paho passes such a topic on and the broker then closes the
// connection for a protocol error.
bool IsValidTopicName(std::string_view topic);

// Checks `options`; throws common::ConfigError naming the first invalid option. The
// adapters call it from their constructors.
void ValidateOptions(const Options& options);

}  // namespace sparrow::transport
