// plugin_bench: what the auth plugin costs.
//
//   build/plugin/plugin_bench [--devices 1000] [--rounds 5] [--window 100] [--protocol 5]
//                             [--auth-iterations 20000]
//
// 1. In process, no broker: AuthPlugin::OnBasicAuth (token signature check + client id +
//    takeover map) followed by the ACL checks of a typical session (subscribe inbox and
//    device topic, publish to the up topic, one delivery, one refused publish), then the
//    disconnect; and ACL decisions alone.
// 2. Through a real Mosquitto: `--devices` libmosquitto clients, driven asynchronously from
//    one thread with poll() (at most `--window` CONNECTs in flight), connect to a broker that
//    loads the plugin and, for comparison, to the same broker with `--anonymous` (no plugin;
//    the clients send the same username/password, which it ignores). Reported: connects/s
//    from the first CONNECT to the last CONNACK, median of `--rounds` rounds, and the ratio.
// Prints a markdown table. Needs the built plugin (its path is compiled in) and mosquitto.
#include <mosquitto.h>
#include <poll.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/token.hpp"
#include "plugin/auth_plugin.hpp"
#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::plugin {
namespace {

using Clock = std::chrono::steady_clock;
using common::Role;

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string UserName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "u%05d", i);
  return name;
}

// ---------------------------------------------------------------------------------------------
// 1. In process.

struct InProcessResult {
  double sessions_per_s;  // OnBasicAuth + 5 ACL checks + disconnect
  double acl_per_s;       // ACL decisions alone
};

InProcessResult BenchInProcess(int iterations) {
  const common::SigningKey key = common::GenerateSigningKey();
  const common::TokenSigner signer(key);
  AuthPlugin plugin{AuthPolicy(common::TokenVerifier({key.public_key}))};
  constexpr int kUsers = 1000;
  std::vector<std::string> users, tokens, client_ids, up, inbox, device;
  for (int i = 0; i < kUsers; ++i) {
    users.push_back(UserName(i));
    tokens.push_back(signer.Issue(users.back(), Role::kUser, WallMs(), std::int64_t{3600} * 1000));
    client_ids.push_back(users.back() + ":phone");
    up.push_back("im/up/" + users.back() + "/phone");
    inbox.push_back("im/in/" + users.back());
    device.push_back("im/in/" + users.back() + "/phone");
  }
  std::vector<int> handles(kUsers);
  const std::int64_t now = WallMs();
  int allowed = 0;

  const auto t0 = Clock::now();
  for (int n = 0; n < iterations; ++n) {
    const int i = n % kUsers;
    const void* client = &handles[i];
    allowed += plugin.OnBasicAuth(client, users[i], tokens[i], client_ids[i], now).allowed();
    allowed += plugin.OnAclCheck(client, AclAccess::kSubscribe, inbox[i], false);
    allowed += plugin.OnAclCheck(client, AclAccess::kSubscribe, device[i], false);
    allowed += plugin.OnAclCheck(client, AclAccess::kWrite, up[i], false);
    allowed += plugin.OnAclCheck(client, AclAccess::kRead, inbox[i], false);
    allowed += !plugin.OnAclCheck(client, AclAccess::kWrite, inbox[i], false);
    plugin.OnDisconnect(client);
    if (n % 64 == 0) plugin.OnTick();
  }
  const double session_s = Seconds(Clock::now() - t0);
  if (allowed != iterations * 6) std::cerr << "plugin_bench: unexpected refusals\n";

  // ACL decisions alone, on live connections.
  for (int i = 0; i < kUsers; ++i) {
    (void)plugin.OnBasicAuth(&handles[i], users[i], tokens[i], client_ids[i], now);
  }
  const int acl_iterations = iterations * 50;
  int acl_allowed = 0;
  const auto t1 = Clock::now();
  for (int n = 0; n < acl_iterations; ++n) {
    const int i = n % kUsers;
    acl_allowed += plugin.OnAclCheck(&handles[i], (n & 1) ? AclAccess::kWrite : AclAccess::kRead,
                                     (n & 1) ? up[i] : device[i], false);
  }
  const double acl_s = Seconds(Clock::now() - t1);
  if (acl_allowed != acl_iterations) std::cerr << "plugin_bench: unexpected ACL refusals\n";
  return {iterations / session_s, acl_iterations / acl_s};
}

// ---------------------------------------------------------------------------------------------
// 2. Through the broker.

struct Device {
  mosquitto* mosq = nullptr;
  bool in_flight = false;
  bool connected = false;
  bool failed = false;
};

void OnConnect(mosquitto*, void* obj, int rc, int /*flags*/, const mosquitto_property*) {
  auto* device = static_cast<Device*>(obj);
  (rc == 0 ? device->connected : device->failed) = true;
}

struct RoundResult {
  double seconds = 0;
  int connected = 0;
  int failed = 0;
};

// Connects `clients` (fresh mosquitto objects) with at most `window` CONNECTs outstanding.
RoundResult ConnectAll(std::vector<Device>& devices, int port, int window) {
  RoundResult result;
  std::size_t next = 0;
  int in_flight = 0;
  std::size_t finished = 0;
  std::vector<pollfd> fds;
  std::vector<Device*> polled;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  const auto t0 = Clock::now();
  while (finished < devices.size() && Clock::now() < deadline) {
    while (next < devices.size() && in_flight < window) {
      Device& d = devices[next++];
      if (mosquitto_connect_async(d.mosq, "127.0.0.1", port, 60) == MOSQ_ERR_SUCCESS) {
        d.in_flight = true;
        ++in_flight;
      } else {
        d.failed = true;
        ++finished;
      }
    }
    fds.clear();
    polled.clear();
    for (Device& d : devices) {
      if (!d.in_flight) continue;
      const int fd = mosquitto_socket(d.mosq);
      if (fd < 0) continue;
      fds.push_back(
          {fd, static_cast<short>(POLLIN | (mosquitto_want_write(d.mosq) ? POLLOUT : 0)), 0});
      polled.push_back(&d);
    }
    ::poll(fds.data(), fds.size(), 100);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      Device& d = *polled[i];
      if (fds[i].revents & POLLOUT) mosquitto_loop_write(d.mosq, 1);
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
        if (mosquitto_loop_read(d.mosq, 1) != MOSQ_ERR_SUCCESS && !d.connected) d.failed = true;
      }
      if (d.connected || d.failed) {
        d.in_flight = false;
        --in_flight;
        ++finished;
      }
    }
  }
  result.seconds = Seconds(Clock::now() - t0);
  for (const Device& d : devices) {
    result.connected += d.connected ? 1 : 0;
    result.failed += d.connected ? 0 : 1;
  }
  return result;
}

void DisconnectAll(std::vector<Device>& devices) {
  for (Device& d : devices) {
    if (d.connected) {
      mosquitto_disconnect(d.mosq);
      mosquitto_loop_write(d.mosq, 1);
    }
    mosquitto_destroy(d.mosq);
  }
  devices.clear();
}

std::vector<Device> MakeDevices(const std::vector<std::string>& tokens, int round, int protocol) {
  std::vector<Device> devices(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string user = UserName(static_cast<int>(i));
    const std::string client_id = user + ":r" + std::to_string(round);
    devices[i].mosq = mosquitto_new(client_id.c_str(), true, &devices[i]);
    mosquitto_int_option(devices[i].mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    mosquitto_username_pw_set(devices[i].mosq, user.c_str(), tokens[i].c_str());
    mosquitto_connect_v5_callback_set(devices[i].mosq, OnConnect);
  }
  return devices;
}

struct BrokerResult {
  double median_connects_per_s = 0;
  int failed = 0;
};

BrokerResult BenchBroker(testing::MosquittoProcess& broker, const std::vector<std::string>& tokens,
                         int rounds, int window, int protocol) {
  broker.Start();
  std::vector<double> rates;
  BrokerResult out;
  for (int round = 0; round < rounds; ++round) {
    std::vector<Device> devices = MakeDevices(tokens, round, protocol);
    const RoundResult r = ConnectAll(devices, broker.port(), window);
    out.failed += r.failed;
    rates.push_back(r.connected / r.seconds);
    DisconnectAll(devices);
  }
  broker.Stop();
  std::sort(rates.begin(), rates.end());
  out.median_connects_per_s = rates[rates.size() / 2];
  return out;
}

int Main(int argc, char** argv) {
  CLI::App app{"plugin_bench: cost of the Sparrow auth plugin"};
  int devices = 1000;
  int rounds = 5;
  int window = 100;
  int protocol = 5;
  int auth_iterations = 20000;
  app.add_option("--devices", devices, "clients per round")->check(CLI::Range(1, 15000));
  app.add_option("--rounds", rounds, "rounds per broker (median reported)")
      ->check(CLI::Range(1, 100));
  app.add_option("--window", window, "CONNECTs in flight at most")->check(CLI::Range(1, 10000));
  app.add_option("--protocol", protocol, "4 (3.1.1) or 5")->check(CLI::IsMember({4, 5}));
  app.add_option("--auth-iterations", auth_iterations, "in-process sessions")
      ->check(CLI::Range(1, 100000000));
  CLI11_PARSE(app, argc, argv);
  mosquitto_lib_init();

  const InProcessResult in_process = BenchInProcess(auth_iterations);

  sparrow::testing::TempDir keys;
  const common::SigningKey key = common::LoadOrCreateSigningKey(keys.path().string());
  const common::TokenSigner signer(key);
  std::vector<std::string> tokens;
  tokens.reserve(static_cast<std::size_t>(devices));
  for (int i = 0; i < devices; ++i) {
    tokens.push_back(signer.Issue(UserName(i), Role::kUser, WallMs(), std::int64_t{3600} * 1000));
  }
  testing::MosquittoOptions with_plugin;
  with_plugin.plugin = SPARROW_AUTH_PLUGIN;
  with_plugin.public_key_file = (keys.path() / "token_public.key").string();
  testing::MosquittoProcess plugin_broker(with_plugin);
  testing::MosquittoProcess anonymous_broker(testing::MosquittoOptions{});

  const BrokerResult plugin = BenchBroker(plugin_broker, tokens, rounds, window, protocol);
  const BrokerResult anonymous = BenchBroker(anonymous_broker, tokens, rounds, window, protocol);
  mosquitto_lib_cleanup();

  std::printf("| plugin_bench (%d devices, %d rounds, window %d, MQTT %s) | value |\n", devices,
              rounds, window, protocol == 5 ? "5" : "3.1.1");
  std::printf("|---|---|\n");
  std::printf(
      "| in-process CONNECT decisions/s (token verify + client id + 5 ACL checks) | %.0f |\n",
      in_process.sessions_per_s);
  std::printf("| in-process ACL decisions/s | %.0f |\n", in_process.acl_per_s);
  std::printf("| connects/s through mosquitto + plugin (median) | %.0f |\n",
              plugin.median_connects_per_s);
  std::printf("| connects/s through mosquitto --anonymous (median) | %.0f |\n",
              anonymous.median_connects_per_s);
  std::printf("| ratio plugin / anonymous | %.2f |\n",
              plugin.median_connects_per_s / anonymous.median_connects_per_s);
  if (plugin.failed + anonymous.failed > 0) {
    std::printf("\nfailed connects: plugin %d, anonymous %d\n", plugin.failed, anonymous.failed);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace sparrow::plugin

int main(int argc, char** argv) { return sparrow::plugin::Main(argc, argv); }
