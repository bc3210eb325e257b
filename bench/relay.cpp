#include "bench/relay.hpp"

#include <mosquitto.h>
#include <poll.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "bench/mosquitto_client.hpp"

namespace sparrow::bench {

struct BenchRelay::Connection {
  BenchRelay* relay = nullptr;
  int index = 0;
  mosquitto* mosq = nullptr;
  std::string filter;
  std::string down_prefix;  // {prefix}down/
  std::string down_topic;   // scratch, reused for every message
  bool connecting = false;
  bool subscribed = false;
  std::chrono::steady_clock::time_point retry_at{};

  ~Connection() {
    if (mosq != nullptr) mosquitto_destroy(mosq);
  }

  // libmosquitto callbacks; `obj` is the Connection.
  static void OnConnect(mosquitto* mosq, void* obj, int rc, int flags,
                        const mosquitto_property* props);
  static void OnSubscribe(mosquitto* mosq, void* obj, int mid, int count, const int* granted,
                          const mosquitto_property* props);
  static void OnMessage(mosquitto* mosq, void* obj, const mosquitto_message* m,
                        const mosquitto_property* props);
  static void OnDisconnect(mosquitto* mosq, void* obj, int rc, const mosquitto_property* props);
};

void BenchRelay::Connection::OnConnect(mosquitto* mosq, void* obj, int rc, int /*flags*/,
                                       const mosquitto_property*) {
  auto& c = *static_cast<Connection*>(obj);
  if (rc != 0) return;
  mosquitto_subscribe(mosq, nullptr, c.filter.c_str(), 1);
}

void BenchRelay::Connection::OnSubscribe(mosquitto*, void* obj, int, int count, const int* granted,
                                         const mosquitto_property*) {
  auto& c = *static_cast<Connection*>(obj);
  if (count > 0 && granted[0] < 0x80 && !c.subscribed) {
    c.subscribed = true;
    if (c.relay->subscribed_.fetch_add(1) + 1 == c.relay->options_.connections &&
        c.relay->options_.on_ready) {
      c.relay->options_.on_ready();
    }
  }
}

void BenchRelay::Connection::OnMessage(mosquitto* mosq, void* obj, const mosquitto_message* m,
                                       const mosquitto_property*) {
  auto& c = *static_cast<Connection*>(obj);
  const std::string_view topic(m->topic);
  const auto slash = topic.rfind('/');
  c.down_topic.assign(c.down_prefix);
  c.down_topic.append(topic.substr(slash + 1));
  // Queued (we are in a callback); the loop writes it right after this read.
  mosquitto_publish(mosq, nullptr, c.down_topic.c_str(), m->payloadlen, m->payload, 1, false);
  c.relay->relayed_.fetch_add(1, std::memory_order_relaxed);
}

void BenchRelay::Connection::OnDisconnect(mosquitto*, void* obj, int, const mosquitto_property*) {
  auto& c = *static_cast<Connection*>(obj);
  if (c.subscribed) c.relay->subscribed_.fetch_sub(1);
  c.subscribed = false;
  c.connecting = false;
  c.retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
}

BenchRelay::BenchRelay(RelayOptions options) : options_(std::move(options)) {
  const std::string up = options_.topic_prefix + "up/+";
  for (int i = 0; i < std::max(1, options_.connections); ++i) {
    auto c = std::make_unique<Connection>();
    c->relay = this;
    c->index = i;
    c->filter = options_.connections > 1 ? "$share/" + options_.share_group + "/" + up : up;
    c->down_prefix = options_.topic_prefix + "down/";
    c->mosq = NewClient(ClientSettings{.client_id = options_.client_id_prefix + std::to_string(i),
                                       .username = options_.username,
                                       .password = options_.password,
                                       .protocol_version = options_.protocol_version,
                                       .max_inflight = options_.max_inflight},
                        c.get());
    mosquitto_connect_v5_callback_set(c->mosq, &Connection::OnConnect);
    mosquitto_subscribe_v5_callback_set(c->mosq, &Connection::OnSubscribe);
    mosquitto_message_v5_callback_set(c->mosq, &Connection::OnMessage);
    mosquitto_disconnect_v5_callback_set(c->mosq, &Connection::OnDisconnect);
    connections_.push_back(std::move(c));
  }
}

BenchRelay::~BenchRelay() = default;

void BenchRelay::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<pollfd> fds(connections_.size());
  auto next_misc = Clock::now();
  while (!stop_.load()) {
    const auto now = Clock::now();
    bool waiting_to_connect = false;
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      if (mosquitto_socket(c.mosq) < 0 && now >= c.retry_at) {
        const int rc = c.connecting ? mosquitto_reconnect_async(c.mosq)
                                    : mosquitto_connect_async(c.mosq, options_.host.c_str(),
                                                              options_.port, 300);
        c.connecting = true;
        if (rc != MOSQ_ERR_SUCCESS) c.retry_at = now + std::chrono::milliseconds(100);
      }
      const int sock = mosquitto_socket(c.mosq);
      if (sock < 0) waiting_to_connect = true;
      fds[i] = pollfd{sock,
                      static_cast<short>(POLLIN | (mosquitto_want_write(c.mosq) ? POLLOUT : 0)), 0};
    }
    const int n = ::poll(fds.data(), fds.size(), waiting_to_connect ? 100 : 1000);
    for (std::size_t i = 0; n > 0 && i < connections_.size(); ++i) {
      Connection& c = *connections_[i];
      if (fds[i].fd < 0) continue;
      if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (mosquitto_loop_read(c.mosq, 1) != MOSQ_ERR_SUCCESS) continue;
      }
      if (mosquitto_socket(c.mosq) >= 0 && mosquitto_want_write(c.mosq)) {
        mosquitto_loop_write(c.mosq, 1);
      }
    }
    if (Clock::now() >= next_misc) {
      for (auto& c : connections_) {
        if (mosquitto_socket(c->mosq) >= 0) mosquitto_loop_misc(c->mosq);
      }
      next_misc = Clock::now() + std::chrono::seconds(1);
    }
  }
  for (auto& c : connections_) {
    if (mosquitto_socket(c->mosq) >= 0) {
      mosquitto_disconnect(c->mosq);
    }
  }
}

}  // namespace sparrow::bench
