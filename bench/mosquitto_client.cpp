#include "bench/mosquitto_client.hpp"

#include <fcntl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mutex>
#include <stdexcept>

#include "bench/proc_stats.hpp"

namespace sparrow::bench {
namespace {

// Runs `create` with RLIMIT_NOFILE lowered so that no new descriptor can be opened.
mosquitto* CreateWithoutNewDescriptors(const ClientSettings& s, void* userdata) {
  const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  rlimit saved{};
  if (probe < 0 || ::getrlimit(RLIMIT_NOFILE, &saved) != 0) {
    if (probe >= 0) ::close(probe);
    return mosquitto_new(s.client_id.c_str(), true, userdata);
  }
  ::close(probe);
  // `probe` was the lowest free descriptor: with the soft limit at it, socketpair() fails.
  rlimit lowered = saved;
  lowered.rlim_cur = static_cast<rlim_t>(probe);
  const bool lowered_ok = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  mosquitto* mosq = mosquitto_new(s.client_id.c_str(), true, userdata);
  if (lowered_ok) ::setrlimit(RLIMIT_NOFILE, &saved);
  return mosq;
}

}  // namespace

void InitMosquittoOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

mosquitto* NewClient(const ClientSettings& s, void* userdata) {
  InitMosquittoOnce();
  mosquitto* mosq = s.without_wake_pipe ? CreateWithoutNewDescriptors(s, userdata)
                                        : mosquitto_new(s.client_id.c_str(), true, userdata);
  if (mosq == nullptr) throw std::runtime_error("mosquitto_new failed for " + s.client_id);
  auto check = [&](int rc, const char* what) {
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(mosq);
      throw std::runtime_error(std::string("libmosquitto ") + what + ": " + mosquitto_strerror(rc));
    }
  };
  check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION,
                             s.protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311),
        "protocol version");
  // Nagle would add milliseconds to every request/response hop (DEPENDENCIES.md).
  check(mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1), "tcp_nodelay");
  check(mosquitto_int_option(mosq, MOSQ_OPT_RECEIVE_MAXIMUM, s.max_inflight), "receive maximum");
  check(mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, s.max_inflight), "send maximum");
  check(mosquitto_max_inflight_messages_set(mosq, static_cast<unsigned>(s.max_inflight)),
        "max inflight");
  if (!s.username.empty()) {
    check(mosquitto_username_pw_set(mosq, s.username.c_str(),
                                    s.password.empty() ? nullptr : s.password.c_str()),
          "username");
  }
  return mosq;
}

int DescriptorsPerClient(bool without_wake_pipe) {
  const int before = CountOpenFiles(::getpid());
  ClientSettings settings{.client_id = "probe:fd", .without_wake_pipe = without_wake_pipe};
  mosquitto* mosq = NewClient(settings, nullptr);
  const int after = CountOpenFiles(::getpid());
  mosquitto_destroy(mosq);
  return 1 + (after - before);  // + the connection's own socket
}

}  // namespace sparrow::bench
