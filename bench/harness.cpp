#include "bench/harness.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/loadgen.hpp"
#include "bench/perf_profile.hpp"
#include "bench/proc_stats.hpp"
#include "bench/report.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "offline/soci_message_store.hpp"
#include "testing/mariadb.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/free_port.hpp"
#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"
#include "transport/transport.hpp"

namespace sparrow::bench {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using testing::ChildOptions;
using testing::ChildProcess;
using testing::SparrowStack;
using testing::StackOptions;

// Broker messages (in + out) per delivered message. A relayed message: the device's publish
// in and out to the relay, the relay's publish in and out to the recipient. A Sparrow chat:
// chat up + DELIVERED up from devices, SENT + chat + sender copy + receipt from the bridge, each
// in once and out once. Measured from the devices' counters (every bridge publish reaches
// exactly one device here: one device per user).
double BrokerMessagesPerDelivered(const RunReport& r) {
  if (r.displayed == 0) return 0;
  return 2.0 * static_cast<double>(r.publishes + r.receives) / static_cast<double>(r.displayed);
}

std::string Pct(double seconds, double wall) {
  if (wall <= 0) return "-";
  return Fixed(100.0 * seconds / wall, 0) + "%";
}

// CPU of named processes over a scenario.
class Usage {
 public:
  void Begin(std::vector<std::pair<std::string, pid_t>> procs) {
    procs_ = std::move(procs);
    windows_.assign(procs_.size(), CpuWindow{});
    for (std::size_t i = 0; i < procs_.size(); ++i) windows_[i].Begin(procs_[i].second);
    start_ = std::chrono::steady_clock::now();
    seconds_.clear();
  }
  void End() {
    wall_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    seconds_.clear();
    for (auto& w : windows_) seconds_.push_back(w.Seconds());
  }
  double Seconds(const std::string& name) const {
    for (std::size_t i = 0; i < procs_.size() && i < seconds_.size(); ++i) {
      if (procs_[i].first == name) return seconds_[i];
    }
    return 0;
  }
  double wall() const { return wall_; }
  std::string Text() const {
    std::string out;
    for (std::size_t i = 0; i < procs_.size() && i < seconds_.size(); ++i) {
      if (procs_[i].second <= 0) continue;
      if (!out.empty()) out += ", ";
      out += procs_[i].first + " " + Pct(seconds_[i], wall_);
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, pid_t>> procs_;
  std::vector<CpuWindow> windows_;
  std::vector<double> seconds_;
  std::chrono::steady_clock::time_point start_;
  double wall_ = 0;
};

std::string RssText(const std::vector<std::pair<std::string, pid_t>>& procs, bool peak = false) {
  std::string out;
  for (const auto& [name, pid] : procs) {
    if (pid <= 0) continue;
    const ProcSample s = ReadProc(pid);
    if (!s.ok) continue;
    if (!out.empty()) out += ", ";
    out += name + " " + Megabytes(peak ? s.peak_kb : s.rss_kb);
  }
  return out;
}

std::string Latencies(const LatencyHistogram& h) {
  if (h.count() == 0) return "-";
  return Millis(h.Percentile(0.5)) + " / " + Millis(h.Percentile(0.99)) + " / " +
         Millis(h.Percentile(0.999));
}

std::string Ratio(double a, double b, int decimals = 2) {
  if (b <= 0) return "-";
  return Fixed(a / b, decimals) + "x";
}

std::string LossText(const RunReport& r) {
  std::string out = "lost " + Thousands(static_cast<double>(r.lost));
  if (r.duplicates > 0) out += ", repeats " + Thousands(static_cast<double>(r.duplicates));
  if (r.errors > 0) out += ", errors " + Thousands(static_cast<double>(r.errors));
  if (r.disconnects > 0) out += ", disconnects " + Thousands(static_cast<double>(r.disconnects));
  if (!r.drained) out += ", NOT drained";
  return out;
}

// Parses `key=value` fields of the line of `text` that starts with `tag`.
std::map<std::string, std::string> Fields(const std::string& text, const std::string& tag) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with(tag + " ")) continue;
    std::istringstream words(line.substr(tag.size() + 1));
    std::string word;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
    break;
  }
  return fields;
}

double Num(const std::map<std::string, std::string>& f, const std::string& key) {
  auto it = f.find(key);
  if (it == f.end()) return 0;
  try {
    return std::stod(it->second);
  } catch (...) {
    return 0;
  }
}

std::string RunCapture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

// GET http://127.0.0.1:port/metrics (Prometheus text): the samples without labels, by name.
std::map<std::string, double> ScrapeMetrics(int port) {
  std::map<std::string, double> samples;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return samples;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t n = 0;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0)
        response.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  std::istringstream lines(response);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#' || line.find('{') != std::string::npos) continue;
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    try {
      samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (...) {
    }
  }
  return samples;
}

// What the bridge's own metrics say about its group commits over an interval.
struct CommitStats {
  double commits = 0;
  double frames_per_commit = 0;
  double commit_ms = 0;  // mean time of one group commit
  std::string Text() const {
    if (commits <= 0) return "";
    return "bridge group commits: " + Fixed(frames_per_commit, 0) + " frames each on average, " +
           Fixed(commit_ms, 2) + " ms each";
  }
};

CommitStats CommitDelta(const std::map<std::string, double>& before,
                        const std::map<std::string, double>& after) {
  auto delta = [&](const std::string& key) {
    const auto a = after.find(key);
    const auto b = before.find(key);
    return (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
  };
  CommitStats c;
  c.commits = delta("sparrow_bridge_batch_frames_count");
  if (c.commits > 0) {
    c.frames_per_commit = delta("sparrow_bridge_batch_frames_sum") / c.commits;
    const double commit_count = delta("sparrow_bridge_commit_seconds_count");
    if (commit_count > 0)
      c.commit_ms = 1e3 * delta("sparrow_bridge_commit_seconds_sum") / commit_count;
  }
  return c;
}

// Keeps the bridge's friendship cache warm by announcing relations on im/sys/relation/{a}/{b}
// (what the REST service does on every change), for a bridge whose database cannot see the
// relations: the storage-off variant runs on a private in-memory SQLite database.
class RelationAnnouncer {
 public:
  RelationAnnouncer(int port, const std::string& token,
                    std::vector<std::pair<std::string, std::string>> pairs)
      : pairs_(std::move(pairs)) {
    transport_ = transport::MakeTransport(
        "mosquitto",
        transport::Options{
            .port = port, .client_id = "benchann:a1", .username = "benchann", .password = token});
    transport_->Start();
    if (!transport_->WaitConnected(5s)) throw std::runtime_error("announcer: cannot connect");
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        AnnounceAll();
        for (int i = 0; i < 30 && !stop_.load(); ++i) std::this_thread::sleep_for(100ms);
      }
    });
  }
  ~RelationAnnouncer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    transport_->Stop();
  }
  void Add(std::vector<std::pair<std::string, std::string>> more) {
    std::lock_guard<std::mutex> lock(mutex_);
    pairs_.insert(pairs_.end(), more.begin(), more.end());
  }
  void AnnounceAll() {
    std::vector<std::pair<std::string, std::string>> pairs;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pairs = pairs_;
    }
    for (auto [a, b] : pairs) {
      if (b < a) std::swap(a, b);
      const std::string topic = "im/sys/relation/" + a + "/" + b;
      while (transport_->Publish(topic, R"({"friends":true})", 1) ==
             transport::PublishResult::kBackpressure) {
        std::this_thread::sleep_for(1ms);
      }
    }
  }

 private:
  std::unique_ptr<transport::Transport> transport_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One stack under test, with what the harness adds to it: the ceiling relay on its broker, a
// fast connection for bulk set-up (users and friendships), the pids to measure.
class Fixture {
 public:
  Fixture(std::string label, StackOptions options, pid_t db_pid)
      : label_(std::move(label)),
        bridges_(options.bridges),
        stack_(WithMetrics(std::move(options), &metrics_port_)),
        db_pid_(db_pid) {}

  // The bridge's Prometheus samples now (empty if it has no metrics endpoint).
  std::map<std::string, double> BridgeMetrics() const {
    return metrics_port_ > 0 ? ScrapeMetrics(metrics_port_) : std::map<std::string, double>{};
  }

  void Start(bool with_relay) {
    stack_.Start();
    offline::DbOptions db;
    db.url = stack_.db_url();
    db.sqlite_sync = offline::SqliteSync::kNormal;  // set-up only; the services run FULL
    accounts_ = std::make_unique<offline::AccountStore>(db, common::SystemClock::Instance());
    if (with_relay) StartRelay();
  }

  void StartRelay() {
    const auto token_file = stack_.dir() / "keys" / "benchrelay.token";
    {
      std::ofstream out(token_file);
      out << stack_.Token("benchrelay", common::Role::kSvc, 24LL * 3600 * 1000) << "\n";
    }
    relay_ = std::make_unique<ChildProcess>(
        ChildOptions{.binary = SPARROW_BENCH_RELAY_BIN,
                     .args = {"--port", std::to_string(port()), "--username", "benchrelay",
                              "--token-file", token_file.string()},
                     .env = {},
                     .log_path = stack_.dir() / "log" / "relay.log",
                     .stop_timeout = 5000ms});
    relay_->Start();
    if (!testing::WaitUntil(
            [&] { return relay_->ReadLog().find("relay: subscribed") != std::string::npos; },
            10000ms)) {
      throw std::runtime_error("the ceiling relay did not subscribe: " + relay_->ReadLog());
    }
  }

  // Users {prefix}{k} for k in [0, 2 * pairs), befriended (k, k + 1) for even k, directly in
  // the database (as SparrowStack::Befriend does; no REST round trips).
  void Befriend(const std::string& prefix, int pairs) {
    for (int p = 0; p < pairs; ++p) {
      const std::string a = NumberedUser(prefix, 2 * p);
      const std::string b = NumberedUser(prefix, 2 * p + 1);
      constexpr const char* kHash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2g$YmVuY2g";
      (void)accounts_->CreateUser(a, kHash);
      (void)accounts_->CreateUser(b, kHash);
      (void)accounts_->CreateRelation(a, b, "bench-key-not-used");
    }
  }

  DeviceSpec Device(const std::string& user, common::Role role = common::Role::kUser) {
    DeviceSpec d;
    d.user = user;
    d.token = stack_.Token(user, role, 24LL * 3600 * 1000);
    d.port = port();
    return d;
  }

  // A connected load generator of `pairs` pairs: kSparrow users befriended, or kRelay.
  // `spread`: pair p on broker p mod brokers (both of its devices), else all on the first.
  std::unique_ptr<LoadGen> Pairs(LoadMode mode, const std::string& prefix, int pairs,
                                 const HarnessOptions& o, bool spread = false) {
    if (mode == LoadMode::kSparrow) Befriend(prefix, pairs);
    auto gen = std::make_unique<LoadGen>(
        LoadOptions{.mode = mode, .threads = o.loadgen_threads, .payload_bytes = o.payload});
    const auto role = mode == LoadMode::kSparrow ? common::Role::kUser : common::Role::kSvc;
    for (int p = 0; p < pairs; ++p) {
      DeviceSpec a = Device(NumberedUser(prefix, 2 * p), role);
      DeviceSpec b = Device(NumberedUser(prefix, 2 * p + 1), role);
      if (spread) a.port = b.port = stack_.broker(p % stack_.broker_count()).port();
      gen->AddPair(std::move(a), std::move(b));
    }
    const auto c = gen->Connect(60s);
    if (c.ready != c.requested) {
      throw std::runtime_error(label_ + ": only " + std::to_string(c.ready) + " of " +
                               std::to_string(c.requested) + " devices connected");
    }
    return gen;
  }

  std::vector<std::pair<std::string, pid_t>> SparrowProcs() {
    std::vector<std::pair<std::string, pid_t>> procs = {{"broker", stack_.broker().pid()},
                                                        {"bridge", stack_.bridge().pid()},
                                                        {"offline", stack_.offline().pid()}};
    if (db_pid_ > 0) procs.emplace_back("db", db_pid_);
    procs.emplace_back("loadgen", ::getpid());
    return procs;
  }
  std::vector<std::pair<std::string, pid_t>> RelayProcs() {
    return {{"broker", stack_.broker().pid()},
            {"relay", relay_ ? relay_->pid() : -1},
            {"loadgen", ::getpid()}};
  }
  std::vector<std::pair<std::string, pid_t>> ServiceProcs() {
    std::vector<std::pair<std::string, pid_t>> procs = {{"broker", stack_.broker().pid()},
                                                        {"bridge", stack_.bridge().pid()},
                                                        {"offline", stack_.offline().pid()}};
    if (db_pid_ > 0) procs.emplace_back("db", db_pid_);
    return procs;
  }

  // Every broker and bridge of the stack, the sync service, the load generator.
  std::vector<std::pair<std::string, pid_t>> AllProcs() {
    std::vector<std::pair<std::string, pid_t>> procs;
    for (int i = 0; i < stack_.broker_count(); ++i) {
      procs.emplace_back("broker" + std::to_string(i + 1), stack_.broker(i).pid());
    }
    for (int i = 0; i < bridges_; ++i) {
      procs.emplace_back("bridge" + std::to_string(i + 1), stack_.bridge(i).pid());
    }
    procs.emplace_back("offline", stack_.offline().pid());
    procs.emplace_back("loadgen", ::getpid());
    return procs;
  }

  int port() { return stack_.broker().port(); }
  SparrowStack& stack() { return stack_; }
  const std::string& label() const { return label_; }

 private:
  static StackOptions WithMetrics(StackOptions options, int* port) {
    if (options.bridges == 1) {
      *port = testing::FreePort();
      options.bridge_args.insert(options.bridge_args.end(),
                                 {"--metrics-port", std::to_string(*port)});
    }
    return options;
  }

  std::string label_;
  int bridges_ = 1;
  int metrics_port_ = 0;  // initialized before stack_ (declaration order)
  SparrowStack stack_;
  pid_t db_pid_ = 0;
  std::unique_ptr<offline::AccountStore> accounts_;
  std::unique_ptr<ChildProcess> relay_;
};

struct Measured {
  RunReport run;
  Usage usage;
  CommitStats commits;
};

class Harness {
 public:
  explicit Harness(HarnessOptions o) : o_(std::move(o)) {
    seconds_ = o_.seconds > 0 ? o_.seconds : (o_.quick ? 2.0 : 8.0);
    repeat_ = o_.repeat > 0 ? o_.repeat : (o_.quick ? 1 : 3);
    if (o_.devices_per_process <= 0) o_.devices_per_process = o_.quick ? 1500 : 5000;
    connect_devices_ = o_.connect_devices > 0 ? o_.connect_devices : (o_.quick ? 3000 : 15000);
    cluster_devices_ = o_.cluster_devices > 0 ? o_.cluster_devices : (o_.quick ? 4000 : 40000);
    sync_frames_ = o_.sync_frames > 0 ? o_.sync_frames : (o_.quick ? 20000 : 100000);
    if (!o_.mysql_url.empty() && o_.mysql_pid == 0) {
      auto pids = FindProcesses("mariadbd");
      if (pids.empty()) pids = FindProcesses("mysqld");
      if (!pids.empty()) o_.mysql_pid = pids.front();
    }
  }

  int Run();

 private:
  StackOptions BaseStack() const {
    StackOptions options;
    options.bridge_args = o_.bridge_args;
    for (const auto& kv : o_.service_env) {
      const auto eq = kv.find('=');
      if (eq != std::string::npos)
        options.service_env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return options;
  }
  bool Wanted(const std::string& scenario) const {
    return o_.scenarios.empty() ||
           std::find(o_.scenarios.begin(), o_.scenarios.end(), scenario) != o_.scenarios.end();
  }
  std::string Prefix(const std::string& tag) {
    return tag + std::to_string(++prefix_counter_) + "u";
  }
  RunSpec Closed(double seconds) const {
    RunSpec spec;
    spec.window = o_.window;
    spec.duration = milliseconds(static_cast<long>(seconds * 1000));
    return spec;
  }
  RunSpec Open(double rate, double seconds) const {
    RunSpec spec = Closed(seconds);
    spec.rate = rate;
    return spec;
  }
  static RunSpec WarmUp() {
    RunSpec spec;
    spec.window = 5;
    spec.messages_per_sender = 10;
    spec.duration = 20s;
    spec.record = false;
    return spec;
  }
  Measured Measure(LoadGen& gen, const RunSpec& spec,
                   std::vector<std::pair<std::string, pid_t>> procs,
                   const Fixture* bridge_of = nullptr) {
    Measured m;
    const auto before =
        bridge_of != nullptr ? bridge_of->BridgeMetrics() : std::map<std::string, double>{};
    m.usage.Begin(std::move(procs));
    m.run = gen.Run(spec);
    m.usage.End();
    if (bridge_of != nullptr) m.commits = CommitDelta(before, bridge_of->BridgeMetrics());
    return m;
  }
  // One load on one system, measured `repeat` times in turn with the others (A B C A B C ...),
  // so that a machine whose load changes during the run (it is shared) affects every arm alike.
  struct Arm {
    LoadGen* gen = nullptr;
    RunSpec spec;
    std::vector<std::pair<std::string, pid_t>> procs;
    const Fixture* bridge_of = nullptr;
  };
  // Per arm: the run of median throughput (its CPU, commits and counters), with the latency
  // histograms and loss counters of all its runs merged.
  std::vector<Measured> MeasureInTurn(const std::vector<Arm>& arms) {
    const int repeat = std::max(1, repeat_);
    std::vector<std::vector<Measured>> runs(arms.size());
    for (int r = 0; r < repeat; ++r) {
      for (std::size_t a = 0; a < arms.size(); ++a) {
        runs[a].push_back(Measure(*arms[a].gen, arms[a].spec, arms[a].procs, arms[a].bridge_of));
      }
    }
    std::vector<Measured> out;
    for (auto& list : runs) {
      std::vector<std::size_t> order(list.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        return list[x].run.throughput < list[y].run.throughput;
      });
      Measured median = list[order[order.size() / 2]];
      RunReport merged = median.run;
      merged.display_ns.Clear();
      merged.sent_ns.Clear();
      merged.delivered_ns.Clear();
      merged.lost = merged.duplicates = merged.errors = merged.disconnects = 0;
      merged.drained = true;
      for (const Measured& m : list) {
        merged.display_ns.Merge(m.run.display_ns);
        merged.sent_ns.Merge(m.run.sent_ns);
        merged.delivered_ns.Merge(m.run.delivered_ns);
        merged.lost += m.run.lost;
        merged.duplicates += m.run.duplicates;
        merged.errors += m.run.errors;
        merged.disconnects += m.run.disconnects;
        merged.drained = merged.drained && m.run.drained;
        if (merged.first_error.empty()) merged.first_error = m.run.first_error;
      }
      median.run = std::move(merged);
      out.push_back(std::move(median));
    }
    return out;
  }
  std::string RepeatNote() const {
    return repeat_ > 1 ? "median of " + std::to_string(repeat_) + " runs taken in turn" : "";
  }
  void Log(const std::string& text) {
    std::fprintf(stderr, "[%6.1f s] %s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(),
                 text.c_str());
  }

  void ThroughputAndLatency(Fixture& f);
  void Burst(Fixture& f);
  void Storage();
  void Connect(Fixture& f);
  void Cluster();
  void ScaleOut();
  void Sync(Fixture& f);
  void Store();
  void Profile(Fixture& f, LoadGen& sparrow, LoadGen& relay);

  HarnessOptions o_;
  double seconds_ = 8;
  int repeat_ = 1;
  int connect_devices_ = 15000;
  int cluster_devices_ = 40000;
  int sync_frames_ = 100000;
  int prefix_counter_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Report report_;
  // Results other scenarios compare with.
  double sparrow_max_ = 0;  // 100 pairs, SQLite, storage on
  double relay_max_ = 0;
  std::string relay_max_cpu_;
  std::string profile_text_;
  std::string offline_profile_;
};

// --- Throughput, CPU per message, latency -----------------------------------------------------

void Harness::ThroughputAndLatency(Fixture& f) {
  const int largest = *std::max_element(o_.pair_counts.begin(), o_.pair_counts.end());
  for (int pairs : o_.pair_counts) {
    Log("throughput, " + std::to_string(pairs) + " pair(s): relay and Sparrow in turn");
    auto relay = f.Pairs(LoadMode::kRelay, Prefix("r"), pairs, o_);
    auto sparrow = f.Pairs(LoadMode::kSparrow, Prefix("s"), pairs, o_);
    (void)relay->Run(WarmUp());
    (void)sparrow->Run(WarmUp());
    auto both = MeasureInTurn({{relay.get(), Closed(seconds_), f.RelayProcs(), nullptr},
                               {sparrow.get(), Closed(seconds_), f.SparrowProcs(), &f}});
    const Measured& r = both[0];
    const Measured& s = both[1];
    Log("  relay " + Fixed(r.run.throughput, 0) + " msg/s, sparrow " + Fixed(s.run.throughput, 0) +
        " chats/s");

    const double ratio = r.run.throughput > 0 ? s.run.throughput / r.run.throughput : 0;
    const double msgs_s = BrokerMessagesPerDelivered(s.run);
    const double msgs_r = BrokerMessagesPerDelivered(r.run);
    Row row;
    row.scenario = "closed-loop throughput, " + std::to_string(pairs) + " pair" +
                   (pairs > 1 ? "s" : "") + " (" + std::to_string(2 * pairs) + " devices, " +
                   std::to_string(o_.window) + " in flight each)";
    row.sparrow = Thousands(s.run.throughput) + " chats/s";
    row.ceiling = Thousands(r.run.throughput) + " msg/s";
    row.ratio = Percent(ratio);
    const double bound = msgs_s > 0 ? msgs_r / msgs_s : 0;
    if (pairs == largest) {
      row.target =
          ">= 30%: " + std::string(ratio >= 0.30
                                       ? "met"
                                       : "missed by " + Fixed((0.30 - ratio) * 100, 0) + " points");
      sparrow_max_ = s.run.throughput;
      relay_max_ = r.run.throughput;
      relay_max_cpu_ = r.usage.Text();
    }
    row.cpu = "Sparrow: " + s.usage.Text() + "\nrelay run: " + r.usage.Text();
    row.rss = RssText(f.ServiceProcs());
    row.notes = "broker msgs per chat " + Fixed(msgs_s, 1) + " vs " + Fixed(msgs_r, 1) +
                " per relayed msg (bound " + Percent(bound) + "); sender copies " +
                Thousands(static_cast<double>(s.run.copies)) + "; p50 display " +
                Millis(s.run.display_ns.Percentile(0.5)) + " vs " +
                Millis(r.run.display_ns.Percentile(0.5)) + "; Sparrow " + LossText(s.run) +
                "; relay " + LossText(r.run) +
                (s.commits.commits > 0 ? "; " + s.commits.Text() : "") +
                (repeat_ > 1 ? "; " + RepeatNote() : "");
    report_.Add(row);

    if (pairs != largest) continue;

    // CPU per delivered message.
    const double bridge_us =
        s.run.displayed_in_window > 0
            ? 1e6 * s.usage.Seconds("bridge") / static_cast<double>(s.run.displayed_in_window)
            : 0;
    const double relay_us =
        r.run.displayed_in_window > 0
            ? 1e6 * r.usage.Seconds("relay") / static_cast<double>(r.run.displayed_in_window)
            : 0;
    const double broker_s_us =
        s.run.displayed_in_window > 0
            ? 1e6 * s.usage.Seconds("broker") / static_cast<double>(s.run.displayed_in_window)
            : 0;
    const double broker_r_us =
        r.run.displayed_in_window > 0
            ? 1e6 * r.usage.Seconds("broker") / static_cast<double>(r.run.displayed_in_window)
            : 0;
    const double cpu_ratio = relay_us > 0 ? bridge_us / relay_us : 0;
    Row cpu;
    cpu.scenario = "CPU per delivered message, " + std::to_string(pairs) +
                   " pairs (bridge per chat vs relay per message)";
    cpu.sparrow = Fixed(bridge_us, 1) + " us/chat";
    cpu.ceiling = Fixed(relay_us, 1) + " us/msg";
    cpu.ratio = Fixed(cpu_ratio, 2) + "x";
    cpu.target =
        "<= 2.5x: " +
        std::string(cpu_ratio <= 2.5 ? "met" : "missed by " + Fixed(cpu_ratio - 2.5, 2) + "x");
    cpu.cpu = "broker " + Fixed(broker_s_us, 1) + " us/chat vs " + Fixed(broker_r_us, 1) +
              " us/relayed msg";
    cpu.notes = "bridge CPU includes SQLite (in process) and its MQTT client; offline " +
                Fixed(s.run.displayed_in_window > 0
                          ? 1e6 * s.usage.Seconds("offline") / s.run.displayed_in_window
                          : 0,
                      1) +
                " us/chat";
    report_.Add(cpu);

    // Latency at half of each one's maximum, and at 1,000 chats/s.
    struct Point {
      std::string name;
      double sparrow_rate;
      double relay_rate;
    };
    std::vector<Point> points = {
        {"latency at 50% of max (open loop, " + Thousands(0.5 * s.run.throughput) + " chats/s vs " +
             Thousands(0.5 * r.run.throughput) + " msg/s)",
         0.5 * s.run.throughput, 0.5 * r.run.throughput},
        {"latency at 1,000 chats/s (open loop, " + std::to_string(pairs) + " pairs, storage on)",
         1000, 1000}};
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Point& p = points[i];
      Log(p.name);
      auto pair =
          MeasureInTurn({{relay.get(), Open(p.relay_rate, seconds_), f.RelayProcs(), nullptr},
                         {sparrow.get(), Open(p.sparrow_rate, seconds_), f.SparrowProcs(), &f}});
      const Measured& rl = pair[0];
      const Measured& sl = pair[1];
      Row lat;
      lat.scenario = p.name + ": display p50 / p99 / p999";
      lat.sparrow = Latencies(sl.run.display_ns);
      lat.ceiling = Latencies(rl.run.display_ns);
      const double p50 = static_cast<double>(sl.run.display_ns.Percentile(0.5));
      const double p99 = static_cast<double>(sl.run.display_ns.Percentile(0.99));
      const double r50 = static_cast<double>(rl.run.display_ns.Percentile(0.5));
      const double r99 = static_cast<double>(rl.run.display_ns.Percentile(0.99));
      lat.ratio = "p50 " + Ratio(p50, r50, 1) + ", p99 " + Ratio(p99, r99, 1);
      if (i == 1) {
        const bool ok50 = r50 > 0 && p50 <= 2 * r50;
        const bool ok99 = r99 > 0 && p99 <= 10 * r99;
        lat.target =
            "p50 <= 2x: " + std::string(ok50 ? "met" : "missed (" + Ratio(p50, r50, 1) + ")") +
            "; p99 <= 10x: " + std::string(ok99 ? "met" : "missed (" + Ratio(p99, r99, 1) + ")");
      }
      lat.cpu = "Sparrow: " + sl.usage.Text() + "\nrelay run: " + rl.usage.Text();
      lat.notes =
          "achieved " + Thousands(sl.run.sent / seconds_) + " vs " +
          Thousands(rl.run.sent / seconds_) + " sent/s; SENT p50/p99 " +
          Millis(sl.run.sent_ns.Percentile(0.5)) + " / " + Millis(sl.run.sent_ns.Percentile(0.99)) +
          "; DELIVERED back at sender p50/p99 " + Millis(sl.run.delivered_ns.Percentile(0.5)) +
          " / " + Millis(sl.run.delivered_ns.Percentile(0.99)) + "; Sparrow " + LossText(sl.run) +
          "; relay " + LossText(rl.run) + (sl.commits.commits > 0 ? "; " + sl.commits.Text() : "") +
          (r50 < 1e6 ? "; relay p50 under 1 ms: no Nagle delay on the path"
                     : "; relay p50 over 1 ms: look for Nagle") +
          (repeat_ > 1 ? "; percentiles over " + std::to_string(repeat_) + " runs" : "");
      report_.Add(lat);
    }
    if (o_.profile) Profile(f, *sparrow, *relay);
  }
}

void Harness::Profile(Fixture& f, LoadGen& sparrow, LoadGen& relay) {
  std::string why;
  if (!PerfAvailable(&why)) {
    profile_text_ = "perf is not usable here: " + why;
    return;
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("sparrow-bench-perf-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Log("profile: perf record of bridge and broker during a 100-pair run");
  std::string text;
  {
    PerfRecorder bridge_perf;
    PerfRecorder broker_perf;
    bridge_perf.Start(f.stack().bridge().pid(), (dir / "bridge.data").string(), true, nullptr);
    broker_perf.Start(f.stack().broker().pid(), (dir / "broker.data").string(), false, nullptr);
    Measured s = Measure(sparrow, Closed(seconds_), f.SparrowProcs());
    bridge_perf.Stop();
    broker_perf.Stop();
    text += "Recorded during an extra closed-loop 100-pair run (" + Thousands(s.run.throughput) +
            " chats/s under perf; CPU " + s.usage.Text() + ").\n\n";
  }
  {
    PerfRecorder relay_broker;
    relay_broker.Start(f.stack().broker().pid(), (dir / "broker-relay.data").string(), false,
                       nullptr);
    Measured r = Measure(relay, Closed(seconds_), f.RelayProcs());
    relay_broker.Stop();
    text += "Broker profile of the relay run for comparison: " + Thousands(r.run.throughput) +
            " msg/s, CPU " + r.usage.Text() + ".\n\n";
  }
  Log("profile: summarizing (perf report)");
  text += SummarizeProfile((dir / "bridge.data").string(), 30,
                           {"sparrow::", "sqlite3_step", "mosquitto_", "soci::"})
              .Markdown("**sparrow-bridge**");
  text += "\n" + SummarizeProfile((dir / "broker.data").string(), 15, {})
                     .Markdown("**mosquitto broker, Sparrow run**");
  text += "\n" + SummarizeProfile((dir / "broker-relay.data").string(), 15, {})
                     .Markdown("**mosquitto broker, relay run**");
  text += "\nperf data: " + dir.string() + " (perf report -i FILE)\n";
  profile_text_ = text;
}

// --- Burst -----------------------------------------------------------------------------------

void Harness::Burst(Fixture& f) {
  Log("burst: 2,000 chats outstanding from one device");
  RunSpec spec;
  spec.window = 2000;
  spec.messages_per_sender = 2000;
  spec.both_directions = false;
  spec.duration = 60s;
  spec.drain_timeout = 60s;
  auto relay = f.Pairs(LoadMode::kRelay, Prefix("rb"), 1, o_);
  Measured r = Measure(*relay, spec, f.RelayProcs());
  relay.reset();
  auto sparrow = f.Pairs(LoadMode::kSparrow, Prefix("sb"), 1, o_);
  Measured s = Measure(*sparrow, spec, f.SparrowProcs());
  const bool ok = s.run.lost == 0 && s.run.displayed == 2000 && s.run.sent_acks >= 2000 &&
                  s.run.delivered >= 2000;
  Row row;
  row.scenario = "QoS 1 burst: one device sends 2,000 chats without waiting";
  row.sparrow = Thousands(s.run.displayed) + "/2,000 displayed, SENT " +
                Thousands(s.run.sent_acks) + ", DELIVERED " + Thousands(s.run.delivered) + ", in " +
                Fixed(s.run.seconds, 2) + " s";
  row.ceiling = Thousands(r.run.displayed) + "/2,000 in " + Fixed(r.run.seconds, 2) + " s";
  row.ratio = "-";
  row.target = std::string("nothing lost: ") + (ok ? "met" : "MISSED");
  row.cpu = "Sparrow: " + s.usage.Text();
  row.notes = "Sparrow " + LossText(s.run) + "; relay " + LossText(r.run);
  report_.Add(row);
}

// --- Storage off, MariaDB ----------------------------------------------------------------------

void Harness::Storage() {
  // The same bridge with storage on (SQLite file; MariaDB when given) and off (a private
  // in-memory SQLite database), each on a stack of its own, measured in turn.
  Log("storage: stacks with the bridge on SQLite, in memory" +
      std::string(o_.mysql_url.empty() ? "" : " and on MariaDB"));
  Fixture sqlite("sqlite-storage", BaseStack(), 0);
  sqlite.Start(false);
  StackOptions memory_options = BaseStack();
  memory_options.bridge_args.insert(memory_options.bridge_args.end(), {"--db", "sqlite::memory:"});
  Fixture memory("memory", memory_options, 0);
  memory.Start(false);
  std::optional<testing::MariaDbDatabase> database;
  std::unique_ptr<Fixture> maria;
  if (!o_.mysql_url.empty()) {
    database.emplace(o_.mysql_url);
    StackOptions options = BaseStack();
    options.db_url = database->url();
    maria = std::make_unique<Fixture>("mariadb", options, o_.mysql_pid);
    maria->Start(false);
  }
  const std::string prefix = Prefix("m");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int p = 0; p < 100; ++p) {
    pairs.emplace_back(NumberedUser(prefix, 2 * p), NumberedUser(prefix, 2 * p + 1));
  }
  RelationAnnouncer announcer(memory.port(), memory.stack().Token("benchann", common::Role::kSvc),
                              pairs);
  std::this_thread::sleep_for(300ms);  // the first announcements reach the bridge
  auto off = memory.Pairs(LoadMode::kSparrow, prefix, 100, o_);
  auto on = sqlite.Pairs(LoadMode::kSparrow, Prefix("q"), 100, o_);
  std::unique_ptr<LoadGen> on_maria;
  if (maria) on_maria = maria->Pairs(LoadMode::kSparrow, Prefix("y"), 100, o_);
  (void)off->Run(WarmUp());
  (void)on->Run(WarmUp());
  if (on_maria) (void)on_maria->Run(WarmUp());
  std::vector<Arm> arms = {{off.get(), Closed(seconds_), memory.SparrowProcs(), &memory},
                           {on.get(), Closed(seconds_), sqlite.SparrowProcs(), &sqlite}};
  if (on_maria)
    arms.push_back({on_maria.get(), Closed(seconds_), maria->SparrowProcs(), maria.get()});
  const auto m = MeasureInTurn(arms);
  Log("  storage off " + Fixed(m[0].run.throughput, 0) + ", SQLite " +
      Fixed(m[1].run.throughput, 0) +
      (on_maria ? ", MariaDB " + Fixed(m[2].run.throughput, 0) : std::string()) + " chats/s");

  auto row_for = [&](const Measured& x, const std::string& what, Fixture& f) {
    const double ratio = m[0].run.throughput > 0 ? x.run.throughput / m[0].run.throughput : 0;
    Row row;
    row.scenario = "storage on (" + what + ") vs off (in-memory SQLite), 100 pairs";
    row.sparrow = Thousands(x.run.throughput) + " chats/s";
    row.ceiling = Thousands(m[0].run.throughput) + " chats/s (off)";
    row.ratio = Percent(ratio);
    row.target =
        ">= 80%: " + std::string(ratio >= 0.8
                                     ? "met"
                                     : "missed by " + Fixed((0.8 - ratio) * 100, 0) + " points");
    row.cpu = "on: " + x.usage.Text() + "\noff: " + m[0].usage.Text();
    row.rss = RssText(f.ServiceProcs());
    row.notes =
        "off = the same bridge with --db sqlite::memory: (every statement still runs, "
        "nothing reaches the disk; friendships announced on im/sys/relation); on: " +
        LossText(x.run) + (x.commits.commits > 0 ? ", " + x.commits.Text() : "") +
        "; off: " + LossText(m[0].run) +
        (m[0].commits.commits > 0 ? ", " + m[0].commits.Text() : "") +
        (relay_max_ > 0 ? "; on = " + Percent(x.run.throughput / relay_max_) +
                              " of the relay's 100-pair figure above"
                        : "") +
        (repeat_ > 1 ? "; " + RepeatNote() : "");
    report_.Add(row);
  };
  row_for(m[1], "SQLite file, synchronous=FULL", sqlite);
  if (on_maria) {
    row_for(m[2], "MariaDB, InnoDB, log flushed at commit", *maria);
    Log("MariaDB: latency at 1,000 chats/s");
    auto lat =
        MeasureInTurn({{on_maria.get(), Open(1000, seconds_), maria->SparrowProcs(), maria.get()}});
    const Measured& l = lat[0];
    Row row;
    row.scenario = "latency at 1,000 chats/s on MariaDB: display p50 / p99 / p999";
    row.sparrow = Latencies(l.run.display_ns);
    row.ceiling = "-";
    row.cpu = l.usage.Text();
    row.notes = "SENT p50/p99 " + Millis(l.run.sent_ns.Percentile(0.5)) + " / " +
                Millis(l.run.sent_ns.Percentile(0.99)) + "; " + LossText(l.run) +
                (l.commits.commits > 0 ? "; " + l.commits.Text() : "");
    report_.Add(row);
  } else {
    report_.Add(Row{.scenario = "storage on MariaDB",
                    .sparrow = "(not run)",
                    .notes = "bench/run starts one in full mode (--mariadb), or give --mysql URL"});
  }
}

// --- Connections -------------------------------------------------------------------------------

struct HeldResult {
  int requested = 0;
  int ready = 0;
  double per_second = 0;
  double seconds = 0;
  int verified_displayed = 0;
  int verified_sent = 0;
  int verified_lost = 0;
  std::string handshake;
  std::string error;
};

// Starts `processes` sparrow-loadgen processes holding `devices` in all, waits until each is
// READY (and VERIFIED with `verify`). The processes stay up until `held` is destroyed.
HeldResult HoldDevices(std::vector<std::unique_ptr<ChildProcess>>& held, const std::string& mode,
                       const std::vector<int>& ports, const std::string& key_dir,
                       const std::string& prefix, int devices, int per_process, int inflight,
                       bool verify, const std::filesystem::path& log_dir) {
  HeldResult r;
  r.requested = devices;
  const int processes = (devices + per_process - 1) / per_process;
  for (int i = 0; i < processes; ++i) {
    const int first = i * per_process;
    const int count = std::min(per_process, devices - first);
    std::string port_list;
    for (int port : ports) port_list += (port_list.empty() ? "" : ",") + std::to_string(port);
    std::vector<std::string> args = {"--mode",
                                     mode,
                                     "--port",
                                     std::to_string(ports.front()),
                                     "--ports",
                                     port_list,
                                     "--prefix",
                                     prefix,
                                     "--first",
                                     std::to_string(first),
                                     "--pairs",
                                     std::to_string(count / 2),
                                     "--bind",
                                     "127.0.0." + std::to_string(2 + i),
                                     "--connect-inflight",
                                     std::to_string(inflight),
                                     "--hold"};
    if (key_dir.empty()) {
      args.emplace_back("--anonymous");
    } else {
      // A private copy of the key folder per process: common::LoadOrCreateSigningKey rewrites
      // token_public.key (tmp file + rename) on every call, so processes sharing one folder
      // race on the rename.
      const auto copy = log_dir / (prefix + "-keys-" + std::to_string(i));
      std::filesystem::create_directories(copy);
      for (const char* file : {"token_secret.key", "token_public.key"}) {
        std::filesystem::copy_file(std::filesystem::path(key_dir) / file, copy / file,
                                   std::filesystem::copy_options::overwrite_existing);
      }
      std::filesystem::permissions(
          copy / "token_secret.key",
          std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      args.insert(args.end(), {"--key-dir", copy.string()});
    }
    if (verify) args.emplace_back("--verify");
    held.push_back(std::make_unique<ChildProcess>(
        ChildOptions{.binary = SPARROW_LOADGEN_BIN,
                     .args = args,
                     .env = {},
                     .log_path = log_dir / (prefix + "-" + std::to_string(i) + ".log"),
                     .stop_timeout = 20000ms}));
  }
  for (auto& p : held) p->Start();
  const std::string tag = verify ? "VERIFIED" : "READY";
  const bool all = testing::WaitUntil(
      [&] {
        for (auto& p : held) {
          if (p->ReadLog().find(tag + " ") == std::string::npos) return false;
        }
        return true;
      },
      300000ms, 50ms);
  std::int64_t start = 0;
  std::int64_t end = 0;
  LatencyHistogram unused;
  double p50 = 0;
  double p99 = 0;
  for (auto& p : held) {
    const std::string log = p->ReadLog();
    const auto ready = Fields(log, "READY");
    r.ready += static_cast<int>(Num(ready, "ready"));
    const auto s = static_cast<std::int64_t>(Num(ready, "start_ns"));
    const auto e = static_cast<std::int64_t>(Num(ready, "end_ns"));
    if (s > 0 && (start == 0 || s < start)) start = s;
    end = std::max(end, e);
    p50 = std::max(p50, Num(ready, "handshake_p50_ms"));
    p99 = std::max(p99, Num(ready, "handshake_p99_ms"));
    if (verify) {
      const auto v = Fields(log, "VERIFIED");
      r.verified_sent += static_cast<int>(Num(v, "sent"));
      r.verified_displayed += static_cast<int>(Num(v, "displayed"));
      r.verified_lost += static_cast<int>(Num(v, "lost"));
    }
    if (log.find("ERROR") != std::string::npos && r.error.empty()) {
      r.error = log.substr(log.find("ERROR"), 200);
    }
  }
  if (!all && r.error.empty()) r.error = "not every load generator reported " + tag;
  r.seconds = end > start ? static_cast<double>(end - start) / 1e9 : 0;
  r.per_second = r.seconds > 0 ? r.ready / r.seconds : 0;
  r.handshake =
      "handshake p50 " + Fixed(p50, 1) + " ms, p99 " + Fixed(p99, 1) + " ms (worst process)";
  return r;
}

void Harness::Connect(Fixture& f) {
  const int devices = connect_devices_ / 2 * 2;
  const int processes = (devices + o_.devices_per_process - 1) / o_.devices_per_process;
  Log("connections: befriending " + Thousands(devices) + " devices");
  const std::string prefix = Prefix("h");
  f.Befriend(prefix, devices / 2);
  // Throughput without them first, then with them, on the same 100 pairs (an A/B in one place).
  auto gen = f.Pairs(LoadMode::kSparrow, Prefix("s"), 100, o_);
  (void)gen->Run(WarmUp());
  Log("connections: 100 pairs before the devices connect");
  Measured alone = MeasureInTurn({{gen.get(), Closed(seconds_), f.SparrowProcs(), &f}})[0];
  const ProcSample broker_idle = ReadProc(f.stack().broker().pid());
  ResetPeakRss(f.stack().broker().pid());
  Log("connections: " + std::to_string(processes) + " load generators hold " + Thousands(devices) +
      " devices");
  std::vector<std::unique_ptr<ChildProcess>> held;
  Usage usage;
  usage.Begin(f.ServiceProcs());
  HeldResult h =
      HoldDevices(held, "sparrow", {f.port()}, (f.stack().dir() / "keys").string(), prefix, devices,
                  o_.devices_per_process, o_.connect_inflight, true, f.stack().dir() / "log");
  usage.End();
  const ProcSample broker_held = ReadProc(f.stack().broker().pid());
  const std::string rss_held = RssText(f.ServiceProcs());
  Log("  " + Thousands(h.ready) + " ready at " + Fixed(h.per_second, 0) + "/s; 100 pairs on top");

  // Throughput with them connected.
  Measured m = MeasureInTurn({{gen.get(), Closed(seconds_), f.SparrowProcs(), &f}})[0];
  gen.reset();
  held.clear();  // SIGTERM: each disconnects its devices

  // The ceiling: a bare broker (same config, anonymous, no plugin, no services).
  Log("connections: the same load on a bare broker");
  testing::MosquittoProcess bare;
  bare.Start();
  const ProcSample bare_idle = ReadProc(bare.pid());
  std::vector<std::unique_ptr<ChildProcess>> bare_held;
  HeldResult b =
      HoldDevices(bare_held, "relay", {bare.port()}, "", Prefix("hb"), devices,
                  o_.devices_per_process, o_.connect_inflight, false, f.stack().dir() / "log");
  const ProcSample bare_now = ReadProc(bare.pid());
  bare_held.clear();
  bare.Stop();

  Row row;
  row.scenario = "connect " + Thousands(devices) + " authenticated devices to one broker (" +
                 std::to_string(processes) + " processes, 127.0.0.2-" +
                 std::to_string(1 + processes) + ")";
  row.sparrow = Thousands(h.per_second) + " connects/s (" + Thousands(h.ready) + " ready)";
  row.ceiling = Thousands(b.per_second) + " connects/s (bare broker)";
  row.ratio = Percent(b.per_second > 0 ? h.per_second / b.per_second : 0);
  row.target = h.ready == devices ? "all connected: met" : "MISSED: " + Thousands(h.ready);
  row.cpu = "while connecting: " + usage.Text();
  row.rss = "held: " + rss_held + "\nbare broker " + Megabytes(bare_now.rss_kb);
  row.notes = "broker RSS " + Megabytes(broker_idle.rss_kb) + " idle -> " +
              Megabytes(broker_held.rss_kb) + " held (+" +
              Fixed(static_cast<double>(broker_held.rss_kb - broker_idle.rss_kb) / devices, 2) +
              " KB/device); bare broker " + Megabytes(bare_idle.rss_kb) + " -> " +
              Megabytes(bare_now.rss_kb) + " (+" +
              Fixed(static_cast<double>(bare_now.rss_kb - bare_idle.rss_kb) / devices, 2) +
              " KB/device); " + h.handshake + (h.error.empty() ? "" : "; " + h.error);
  report_.Add(row);

  Row recv;
  recv.scenario = "every held device can receive (each sends its partner one chat)";
  recv.sparrow = Thousands(h.verified_displayed) + "/" + Thousands(h.verified_sent) + " displayed";
  recv.ratio = "-";
  recv.target =
      h.verified_lost == 0 && h.verified_sent == devices && h.verified_displayed == devices
          ? "met"
          : "MISSED: " + Thousands(h.verified_lost) + " lost";
  report_.Add(recv);

  Row tp;
  tp.scenario = "throughput, 100 pairs, with " + Thousands(devices) + " devices held vs without";
  tp.sparrow = Thousands(m.run.throughput) + " chats/s";
  tp.ceiling = Thousands(alone.run.throughput) + " chats/s (none held, just before)";
  tp.ratio = Percent(alone.run.throughput > 0 ? m.run.throughput / alone.run.throughput : 0);
  tp.cpu = "held: " + m.usage.Text() + "\nnone held: " + alone.usage.Text();
  tp.rss = RssText(f.ServiceProcs());
  tp.notes =
      "the same 100 pairs in both runs; " + LossText(m.run) + "; none held: " + LossText(alone.run);
  report_.Add(tp);
}

// --- Scale-out: 1 broker + 1 bridge vs 2 brokers + 2 bridges -----------------------------------

// The same closed-loop load (the largest pair count) on one broker with one bridge, and on two
// brokers with two bridges sharing the devices (pair p on broker p mod 2, both of its devices:
// each broker and bridge takes half), measured in turn in one run.
void Harness::ScaleOut() {
  const int pairs = *std::max_element(o_.pair_counts.begin(), o_.pair_counts.end());
  Log("scale-out: 1 broker + 1 bridge vs 2 brokers + 2 bridges, " + std::to_string(pairs) +
      " pairs");
  Fixture one("scale-1x1", BaseStack(), 0);
  one.Start(false);
  StackOptions options = BaseStack();
  options.brokers = 2;
  options.bridges = 2;
  Fixture two("scale-2x2", options, 0);
  two.Start(false);
  auto single = one.Pairs(LoadMode::kSparrow, Prefix("o"), pairs, o_);
  auto spread = two.Pairs(LoadMode::kSparrow, Prefix("t"), pairs, o_, /*spread=*/true);
  (void)single->Run(WarmUp());
  (void)spread->Run(WarmUp());
  auto both = MeasureInTurn({{single.get(), Closed(seconds_), one.AllProcs(), &one},
                             {spread.get(), Closed(seconds_), two.AllProcs(), nullptr}});
  const Measured& a = both[0];
  const Measured& b = both[1];
  Log("  1+1 " + Fixed(a.run.throughput, 0) + " chats/s, 2+2 " + Fixed(b.run.throughput, 0) +
      " chats/s");
  const double ratio = a.run.throughput > 0 ? b.run.throughput / a.run.throughput : 0;
  Row row;
  row.scenario = "scale-out: closed-loop throughput, " + std::to_string(pairs) +
                 " pairs, 2 brokers + 2 bridges (Sparrow column) vs 1 broker + 1 bridge (ceiling "
                 "column)";
  row.sparrow = Thousands(b.run.throughput) + " chats/s";
  row.ceiling = Thousands(a.run.throughput) + " chats/s";
  row.ratio = Percent(ratio);
  row.target = "reported (2 cores: the second broker and bridge share the same two cores)";
  row.cpu = "2+2: " + b.usage.Text() + "\n1+1: " + a.usage.Text();
  row.rss = RssText(two.AllProcs());
  row.notes = "pair p on broker p mod 2; p50 display " + Millis(b.run.display_ns.Percentile(0.5)) +
              " vs " + Millis(a.run.display_ns.Percentile(0.5)) + "; 2+2 " + LossText(b.run) +
              "; 1+1 " + LossText(a.run) + (repeat_ > 1 ? "; " + RepeatNote() : "");
  report_.Add(row);
}

void Harness::Cluster() {
  const int brokers = 3;
  const int devices = cluster_devices_ / 2 * 2;
  const int processes = (devices + o_.devices_per_process - 1) / o_.devices_per_process;
  Log("cluster: " + std::to_string(brokers) + " brokers, bridge and sync service on each");
  StackOptions options = BaseStack();
  options.brokers = brokers;
  Fixture f("cluster", options, 0);
  f.Start(false);
  std::vector<int> ports;
  std::vector<std::pair<std::string, pid_t>> procs;
  for (int i = 0; i < brokers; ++i) {
    ports.push_back(f.stack().broker(i).port());
    procs.emplace_back("broker" + std::to_string(i + 1), f.stack().broker(i).pid());
  }
  procs.emplace_back("bridge", f.stack().bridge().pid());
  procs.emplace_back("offline", f.stack().offline().pid());
  Log("cluster: befriending " + Thousands(devices) + " devices");
  const std::string prefix = Prefix("k");
  f.Befriend(prefix, devices / 2);
  std::vector<ProcSample> idle;
  for (int i = 0; i < brokers; ++i) idle.push_back(ReadProc(f.stack().broker(i).pid()));
  Log("cluster: " + std::to_string(processes) + " load generators hold " + Thousands(devices) +
      " devices, pairs split across brokers");
  std::vector<std::unique_ptr<ChildProcess>> held;
  Usage usage;
  usage.Begin(procs);
  // Every process connects to every broker: keep the handshakes in flight per broker at what
  // one process of the single-broker scenario has at most (its accept backlog is 100).
  const int inflight = std::max(4, o_.connect_inflight * brokers * 2 / std::max(1, processes));
  const int per_process_inflight = std::min(o_.connect_inflight, inflight);
  HeldResult h =
      HoldDevices(held, "sparrow", ports, (f.stack().dir() / "keys").string(), prefix, devices,
                  o_.devices_per_process, per_process_inflight, true, f.stack().dir() / "log");
  usage.End();
  std::string broker_rss;
  for (int i = 0; i < brokers; ++i) {
    const ProcSample now = ReadProc(f.stack().broker(i).pid());
    if (!broker_rss.empty()) broker_rss += ", ";
    broker_rss += "broker" + std::to_string(i + 1) + " " +
                  Megabytes(idle[static_cast<std::size_t>(i)].rss_kb) + " -> " +
                  Megabytes(now.rss_kb);
  }
  const std::string services =
      RssText({{"bridge", f.stack().bridge().pid()}, {"offline", f.stack().offline().pid()}});
  held.clear();
  Log("  " + Thousands(h.ready) + " ready at " + Fixed(h.per_second, 0) + "/s");

  Row row;
  row.scenario = "connect " + Thousands(devices) + " authenticated devices across a " +
                 std::to_string(brokers) + "-broker cluster (" + std::to_string(processes) +
                 " processes, 127.0.0.2-" + std::to_string(1 + processes) + ")";
  row.sparrow = Thousands(h.per_second) + " connects/s (" + Thousands(h.ready) + " ready)";
  row.ceiling = "-";
  row.ratio = "-";
  row.target = h.ready == devices ? "all connected: met" : "MISSED: " + Thousands(h.ready);
  row.cpu = "while connecting and verifying: " + usage.Text();
  row.rss = broker_rss + "\n" + services;
  row.notes = h.handshake + "; " + std::to_string(per_process_inflight) +
              " handshakes in flight per process" + (h.error.empty() ? "" : "; " + h.error);
  report_.Add(row);

  Row recv;
  recv.scenario = "every device of the cluster can receive (partners on different brokers)";
  recv.sparrow = Thousands(h.verified_displayed) + "/" + Thousands(h.verified_sent) + " displayed";
  recv.ratio = "-";
  recv.target =
      h.verified_lost == 0 && h.verified_sent == devices && h.verified_displayed == devices
          ? "met"
          : "MISSED: " + Thousands(h.verified_lost) + " lost";
  recv.notes = "each device sends its partner one chat; device k is on broker k mod " +
               std::to_string(brokers) + ", so every chat crosses brokers through the bridge";
  report_.Add(recv);
}

// --- Offline sync ------------------------------------------------------------------------------

// Appends `count` chats from `from` to `to` through the store API, 1,000 per group commit.
void FillBacklog(const std::string& db_url, const std::string& from, const std::string& to,
                 int count, int payload) {
  offline::DbOptions db;
  db.url = db_url;
  db.sqlite_sync = offline::SqliteSync::kNormal;
  offline::SociMessageStore store(db, common::SystemClock::Instance());
  const std::string body(static_cast<std::size_t>(std::max(16, payload - 90)), 'x');
  int id = 0;
  while (id < count) {
    offline::WriteBatch batch;
    const std::int64_t now = common::SystemClock::Instance().WallMillis();
    for (int i = 0; i < 1000 && id < count; ++i) {
      ++id;
      const std::string mid = common::NewMid(now);
      const std::string content =
          R"({"type":"chat","mid":")" + mid + R"(","id":)" + std::to_string(id) + R"(,"fromId":")" +
          from + R"(","fromDevice":"d","destId":")" + to + R"(","kind":"text","msgBody":")" + body +
          R"(","ts":)" + std::to_string(now) + "}";
      batch.chats.push_back(offline::ChatWrite{mid, from, "d", id, to, now, content, content});
    }
    (void)store.Commit(batch);
  }
}

void Harness::Sync(Fixture& f) {
  // Three backlogs (a quarter of the size, the size, twice the size), each for its own user,
  // synced one after the other by one device; then two devices sync the size at once. One
  // sender per backlog: chat ids restart at 1 in each, and (sender, device, id) is the dedupe
  // key.
  const std::string prefix = Prefix("o");
  struct Backlog {
    std::string user;
    std::string sender;
    int frames = 0;
    int device = -1;
    SyncReport report;
    Usage usage;
    std::int64_t offline_peak = 0;
    std::int64_t bridge_peak = 0;
    std::int64_t broker_peak = 0;
  };
  const bool two = !o_.quick;
  std::vector<Backlog> backlogs(two ? 4 : 3);
  const int sizes[4] = {std::max(1000, sync_frames_ / 4), sync_frames_, 2 * sync_frames_,
                        sync_frames_};
  for (std::size_t i = 0; i < backlogs.size(); ++i) {
    backlogs[i].user = NumberedUser(prefix, static_cast<int>(i));
    backlogs[i].sender = NumberedUser(prefix, 10 + static_cast<int>(i));
    backlogs[i].frames = sizes[i];
  }
  Log("sync: filling backlogs of " + Thousands(sizes[0]) + ", " + Thousands(sizes[1]) + " and " +
      Thousands(sizes[2]) + " frames through the store API");
  const auto fill_start = std::chrono::steady_clock::now();
  for (const Backlog& b : backlogs)
    FillBacklog(f.stack().db_url(), b.sender, b.user, b.frames, o_.payload);
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();

  LoadGen gen(LoadOptions{.mode = LoadMode::kSparrow, .payload_bytes = o_.payload});
  for (Backlog& b : backlogs) b.device = gen.AddDevice(f.Device(b.user));
  if (gen.Connect(30s).ready != gen.size()) throw std::runtime_error("sync devices: connect");
  const pid_t offline_pid = f.stack().offline().pid();
  const pid_t bridge_pid = f.stack().bridge().pid();
  const pid_t broker_pid = f.stack().broker().pid();

  // Syncs `which` at once; the peaks are VmHWM after a reset just before.
  auto sync = [&](const std::vector<Backlog*>& which) {
    ResetPeakRss(offline_pid);
    ResetPeakRss(bridge_pid);
    ResetPeakRss(broker_pid);
    std::vector<int> devices;
    for (Backlog* b : which) devices.push_back(b->device);
    which.front()->usage.Begin(f.ServiceProcs());
    const auto reports = gen.Sync(devices, 0, 600s);
    which.front()->usage.End();
    for (std::size_t i = 0; i < which.size(); ++i) {
      which[i]->report = reports[i];
      which[i]->offline_peak = ReadProc(offline_pid).peak_kb;
      which[i]->bridge_peak = ReadProc(bridge_pid).peak_kb;
      which[i]->broker_peak = ReadProc(broker_pid).peak_kb;
    }
  };
  for (std::size_t i = 0; i < 3; ++i) {
    Log("sync: " + Thousands(backlogs[i].frames) + " frames");
    sync({&backlogs[i]});
  }
  Backlog both;  // the size, synced again by its device, beside the fourth backlog
  if (two) {
    Log("sync: two devices at once");
    both = backlogs[1];
    sync({&both, &backlogs[3]});
  }

  if (o_.profile && PerfAvailable(nullptr)) {
    Log("profile: perf record of sparrow-offline during another sync of " +
        Thousands(backlogs[1].frames) + " frames");
    const auto data = std::filesystem::temp_directory_path() /
                      ("sparrow-bench-perf-" + std::to_string(::getpid())) / "offline.data";
    std::filesystem::create_directories(data.parent_path());
    Backlog again = backlogs[1];
    PerfRecorder perf;
    perf.Start(offline_pid, data.string(), true, nullptr);
    sync({&again});
    perf.Stop();
    offline_profile_ =
        "Recorded during an extra sync of " + Thousands(again.frames) + " frames (" +
        Thousands(again.report.frames_per_second) + " frames/s under perf; CPU " +
        again.usage.Text() + ").\n\n" +
        SummarizeProfile(data.string(), 20, {"sparrow::", "sqlite3_step", "mosquitto_"})
            .Markdown("**sparrow-offline**");
  }

  auto frames_text = [](const SyncReport& r, int expected) {
    return Thousands(r.frames_per_second) + " frames/s (" + Thousands(r.frames) + "/" +
           Thousands(expected) + " in " + Fixed(r.seconds, 2) + " s" +
           (r.gaps > 0 ? ", " + Thousands(r.gaps) + " gaps" : "") + (r.done ? "" : ", NO synced") +
           ")";
  };
  const Backlog& big = backlogs[1];
  const bool ok = big.report.done && big.report.frames == static_cast<std::uint64_t>(big.frames) &&
                  big.report.gaps == 0;
  Row row;
  row.scenario = "offline sync of a " + Thousands(big.frames) + "-frame backlog, one device";
  row.sparrow = frames_text(big.report, big.frames);
  row.ceiling = "-";
  row.ratio = "-";
  row.target = ">= 50,000 frames/s: " +
               std::string(!ok ? "MISSED (incomplete)"
                           : big.report.frames_per_second >= 50000
                               ? "met"
                               : "missed by " + Thousands(50000 - big.report.frames_per_second) +
                                     " frames/s");
  row.cpu = big.usage.Text();
  row.rss = "peak: offline " + Megabytes(big.offline_peak) + ", bridge " +
            Megabytes(big.bridge_peak) + ", broker " + Megabytes(big.broker_peak);
  row.notes =
      "backlogs written through the store API (SociMessageStore::Commit, 1,000 chats per "
      "commit, " +
      Fixed(fill_s, 1) + " s for all), not by sending; " + Thousands(backlogs[0].frames) + ": " +
      frames_text(backlogs[0].report, backlogs[0].frames) + "; " + Thousands(backlogs[2].frames) +
      ": " + frames_text(backlogs[2].report, backlogs[2].frames);
  report_.Add(row);

  // Memory: the sync service reads a page (1,000 frames) at a time and its transport holds at
  // most 20,000 unacknowledged frames, so past some size a bigger backlog must not cost more.
  const Backlog& twice = backlogs[2];
  Row rss;
  rss.scenario = "sync memory: peak RSS of sparrow-offline, backlog of " +
                 Thousands(backlogs[0].frames) + " / " + Thousands(big.frames) + " / " +
                 Thousands(twice.frames) + " frames";
  rss.sparrow = Megabytes(backlogs[0].offline_peak) + " / " + Megabytes(big.offline_peak) + " / " +
                Megabytes(twice.offline_peak);
  rss.ceiling = "-";
  rss.ratio =
      Ratio(static_cast<double>(twice.offline_peak), static_cast<double>(big.offline_peak)) +
      " for 2x the backlog";
  const bool flat = big.offline_peak > 0 &&
                    static_cast<double>(twice.offline_peak) <= 1.1 * big.offline_peak + 2048;
  rss.target = o_.quick ? std::string(
                              "judged in full mode (these backlogs do not pass the "
                              "sync service's 20,000-frame send bound)")
                        : std::string("independent of backlog size: ") + (flat ? "met" : "MISSED");
  rss.rss = "broker peak " + Megabytes(backlogs[0].broker_peak) + " / " +
            Megabytes(big.broker_peak) + " / " + Megabytes(twice.broker_peak);
  rss.notes =
      "VmHWM reset before each sync (the syncs run in this order in one process, so the "
      "first also pays the service's warm-up)";
  report_.Add(rss);

  if (two) {
    const Backlog& other = backlogs[3];
    Row pair;
    pair.scenario = "offline sync, two devices at once (" + Thousands(big.frames) + " each)";
    pair.sparrow =
        frames_text(both.report, both.frames) + "\n" + frames_text(other.report, other.frames);
    pair.ratio = "-";
    const double worst = std::min(both.report.frames_per_second, other.report.frames_per_second);
    pair.target =
        ">= 50,000 frames/s per device: " +
        std::string(worst >= 50000 ? "met" : "missed by " + Thousands(50000 - worst) + " frames/s");
    pair.cpu = both.usage.Text();
    pair.rss =
        "peak: offline " + Megabytes(both.offline_peak) + ", broker " + Megabytes(both.broker_peak);
    report_.Add(pair);
  }
}

// --- Store group commit ------------------------------------------------------------------------

void Harness::Store() {
  const int frames = o_.quick ? 1000 : 10000;
  Log("store group commit: store_bench --frames " + std::to_string(frames));
  std::string command =
      std::string(SPARROW_STORE_BENCH_BIN) + " --frames " + std::to_string(frames);
  if (!o_.mysql_url.empty()) command += " --mysql '" + o_.mysql_url + "'";
  const std::string out = RunCapture(command + " 2>&1");
  // Rows: | backend | chats/commit | chats/s | inbox frames/s | vs 1 chat/commit |
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("| SQLite") && !line.starts_with("| MariaDB")) continue;
    std::vector<std::string> cells;
    std::istringstream in(line);
    std::string cell;
    while (std::getline(in, cell, '|')) {
      while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
      while (!cell.empty() && cell.back() == ' ') cell.pop_back();
      cells.push_back(cell);
    }
    if (cells.size() < 6 || cells[2] != "100") continue;
    const bool maria = cells[1].starts_with("MariaDB");
    const bool normal = cells[1].find("NORMAL") != std::string::npos;
    double gain = 0;
    try {
      gain = std::stod(cells[5]);
    } catch (...) {
    }
    const double target = maria ? 10 : 5;
    Row row;
    row.scenario = "store group commit (store_bench): " + cells[1] + ", 100 chats/commit";
    row.sparrow = cells[3] + " chats/s";
    row.ceiling = "-";
    row.ratio = cells[5] + " vs 1 chat/commit";
    if (!normal) {
      row.target =
          ">= " + Fixed(target, 0) + "x: " +
          (gain >= target ? std::string("met") : "missed by " + Fixed(target - gain, 1) + "x");
    }
    row.notes = std::to_string(frames) +
                " chats per measurement; single run (bench/README.md has "
                "medians of 3)";
    report_.Add(row);
  }
  if (out.find("| SQLite") == std::string::npos) {
    report_.Add(Row{.scenario = "store group commit",
                    .sparrow = "store_bench failed",
                    .notes = out.substr(0, 300)});
  }
}

// --- The run -----------------------------------------------------------------------------------

int Harness::Run() {
  common::SetLogLevel("warn");
  const double load_before = LoadAverage1();
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  std::string failure;
  try {
    if (Wanted("throughput") || Wanted("latency") || Wanted("burst") || Wanted("connect") ||
        Wanted("sync")) {
      Log("starting the stack (SQLite) and the ceiling relay");
      Fixture f("sqlite", BaseStack(), 0);
      f.Start(true);
      if (Wanted("throughput") || Wanted("latency")) ThroughputAndLatency(f);
      if (Wanted("burst")) Burst(f);
      if (Wanted("connect")) Connect(f);
      if (Wanted("sync")) Sync(f);
    }
    if (Wanted("cluster")) Cluster();
    if (Wanted("scaleout")) ScaleOut();
    if (Wanted("storage")) Storage();
    if (Wanted("store")) Store();
  } catch (const std::exception& e) {
    failure = e.what();
    Log(std::string("FAILED: ") + e.what());
  }
  const double load_after = LoadAverage1();

  utsname uts{};
  ::uname(&uts);
  std::string cpu_model;
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("model name")) {
        cpu_model = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  const std::string commit =
      RunCapture("git -C '" SPARROW_SOURCE_DIR "' rev-parse --short HEAD 2>/dev/null");
  const std::string dirty =
      RunCapture("git -C '" SPARROW_SOURCE_DIR "' status --porcelain 2>/dev/null | head -1");
  std::ostringstream pre;
  pre << "## Sparrow benchmark, " << when << (o_.quick ? " (quick)" : " (full)") << "\n\n"
      << "- command: `" << o_.command_line << "`\n"
      << "- machine: " << std::thread::hardware_concurrency() << " cores (" << cpu_model << "), "
      << uts.sysname << " " << uts.release << "; load average " << Fixed(load_before, 2)
      << " before, " << Fixed(load_after, 2) << " after (other work on the machine shows here)\n"
      << "- source: " << (commit.empty() ? std::string("?") : commit.substr(0, commit.size() - 1))
      << (dirty.empty() ? "" : " with uncommitted changes") << "\n"
      << "- load: chat frames of " << o_.payload << " bytes, QoS 1, closed loop " << o_.window
      << " in flight per sender, both devices of a pair send; runs of " << Fixed(seconds_, 0)
      << " s after a warm-up; ceiling = sparrow-bench-relay (libmosquitto) on the same broker, "
         "topics im/sys/bench/up/+ -> down/+\n"
      << "- CPU: % of one core over the scenario (from /proc/<pid>/stat); RSS: VmRSS after it\n";
  if (!failure.empty()) pre << "- **the run stopped early: " << failure << "**\n";
  if (!profile_text_.empty()) report_.AddSection("Profile (perf, cpu-clock)", profile_text_);
  if (!offline_profile_.empty()) {
    report_.AddSection("Profile of the sync service (perf, cpu-clock)", offline_profile_);
  }
  const std::string markdown = report_.Markdown(pre.str());
  std::cout << "\n" << markdown << std::flush;
  if (!o_.results_dir.empty()) {
    const std::string path = WriteResultsFile(o_.results_dir, markdown);
    std::fprintf(stderr, "\nresults written to %s\n", path.c_str());
  }
  return failure.empty() ? 0 : 1;
}

}  // namespace

int RunHarness(const HarnessOptions& options) {
  Harness harness(options);
  return harness.Run();
}

}  // namespace sparrow::bench
