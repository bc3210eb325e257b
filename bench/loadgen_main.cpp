// sparrow-loadgen: the load generator (bench/loadgen.hpp) as a program of its own, for loads
// that one process cannot hold (a process may open at most 20,000 files here) and for runs by
// hand. The harness starts several of them with different source addresses to hold 15,000
// devices on one broker.
//
//   sparrow-loadgen --port P [--ports P1,P2,P3] --key-dir DIR --prefix h --first 0 --pairs 2500
//                   [--bind 127.0.0.2] [--verify] [--hold] [--window 20 --seconds 5]
//
// Devices are `{prefix}{k:06}:d` for k = first .. first + 2 * pairs - 1, paired (k, k + 1)
// for even k - the harness befriends the same names. Tokens are minted from the signing key
// in --key-dir (what the REST service would issue). --mode relay drives the benchmark relay
// instead (svc tokens, or none on an anonymous broker with --anonymous).
//
// Output, one line each, `key=value` fields:
//   READY   after connecting: requested, ready, failed, start_ns, end_ns (steady clock, the
//           same clock in every process of the machine), per_second, handshake p50/p99
//   VERIFIED after --verify (every device sends its partner one chat and must see one)
//   RUN     after a load run (--seconds > 0)
//   DONE    at exit; with --hold the program waits for SIGTERM/SIGINT (or stdin to close)
//           before disconnecting.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/loadgen.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/token.hpp"

namespace {

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for SIGTERM/SIGINT (blocked in every thread, taken with sigtimedwait) or EOF on stdin.
void WaitForStop(bool watch_stdin) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  for (;;) {
    timespec tick{0, 100'000'000};
    if (sigtimedwait(&set, nullptr, &tick) > 0) return;
    if (watch_stdin) {
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      if (::poll(&fd, 1, 0) > 0) {
        char c;
        if (::read(STDIN_FILENO, &c, 1) <= 0) return;
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Stop signals are taken synchronously by WaitForStop; block them before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  CLI::App app{"sparrow-loadgen: chat devices for the benchmarks (bench/README.md)"};
  std::string mode = "sparrow";
  std::string host = "127.0.0.1";
  int port = 1883;
  std::vector<int> ports;
  std::string key_dir;
  bool anonymous = false;
  std::string prefix = "lg";
  int first = 0;
  int pairs = 1;
  std::string bind;
  int threads = 1;
  int payload = 200;
  int connect_inflight = 128;
  double connect_timeout_s = 120;
  bool verify = false;
  bool hold = false;
  bool watch_stdin = false;
  int window = 20;
  double rate = 0;
  double seconds = 0;
  std::string relay_prefix = "im/sys/bench/";
  app.add_option("--mode", mode, "sparrow | relay")->capture_default_str();
  app.add_option("--host", host)->capture_default_str();
  app.add_option("--port", port, "the broker's port")->required();
  app.add_option("--ports", ports,
                 "several brokers (a cluster): device k connects to ports[k % n], so the two "
                 "devices of a pair sit on different brokers")
      ->delimiter(',');
  app.add_option("--key-dir", key_dir, "folder with token_secret.key (the stack's keys)");
  app.add_flag("--anonymous", anonymous, "no tokens (a broker with allow_anonymous)");
  app.add_option("--prefix", prefix, "user name prefix")->capture_default_str();
  app.add_option("--first", first, "number of the first device")->capture_default_str();
  app.add_option("--pairs", pairs, "pairs of devices")->capture_default_str();
  app.add_option("--bind", bind, "source address of the connections (e.g. 127.0.0.2)");
  app.add_option("--threads", threads, "event-loop threads")->capture_default_str();
  app.add_option("--payload", payload, "chat frame size in bytes")->capture_default_str();
  app.add_option("--connect-inflight", connect_inflight, "handshakes at once")
      ->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout_s, "seconds")->capture_default_str();
  app.add_flag("--verify", verify, "every device sends one chat to its partner");
  app.add_flag("--hold", hold, "stay connected until SIGTERM/SIGINT");
  app.add_flag("--stdin", watch_stdin, "with --hold: also stop when stdin closes");
  app.add_option("--window", window, "closed loop: chats in flight per sender")
      ->capture_default_str();
  app.add_option("--rate", rate, "open loop: chats per second in all (0: closed loop)");
  app.add_option("--seconds", seconds, "length of a load run (0: none)");
  app.add_option("--relay-prefix", relay_prefix)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    sparrow::common::SetLogLevel("warn");
    const bool relay = mode == "relay";
    if (!relay && mode != "sparrow") throw std::runtime_error("--mode: sparrow or relay");
    std::optional<sparrow::common::TokenSigner> signer;
    if (!anonymous) {
      if (key_dir.empty()) throw std::runtime_error("--key-dir is required without --anonymous");
      signer.emplace(sparrow::common::LoadOrCreateSigningKey(key_dir));
    }
    const std::int64_t now_ms = sparrow::common::SystemClock::Instance().WallMillis();
    auto spec = [&](int k) {
      sparrow::bench::DeviceSpec d;
      d.user = sparrow::bench::NumberedUser(prefix, k);
      d.host = host;
      d.port = ports.empty() ? port : ports[static_cast<std::size_t>(k) % ports.size()];
      d.bind_address = bind;
      if (signer) {
        d.token = signer->Issue(d.user,
                                relay ? sparrow::common::Role::kSvc : sparrow::common::Role::kUser,
                                now_ms, 24LL * 3600 * 1000);
      }
      return d;
    };
    sparrow::bench::LoadGen gen(sparrow::bench::LoadOptions{
        .mode = relay ? sparrow::bench::LoadMode::kRelay : sparrow::bench::LoadMode::kSparrow,
        .threads = threads,
        .payload_bytes = payload,
        .connect_inflight = connect_inflight,
        .relay_prefix = relay_prefix});
    for (int p = 0; p < pairs; ++p) gen.AddPair(spec(first + 2 * p), spec(first + 2 * p + 1));

    const std::int64_t start = NowNs();
    const auto c =
        gen.Connect(std::chrono::milliseconds(static_cast<long>(connect_timeout_s * 1e3)));
    const std::int64_t end = NowNs();
    std::printf(
        "READY requested=%d ready=%d failed=%d start_ns=%lld end_ns=%lld seconds=%.3f "
        "per_second=%.0f handshake_p50_ms=%.3f handshake_p99_ms=%.3f\n",
        c.requested, c.ready, c.failed, static_cast<long long>(start), static_cast<long long>(end),
        c.seconds, c.per_second, c.handshake_ns.Percentile(0.5) / 1e6,
        c.handshake_ns.Percentile(0.99) / 1e6);
    std::fflush(stdout);

    if (verify) {
      sparrow::bench::RunSpec run;
      run.window = 1;
      run.messages_per_sender = 1;
      run.duration = std::chrono::seconds(60);
      run.drain_timeout = std::chrono::seconds(60);
      const auto r = gen.Run(run);
      std::printf(
          "VERIFIED senders=%llu sent=%llu displayed=%llu lost=%llu duplicates=%llu "
          "sent_acks=%llu delivered=%llu errors=%llu drained=%d p50_ms=%.3f p99_ms=%.3f\n",
          static_cast<unsigned long long>(r.senders), static_cast<unsigned long long>(r.sent),
          static_cast<unsigned long long>(r.displayed), static_cast<unsigned long long>(r.lost),
          static_cast<unsigned long long>(r.duplicates),
          static_cast<unsigned long long>(r.sent_acks),
          static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.errors),
          r.drained ? 1 : 0, r.display_ns.Percentile(0.5) / 1e6,
          r.display_ns.Percentile(0.99) / 1e6);
      if (!r.first_error.empty()) std::printf("ERROR %s\n", r.first_error.c_str());
      std::fflush(stdout);
    }
    if (seconds > 0) {
      sparrow::bench::RunSpec run;
      run.window = window;
      run.rate = rate;
      run.duration = std::chrono::milliseconds(static_cast<long>(seconds * 1e3));
      const auto r = gen.Run(run);
      std::printf(
          "RUN senders=%llu sent=%llu displayed=%llu throughput=%.0f lost=%llu duplicates=%llu "
          "p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f sent_p50_ms=%.3f drained=%d\n",
          static_cast<unsigned long long>(r.senders), static_cast<unsigned long long>(r.sent),
          static_cast<unsigned long long>(r.displayed), r.throughput,
          static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicates),
          r.display_ns.Percentile(0.5) / 1e6, r.display_ns.Percentile(0.99) / 1e6,
          r.display_ns.Percentile(0.999) / 1e6, r.sent_ns.Percentile(0.5) / 1e6, r.drained ? 1 : 0);
      std::fflush(stdout);
    }
    if (hold) WaitForStop(watch_stdin);
    std::printf("DONE ready=%d\n", gen.ready());
    std::fflush(stdout);
    gen.Disconnect();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparrow-loadgen: %s\n", e.what());
    return 1;
  }
}
