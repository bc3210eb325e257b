// MosquittoTransport: Transport over libmosquitto 2.0 (the Eclipse Mosquitto client library).
// The fast path for services: measured here several times cheaper in CPU than Paho's async
// client for the same relay (see DEPENDENCIES.md), and it sets TCP_NODELAY on its socket.
//
// How it runs: one network thread per transport drives the connection with poll() through
// libmosquitto's external-loop API (mosquitto_loop_read/write/misc, mosquitto_threaded_set).
// We do not use mosquitto_loop_start()/loop_forever(), because in 2.0.11 they
//   - count the reconnect delay in whole seconds (mosquitto_reconnect_delay_set), so the
//     100 ms first retry we want after a broker restart is impossible;
//   - give up for good, silently, on "fatal" results such as MOSQ_ERR_PROTOCOL, which an
//     MQTT 5 CONNACK refusal (e.g. 0x87 not authorized) produces: the service would stay
//     offline forever;
//   - use select(), which fails (MOSQ_ERR_INVAL) once the socket's descriptor is >= 1024:
//     a load generator or any process with many open files cannot use them.
// Our loop reconnects forever with millisecond backoff (Options::reconnect_min/max) and
// polls any descriptor number.
//
// Thread safety: all public methods are thread-safe (see Transport). Handlers run on the
// network thread, one at a time. Publishing from several threads at once is safe:
// libmosquitto queues packets under its own mutexes and our pending-count under
// `pending_mutex_`; only the network thread touches the socket.
//
// MQTT 5 details: Receive Maximum and the send quota are Options::max_inflight; with
// session_expiry_s > 0 the FIRST connect attempt is a blocking TCP connect (libmosquitto has
// no asynchronous connect that takes CONNECT properties): on an unreachable remote host it
// may delay Stop() by the OS connect timeout. Reconnects are always asynchronous.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "transport/transport.hpp"

struct mosquitto;
struct mosquitto_message;
struct mqtt5__property;
typedef struct mqtt5__property mosquitto_property;  // NOLINT(modernize-use-using): C API

namespace sparrow::transport {

class MosquittoTransport final : public Transport {
 public:
  // Validates `options` (ConfigError naming the option) and creates the libmosquitto client;
  // no network activity until Start(). Throws common::Error if libmosquitto cannot create
  // the client (out of memory).
  explicit MosquittoTransport(Options options);
  ~MosquittoTransport() override;

  void SetMessageHandler(MessageHandler handler) override;
  void SetConnectionHandler(ConnectionHandler handler) override;
  void Start() override;
  void Stop() override;
  bool WaitConnected(std::chrono::milliseconds timeout) override;
  bool IsConnected() const override;
  void Subscribe(std::string filter, int qos) override;
  void Unsubscribe(const std::string& filter) override;
  PublishResult Publish(std::string_view topic, std::string_view payload, int qos,
                        bool retain = false) override;
  Stats GetStats() const override;

 private:
  // Network thread.
  void Run();
  int Connect(bool first);
  void DriveConnection();
  void SleepUnlessWoken(std::chrono::milliseconds delay);
  void DrainWake();
  // Any thread: makes the network thread's poll() return.
  void Wake();
  void SetConnected(bool connected);

  // libmosquitto callbacks (network thread); `obj` is `this`.
  static void OnConnect(mosquitto* mosq, void* obj, int rc, int flags,
                        const mosquitto_property* props);
  static void OnDisconnect(mosquitto* mosq, void* obj, int rc, const mosquitto_property* props);
  static void OnMessage(mosquitto* mosq, void* obj, const mosquitto_message* message,
                        const mosquitto_property* props);
  static void OnPublish(mosquitto* mosq, void* obj, int mid, int reason_code,
                        const mosquitto_property* props);
  static void OnSubscribe(mosquitto* mosq, void* obj, int mid, int qos_count,
                          const int* granted_qos, const mosquitto_property* props);

  const Options options_;
  MessageHandler message_handler_;         // set before Start, then read-only
  ConnectionHandler connection_handler_;   // set before Start, then read-only
  mosquitto* mosq_ = nullptr;              // owned; destroyed after the thread is joined
  int wake_fd_ = -1;                       // eventfd, owned
  std::atomic<bool> wake_pending_{false};  // an eventfd write not yet drained (see Wake)
  std::thread thread_;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connack_seen_{false};  // a connect succeeded since the last check
  std::atomic<bool> connected_{false};     // written under state_mutex_, read anywhere

  std::mutex state_mutex_;  // guards the wait on connected_ / stopping_
  std::condition_variable state_cv_;

  std::mutex stop_mutex_;  // serializes Stop()

  std::mutex subs_mutex_;                      // guards the two maps below
  std::map<std::string, int> subscriptions_;   // filter -> qos, re-sent on every connect
  std::map<int, std::string> subscribe_mids_;  // in-flight SUBSCRIBE mid -> filter, for logs

  mutable std::mutex pending_mutex_;      // guards the two members below
  std::unordered_set<int> pending_acks_;  // mids of QoS 1/2 publishes not yet acknowledged
  std::int64_t pending_unwritten_ = 0;    // QoS 0 publishes not yet written to the socket

  std::atomic<std::uint64_t> messages_in_{0};
  std::atomic<std::uint64_t> messages_out_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> backpressure_{0};
};

}  // namespace sparrow::transport
