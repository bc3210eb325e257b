#include "bench/loadgen.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "bench/mosquitto_client.hpp"

namespace sparrow::bench {
namespace {

using std::chrono::milliseconds;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1'000'000'000;
constexpr int kConnectAttempts = 3;
constexpr std::int64_t kRetryDelay = 200 * kMs;

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view StringField(std::string_view p, std::string_view key) {
  const auto at = p.find(key);
  if (at == std::string_view::npos) return {};
  const auto start = at + key.size();
  const auto end = p.find('"', start);
  if (end == std::string_view::npos) return {};
  return p.substr(start, end - start);
}

std::int64_t ParseInt(std::string_view p, std::size_t start, std::size_t* end = nullptr) {
  std::int64_t value = 0;
  const char* first = p.data() + start;
  const char* last = p.data() + p.size();
  if (start >= p.size()) return 0;
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (end != nullptr) *end = static_cast<std::size_t>(ptr - p.data());
  return ec == std::errc() ? value : 0;
}

std::int64_t IntField(std::string_view p, std::string_view key) {
  const auto at = p.find(key);
  if (at == std::string_view::npos) return 0;
  return ParseInt(p, at + key.size());
}

}  // namespace

std::string NumberedUser(const std::string& prefix, int k) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%06d", k);
  return prefix + digits;
}

// --- Frames ---------------------------------------------------------------------------------

std::string MakeChatFrame(std::int64_t id, const std::string& dest, std::int64_t send_ns,
                          int payload_bytes) {
  std::string frame;
  frame.reserve(static_cast<std::size_t>(std::max(payload_bytes, 128)));
  frame.append(R"({"type":"chat","id":)");
  frame.append(std::to_string(id));
  frame.append(R"(,"destId":")");
  frame.append(dest);
  frame.append(R"(","kind":"text","msgBody":"t)");
  frame.append(std::to_string(send_ns));
  frame.push_back('s');
  frame.append(std::to_string(id));
  frame.push_back(';');
  constexpr std::string_view kEnd = R"("})";
  const auto size = frame.size() + kEnd.size();
  if (static_cast<std::size_t>(payload_bytes) > size) {
    frame.append(static_cast<std::size_t>(payload_bytes) - size, 'x');
  }
  frame.append(kEnd);
  return frame;
}

FrameView ParseFrame(std::string_view p) {
  FrameView v;
  v.type = StringField(p, R"("type":")");
  if (p.starts_with(R"({"seq":)")) v.seq = ParseInt(p, 7);
  if (v.type == "chat") {
    v.from_id = StringField(p, R"("fromId":")");
    v.mid = StringField(p, R"("mid":")");
    constexpr std::string_view kBody = R"("msgBody":"t)";
    const auto at = p.find(kBody);
    if (at != std::string_view::npos) {
      std::size_t end = 0;
      v.send_ns = ParseInt(p, at + kBody.size(), &end);
      if (end < p.size() && p[end] == 's') v.body_id = ParseInt(p, end + 1);
    }
  } else if (v.type == "ack") {
    v.msg_type = StringField(p, R"("msgType":")");
    v.mid = StringField(p, R"("mid":")");
    v.ack_msg_id = IntField(p, R"("ackMsgId":)");
  } else if (v.type == "synced") {
    v.upto = IntField(p, R"("upto":)");
  } else if (v.type == "error") {
    v.code = StringField(p, R"("code":")");
  }
  return v;
}

// --- The engine ------------------------------------------------------------------------------

namespace {

struct Worker;

enum class DeviceState { kNew, kConnecting, kSubscribing, kReady, kClosed };

struct Device {
  Worker* worker = nullptr;
  int index = 0;
  DeviceSpec spec;
  std::string client_id;
  std::string up_topic;
  std::string inbox_topic;   // kSparrow: im/in/{u}; kRelay: {prefix}down/{partner}
  std::string device_topic;  // kSparrow: im/in/{u}/{d}
  mosquitto* mosq = nullptr;
  Device* partner = nullptr;
  bool first_of_pair = false;

  DeviceState state = DeviceState::kNew;
  int attempts = 0;
  std::int64_t handshake_start = 0;
  std::int64_t retry_at = 0;
  int fd = -1;
  bool out_registered = false;

  // As a sender.
  std::int64_t next_id = 1;
  std::int64_t run_first_id = 1;
  std::int64_t run_sent = 0;
  std::int64_t displayed_by_partner = 0;  // distinct chats of this run displayed at the partner
  bool sending = false;
  std::vector<std::int64_t> send_ns;  // [id - 1]: the timestamp put in the chat

  // As a recipient: [id - 1] = how many times the partner's chat `id` was displayed.
  std::vector<std::uint8_t> got;

  // Sync (kSparrow).
  bool syncing = false;
  std::uint64_t sync_next = 0;
  std::int64_t sync_start = 0;
  SyncReport sync;
  std::atomic<bool> sync_done{false};
};

struct Accum {
  LatencyHistogram display;
  LatencyHistogram sent;
  LatencyHistogram delivered;
  std::uint64_t duplicates = 0;
  std::uint64_t copies = 0;
  std::uint64_t errors = 0;
  std::uint64_t publishes = 0;
  std::uint64_t receives = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t lost = 0;
  std::uint64_t displayed_window = 0;
  std::int64_t first_send = 0;
  std::int64_t last_display = 0;
  std::string first_error;
};

enum class Cmd { kNone, kConnect, kStartRun, kStopRun, kSync, kDisconnect };

struct Command {
  Cmd cmd = Cmd::kNone;
  RunSpec spec;
  std::int64_t t0 = 0;
  std::int64_t deadline = 0;
  std::uint64_t total_senders = 0;
  std::vector<int> sync_indexes;
  std::uint64_t sync_after = 0;
};

}  // namespace

class LoadGen::Impl {
 public:
  explicit Impl(LoadOptions options) : options_(std::move(options)) {}
  ~Impl();

  Device& NewDevice(const DeviceSpec& spec, int worker);
  void StartThreads();
  void Broadcast(const Command& command);  // sets it and waits until every worker took it
  const LoadOptions& options() const { return options_; }

  LoadOptions options_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int pairs_ = 0;
  bool started_ = false;
  bool stopped_ = false;

  std::mutex command_mutex_;
  Command command_;
  std::atomic<std::uint64_t> generation_{0};
};

namespace {

struct Worker {
  LoadGen::Impl* impl = nullptr;
  int index = 0;
  int epfd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::vector<Device*> devices;
  std::uint64_t seen_generation = 0;
  std::atomic<std::uint64_t> acked_generation{0};
  bool quit = false;
  Device* current = nullptr;  // the device whose callbacks run now

  // Connecting.
  std::deque<Device*> connect_queue;
  int connect_inflight = 0;
  int connect_limit = 64;
  std::mutex connect_mutex;  // guards handshake
  LatencyHistogram handshake;

  // The run.
  bool run_active = false;
  bool record = false;
  bool closed_loop = true;
  int window = 1;
  std::int64_t quota = 0;  // per sender; 0: unlimited
  std::int64_t deadline = 0;
  std::vector<Device*> senders;
  std::size_t next_sender = 0;
  std::int64_t interval = 0;  // open loop: ns between two sends of this worker
  std::int64_t next_due = 0;
  std::int64_t next_misc = 0;
  Accum acc;

  // Progress, read by the controller.
  std::atomic<std::uint64_t> ready{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> displayed{0};
  std::atomic<std::uint64_t> sent_acks{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> senders_done{0};

  void Loop();
  void TakeCommand();
  void StartConnects(std::int64_t now);
  void BeginConnect(Device& d, std::int64_t now);
  void ConnectFailed(Device& d);
  void HandleEvents(Device& d, std::uint32_t events);
  void UpdateInterest(Device& d);
  void Send(Device& d, std::int64_t timestamp);
  void Refill(Device& s, std::int64_t now);
  void PaceSends(std::int64_t now);
  void StartRun(const Command& c);
  void StopRun();
  void OnMessage(Device& d, const mosquitto_message* m);
  void Display(Device& r, const FrameView& v, std::int64_t now);
  void SenderFinished(Device& s);
};

void OnConnect(mosquitto* mosq, void* obj, int rc, int /*flags*/,
               const mosquitto_property* /*props*/) {
  auto& d = *static_cast<Device*>(obj);
  if (rc != 0) return;  // libmosquitto closes the socket next: OnDisconnect counts it
  d.state = DeviceState::kSubscribing;
  const LoadOptions& o = d.worker->impl->options();
  if (o.mode == LoadMode::kSparrow) {
    char* subs[2] = {d.inbox_topic.data(), d.device_topic.data()};
    mosquitto_subscribe_multiple(mosq, nullptr, 2, subs, 1, 0, nullptr);
  } else {
    // Two filters, as a Sparrow device has: the handshakes of both modes cost the same.
    char* subs[2] = {d.inbox_topic.data(), d.device_topic.data()};
    mosquitto_subscribe_multiple(mosq, nullptr, 2, subs, 1, 0, nullptr);
  }
}

void OnSubscribe(mosquitto* /*mosq*/, void* obj, int /*mid*/, int count, const int* granted,
                 const mosquitto_property* /*props*/) {
  auto& d = *static_cast<Device*>(obj);
  Worker& w = *d.worker;
  if (d.state != DeviceState::kSubscribing) return;
  for (int i = 0; i < count; ++i) {
    if (granted[i] >= 0x80) {
      // Refused by the broker's ACL: the device can never receive; count it as failed.
      d.attempts = kConnectAttempts;
      mosquitto_disconnect(d.mosq);
      return;
    }
  }
  d.state = DeviceState::kReady;
  --w.connect_inflight;
  {
    std::lock_guard<std::mutex> lock(w.connect_mutex);
    w.handshake.Record(NowNs() - d.handshake_start);
  }
  w.ready.fetch_add(1, std::memory_order_relaxed);
}

void OnDisconnect(mosquitto* /*mosq*/, void* obj, int /*rc*/, const mosquitto_property* /*p*/) {
  auto& d = *static_cast<Device*>(obj);
  Worker& w = *d.worker;
  d.fd = -1;  // closed by libmosquitto: the kernel dropped it from the epoll set
  d.out_registered = false;
  switch (d.state) {
    case DeviceState::kConnecting:
    case DeviceState::kSubscribing:
      w.ConnectFailed(d);
      break;
    case DeviceState::kReady:
      w.ready.fetch_sub(1, std::memory_order_relaxed);
      if (w.run_active) ++w.acc.disconnects;
      d.state = DeviceState::kClosed;
      break;
    default:
      d.state = DeviceState::kClosed;
      break;
  }
}

void OnMessage(mosquitto* /*mosq*/, void* obj, const mosquitto_message* m,
               const mosquitto_property* /*props*/) {
  auto& d = *static_cast<Device*>(obj);
  d.worker->OnMessage(d, m);
}

void Worker::OnMessage(Device& d, const mosquitto_message* m) {
  // `acc` belongs to the controller between runs (it reads it after StopRun): count only
  // during a run.
  if (run_active) ++acc.receives;
  const std::string_view payload(static_cast<const char*>(m->payload),
                                 static_cast<std::size_t>(m->payloadlen));
  const FrameView v = ParseFrame(payload);
  const std::int64_t now = NowNs();
  const LoadOptions& o = impl->options();
  if (o.mode == LoadMode::kRelay) {
    if (v.type == "chat") Display(d, v, now);
    return;
  }
  const bool device_topic = d.device_topic == m->topic;
  if (device_topic && d.syncing && v.seq > 0) {
    ++d.sync.frames;
    if (static_cast<std::uint64_t>(v.seq) != d.sync_next) ++d.sync.gaps;
    d.sync_next = static_cast<std::uint64_t>(v.seq) + 1;
    return;
  }
  if (v.type == "chat") {
    if (v.from_id == d.spec.user) {
      if (run_active) ++acc.copies;
      return;
    }
    Display(d, v, now);
    // A real client acknowledges every chat it shows (repeats too: receipts are idempotent).
    std::string ack = R"({"type":"ack","msgType":"DELIVERED","mid":")";
    ack.append(v.mid);
    ack.append(R"("})");
    mosquitto_publish(d.mosq, nullptr, d.up_topic.c_str(), static_cast<int>(ack.size()), ack.data(),
                      1, false);
    if (run_active) ++acc.publishes;
    if (&d != current) UpdateInterest(d);
  } else if (v.type == "ack") {
    const std::int64_t id = v.ack_msg_id;
    const bool ours = id >= d.run_first_id && id <= static_cast<std::int64_t>(d.send_ns.size());
    if (v.msg_type == "SENT") {
      if (run_active && ours) {
        sent_acks.fetch_add(1, std::memory_order_relaxed);
        if (record) acc.sent.Record(now - d.send_ns[static_cast<std::size_t>(id - 1)]);
      }
    } else if (v.msg_type == "DELIVERED") {
      if (run_active && ours) {
        delivered.fetch_add(1, std::memory_order_relaxed);
        if (record) acc.delivered.Record(now - d.send_ns[static_cast<std::size_t>(id - 1)]);
      }
    }
  } else if (v.type == "synced") {
    if (d.syncing) {
      d.syncing = false;
      d.sync.done = true;
      d.sync.upto = static_cast<std::uint64_t>(v.upto);
      d.sync.seconds = static_cast<double>(now - d.sync_start) / 1e9;
      d.sync.frames_per_second =
          d.sync.seconds > 0 ? static_cast<double>(d.sync.frames) / d.sync.seconds : 0;
      d.sync_done.store(true, std::memory_order_release);
    }
  } else if (v.type == "error" && run_active) {
    ++acc.errors;
    if (acc.first_error.empty()) acc.first_error = std::string(payload.substr(0, 300));
  }
}

void Worker::Display(Device& r, const FrameView& v, std::int64_t now) {
  Device* s = r.partner;
  const std::int64_t id = v.body_id;
  if (s == nullptr || id <= 0) return;
  const auto slot = static_cast<std::size_t>(id - 1);
  if (r.got.size() <= slot) r.got.resize(std::max(slot + 1, r.got.size() * 2), 0);
  if (r.got[slot]++ > 0) {
    if (run_active) ++acc.duplicates;
    return;
  }
  if (!run_active || id < s->run_first_id) return;  // a late chat of an earlier run
  displayed.fetch_add(1, std::memory_order_relaxed);
  if (now < deadline) ++acc.displayed_window;
  acc.last_display = now;
  if (record) acc.display.Record(now - v.send_ns);
  ++s->displayed_by_partner;
  if (closed_loop && s->sending) Refill(*s, now);
}

void Worker::Send(Device& d, std::int64_t timestamp) {
  const std::int64_t id = d.next_id++;
  const std::string frame =
      MakeChatFrame(id, d.partner->spec.user, timestamp, impl->options().payload_bytes);
  d.send_ns.push_back(timestamp);  // invariant: send_ns.size() == next_id - 1
  ++d.run_sent;
  const int rc = mosquitto_publish(d.mosq, nullptr, d.up_topic.c_str(),
                                   static_cast<int>(frame.size()), frame.data(), 1, false);
  if (rc != MOSQ_ERR_SUCCESS && acc.first_error.empty()) {
    acc.first_error = std::string("publish refused by libmosquitto: ") + mosquitto_strerror(rc);
  }
  ++acc.publishes;
  if (acc.first_send == 0) acc.first_send = timestamp;
  sent.fetch_add(1, std::memory_order_relaxed);
  if (&d != current) UpdateInterest(d);
}

void Worker::SenderFinished(Device& s) {
  if (!s.sending) return;
  s.sending = false;
  senders_done.fetch_add(1, std::memory_order_relaxed);
}

void Worker::Refill(Device& s, std::int64_t now) {
  while (s.sending) {
    if (now >= deadline || (quota > 0 && s.run_sent >= quota)) {
      SenderFinished(s);
      return;
    }
    if (s.run_sent - s.displayed_by_partner >= window) return;
    Send(s, now);
  }
}

void Worker::PaceSends(std::int64_t now) {
  if (!run_active || closed_loop || senders.empty() || interval <= 0) return;
  int burst = 0;
  while (next_due <= now) {
    if (next_due >= deadline) {
      for (Device* s : senders) SenderFinished(*s);
      return;
    }
    // Round robin over the senders that still have quota.
    Device* s = nullptr;
    for (std::size_t tries = 0; tries < senders.size(); ++tries) {
      Device* candidate = senders[next_sender++ % senders.size()];
      if (candidate->sending) {
        s = candidate;
        break;
      }
    }
    if (s == nullptr) return;
    Send(*s, next_due);
    if (quota > 0 && s->run_sent >= quota) SenderFinished(*s);
    next_due += interval;
    if (++burst >= 4096) return;  // let the loop read in between
  }
}

void Worker::UpdateInterest(Device& d) {
  if (d.fd < 0) return;
  const bool want = mosquitto_want_write(d.mosq);
  if (want == d.out_registered) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.ptr = &d;
  if (::epoll_ctl(epfd, EPOLL_CTL_MOD, d.fd, &ev) == 0) d.out_registered = want;
}

void Worker::BeginConnect(Device& d, std::int64_t now) {
  const LoadOptions& o = impl->options();
  d.state = DeviceState::kConnecting;
  if (d.attempts == 0) d.handshake_start = now;
  ++connect_inflight;
  int rc = 0;
  if (d.attempts == 0) {
    rc = mosquitto_connect_bind_async(
        d.mosq, d.spec.host.c_str(), d.spec.port, o.keepalive_s,
        d.spec.bind_address.empty() ? nullptr : d.spec.bind_address.c_str());
  } else {
    rc = mosquitto_reconnect_async(d.mosq);
  }
  const int fd = mosquitto_socket(d.mosq);
  if (rc != MOSQ_ERR_SUCCESS || fd < 0) {
    ConnectFailed(d);
    return;
  }
  d.fd = fd;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.ptr = &d;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ConnectFailed(d);
    return;
  }
  d.out_registered = true;
}

void Worker::ConnectFailed(Device& d) {
  --connect_inflight;
  ++d.attempts;
  d.fd = -1;
  d.out_registered = false;
  if (d.attempts < kConnectAttempts) {
    d.state = DeviceState::kNew;
    d.retry_at = NowNs() + kRetryDelay;
    connect_queue.push_back(&d);
  } else {
    d.state = DeviceState::kClosed;
    failed.fetch_add(1, std::memory_order_relaxed);
  }
}

void Worker::StartConnects(std::int64_t now) {
  std::size_t scanned = 0;
  const std::size_t n = connect_queue.size();
  while (connect_inflight < connect_limit && scanned < n && !connect_queue.empty()) {
    Device* d = connect_queue.front();
    connect_queue.pop_front();
    ++scanned;
    if (d->retry_at > now) {
      connect_queue.push_back(d);
      continue;
    }
    BeginConnect(*d, now);
  }
}

void Worker::HandleEvents(Device& d, std::uint32_t events) {
  current = &d;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
    if (mosquitto_loop_read(d.mosq, 1) != MOSQ_ERR_SUCCESS || mosquitto_socket(d.mosq) < 0) {
      current = nullptr;
      return;
    }
  }
  // Writes what the callbacks queued (acks, SUBSCRIBE, PUBACKs) and what EPOLLOUT allows.
  if (mosquitto_want_write(d.mosq)) {
    if (mosquitto_loop_write(d.mosq, 1) != MOSQ_ERR_SUCCESS || mosquitto_socket(d.mosq) < 0) {
      current = nullptr;
      return;
    }
  }
  current = nullptr;
  UpdateInterest(d);
}

void Worker::StartRun(const Command& c) {
  acc = Accum{};
  run_active = true;
  record = c.spec.record;
  closed_loop = c.spec.rate <= 0;
  window = std::max(1, c.spec.window);
  quota = c.spec.messages_per_sender;
  deadline = c.deadline;
  senders.clear();
  next_sender = 0;
  for (Device* d : devices) {
    d->run_first_id = d->next_id;
    d->run_sent = 0;
    d->displayed_by_partner = 0;
    d->sending = d->partner != nullptr && d->state == DeviceState::kReady &&
                 d->partner->state == DeviceState::kReady &&
                 (c.spec.both_directions || d->first_of_pair);
    if (d->sending) senders.push_back(d);
  }
  if (closed_loop) {
    const std::int64_t now = NowNs();
    for (Device* s : senders) Refill(*s, now);
  } else if (!senders.empty() && c.total_senders > 0) {
    const double my_rate =
        c.spec.rate * static_cast<double>(senders.size()) / static_cast<double>(c.total_senders);
    interval = static_cast<std::int64_t>(1e9 / my_rate);
    // Workers start at staggered offsets so that their sends interleave.
    next_due = c.t0 + interval * index / static_cast<std::int64_t>(impl->workers_.size());
  }
}

void Worker::StopRun() {
  // Loss: chats of this run that the partner never displayed.
  for (Device* s : devices) {
    if (s->partner == nullptr) continue;
    for (std::int64_t id = s->run_first_id; id < s->run_first_id + s->run_sent; ++id) {
      const auto slot = static_cast<std::size_t>(id - 1);
      if (slot >= s->partner->got.size() || s->partner->got[slot] == 0) ++acc.lost;
    }
    if (s->sending) SenderFinished(*s);
  }
  run_active = false;
  record = false;
  senders.clear();
}

void Worker::TakeCommand() {
  Command c;
  {
    std::lock_guard<std::mutex> lock(impl->command_mutex_);
    c = impl->command_;
  }
  switch (c.cmd) {
    case Cmd::kConnect:
      for (Device* d : devices) {
        if (d->state == DeviceState::kNew) connect_queue.push_back(d);
      }
      break;
    case Cmd::kStartRun:
      StartRun(c);
      break;
    case Cmd::kStopRun:
      StopRun();
      break;
    case Cmd::kSync:
      for (Device* d : devices) {
        if (std::find(c.sync_indexes.begin(), c.sync_indexes.end(), d->index) ==
            c.sync_indexes.end()) {
          continue;
        }
        d->sync = SyncReport{};
        d->sync_done.store(false);
        d->syncing = true;
        d->sync_next = c.sync_after + 1;
        d->sync_start = NowNs();
        const std::string frame = R"({"type":"sync","after":)" + std::to_string(c.sync_after) + "}";
        mosquitto_publish(d->mosq, nullptr, d->up_topic.c_str(), static_cast<int>(frame.size()),
                          frame.data(), 1, false);
        UpdateInterest(*d);
      }
      break;
    case Cmd::kDisconnect:
      for (Device* d : devices) {
        if (d->state == DeviceState::kReady) {
          d->state = DeviceState::kClosed;
          mosquitto_disconnect(d->mosq);  // written at once: we are not in a callback
        }
      }
      quit = true;
      break;
    case Cmd::kNone:
      break;
  }
}

void Worker::Loop() {
  std::vector<epoll_event> events(512);
  while (!quit) {
    const std::uint64_t generation = impl->generation_.load(std::memory_order_acquire);
    if (generation != seen_generation) {
      seen_generation = generation;
      TakeCommand();
      acked_generation.store(generation, std::memory_order_release);
      if (quit) break;
    }
    std::int64_t now = NowNs();
    PaceSends(now);
    if (!connect_queue.empty()) StartConnects(now);
    if (now >= next_misc) {
      // Keepalive pings; libmosquitto decides whether one is due.
      for (Device* d : devices) {
        if (d->state == DeviceState::kReady) {
          mosquitto_loop_misc(d->mosq);
          UpdateInterest(*d);
        }
      }
      next_misc = now + kSecond;
    }
    std::int64_t wait = 100 * kMs;
    if (run_active && !closed_loop && !senders.empty()) wait = std::min(wait, next_due - now);
    if (!connect_queue.empty()) wait = std::min(wait, 5 * kMs);
    wait = std::max<std::int64_t>(wait, 0);
    timespec timeout{static_cast<time_t>(wait / kSecond), static_cast<long>(wait % kSecond)};
    const int n =
        ::epoll_pwait2(epfd, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    for (int i = 0; i < n; ++i) {
      if (events[static_cast<std::size_t>(i)].data.ptr == nullptr) {
        std::uint64_t value = 0;
        [[maybe_unused]] auto r = ::read(wake_fd, &value, sizeof value);
        continue;
      }
      HandleEvents(*static_cast<Device*>(events[static_cast<std::size_t>(i)].data.ptr),
                   events[static_cast<std::size_t>(i)].events);
    }
  }
}

}  // namespace

LoadGen::Impl::~Impl() {
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    if (w->epfd >= 0) ::close(w->epfd);
    if (w->wake_fd >= 0) ::close(w->wake_fd);
  }
  for (auto& d : devices_) {
    if (d->mosq != nullptr) mosquitto_destroy(d->mosq);
  }
}

Device& LoadGen::Impl::NewDevice(const DeviceSpec& spec, int worker) {
  if (started_) throw std::logic_error("LoadGen: add devices before Connect()");
  if (workers_.empty()) {
    const int threads = std::max(1, options_.threads);
    for (int i = 0; i < threads; ++i) {
      auto w = std::make_unique<Worker>();
      w->impl = this;
      w->index = i;
      w->connect_limit = std::max(1, options_.connect_inflight / threads);
      workers_.push_back(std::move(w));
    }
  }
  auto d = std::make_unique<Device>();
  d->index = static_cast<int>(devices_.size());
  d->worker = workers_[static_cast<std::size_t>(worker) % workers_.size()].get();
  d->spec = spec;
  if (options_.mode == LoadMode::kSparrow) {
    d->client_id = spec.user + ":" + spec.device;
    d->up_topic = "im/up/" + spec.user + "/" + spec.device;
    d->inbox_topic = "im/in/" + spec.user;
    d->device_topic = "im/in/" + spec.user + "/" + spec.device;
  } else {
    d->client_id = spec.user + ":" + spec.device;
    d->up_topic = options_.relay_prefix + "up/" + std::to_string(d->index);
    d->device_topic = options_.relay_prefix + "self/" + spec.user;  // never published to
  }
  d->mosq = NewClient(ClientSettings{.client_id = d->client_id,
                                     .username = spec.user,
                                     .password = spec.token,
                                     .protocol_version = options_.protocol_version,
                                     .max_inflight = 1000,
                                     .without_wake_pipe = options_.without_wake_pipe},
                      d.get());
  mosquitto_connect_v5_callback_set(d->mosq, &OnConnect);
  mosquitto_disconnect_v5_callback_set(d->mosq, &OnDisconnect);
  mosquitto_message_v5_callback_set(d->mosq, &OnMessage);
  mosquitto_subscribe_v5_callback_set(d->mosq, &OnSubscribe);
  d->worker->devices.push_back(d.get());
  devices_.push_back(std::move(d));
  return *devices_.back();
}

void LoadGen::Impl::StartThreads() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    w->epfd = ::epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wake_fd < 0) throw std::runtime_error("LoadGen: epoll/eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    ::epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev);
    w->thread = std::thread([worker = w.get()] { worker->Loop(); });
  }
}

void LoadGen::Impl::Broadcast(const Command& command) {
  std::uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(command_mutex_);
    command_ = command;
    generation = generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
  }
  for (auto& w : workers_) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(w->wake_fd, &one, sizeof one);
  }
  for (auto& w : workers_) {
    while (w->acked_generation.load(std::memory_order_acquire) < generation &&
           w->thread.joinable()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
}

LoadGen::LoadGen(LoadOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  InitMosquittoOnce();
}

LoadGen::~LoadGen() { Disconnect(); }

int LoadGen::AddPair(const DeviceSpec& a, const DeviceSpec& b) {
  const int worker = impl_->pairs_++;
  Device& da = impl_->NewDevice(a, worker);
  Device& db = impl_->NewDevice(b, worker);
  da.partner = &db;
  db.partner = &da;
  da.first_of_pair = true;
  if (impl_->options_.mode == LoadMode::kRelay) {
    da.inbox_topic = impl_->options_.relay_prefix + "down/" + std::to_string(db.index);
    db.inbox_topic = impl_->options_.relay_prefix + "down/" + std::to_string(da.index);
  }
  return da.index;
}

int LoadGen::AddDevice(const DeviceSpec& device) {
  const int worker = impl_->pairs_++;
  Device& d = impl_->NewDevice(device, worker);
  if (impl_->options_.mode == LoadMode::kRelay) {
    d.inbox_topic = impl_->options_.relay_prefix + "down/" + std::to_string(d.index);
  }
  return d.index;
}

int LoadGen::size() const { return static_cast<int>(impl_->devices_.size()); }

int LoadGen::ready() const {
  std::uint64_t n = 0;
  for (auto& w : impl_->workers_) n += w->ready.load(std::memory_order_relaxed);
  return static_cast<int>(n);
}

ConnectReport LoadGen::Connect(std::chrono::milliseconds timeout) {
  ConnectReport report;
  if (impl_->stopped_) return report;
  std::uint64_t ready_before = 0;
  std::uint64_t failed_before = 0;
  for (auto& w : impl_->workers_) {
    ready_before += w->ready.load();
    failed_before += w->failed.load();
  }
  for (auto& d : impl_->devices_) {
    if (d->state == DeviceState::kNew) ++report.requested;
  }
  impl_->StartThreads();
  const auto start = std::chrono::steady_clock::now();
  Command c;
  c.cmd = Cmd::kConnect;
  impl_->Broadcast(c);
  const auto deadline = start + timeout;
  for (;;) {
    std::uint64_t ready = 0;
    std::uint64_t failed = 0;
    for (auto& w : impl_->workers_) {
      ready += w->ready.load();
      failed += w->failed.load();
    }
    report.ready = static_cast<int>(ready - ready_before);
    report.failed = static_cast<int>(failed - failed_before);
    if (report.ready + report.failed >= report.requested ||
        std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.per_second = report.seconds > 0 ? report.ready / report.seconds : 0;
  for (auto& w : impl_->workers_) {
    std::lock_guard<std::mutex> lock(w->connect_mutex);
    report.handshake_ns.Merge(w->handshake);
  }
  return report;
}

RunReport LoadGen::Run(const RunSpec& spec) {
  RunReport report;
  if (!impl_->started_ || impl_->stopped_) return report;
  const bool sparrow = impl_->options_.mode == LoadMode::kSparrow;
  std::uint64_t total_senders = 0;
  for (auto& d : impl_->devices_) {
    if (d->partner != nullptr && d->state == DeviceState::kReady &&
        d->partner->state == DeviceState::kReady && (spec.both_directions || d->first_of_pair)) {
      ++total_senders;
    }
  }
  report.senders = total_senders;
  for (auto& w : impl_->workers_) {
    w->sent = 0;
    w->displayed = 0;
    w->sent_acks = 0;
    w->delivered = 0;
    w->senders_done = 0;
  }
  Command c;
  c.cmd = Cmd::kStartRun;
  c.spec = spec;
  c.t0 = NowNs();
  c.deadline = c.t0 + std::chrono::duration_cast<std::chrono::nanoseconds>(spec.duration).count();
  c.total_senders = total_senders;
  impl_->Broadcast(c);

  auto sum = [&](auto member) {
    std::uint64_t n = 0;
    for (auto& w : impl_->workers_) n += ((*w).*member).load(std::memory_order_relaxed);
    return n;
  };
  // Sending phase: until the deadline, or until every sender has its quota.
  while (NowNs() < c.deadline && sum(&Worker::senders_done) < total_senders) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  // Let a send that raced with the deadline land in the counters.
  std::this_thread::sleep_for(milliseconds(20));
  const std::int64_t drain_deadline =
      NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(spec.drain_timeout).count();
  auto drained = [&] {
    const std::uint64_t sent = sum(&Worker::sent);
    if (sum(&Worker::displayed) < sent) return false;
    if (!sparrow) return true;
    return sum(&Worker::sent_acks) >= sent && sum(&Worker::delivered) >= sent;
  };
  while (!drained() && NowNs() < drain_deadline) std::this_thread::sleep_for(milliseconds(2));
  report.drained = drained();

  c.cmd = Cmd::kStopRun;
  impl_->Broadcast(c);
  std::int64_t first_send = 0;
  std::int64_t last_display = 0;
  for (auto& w : impl_->workers_) {
    const Accum& a = w->acc;
    report.sent += w->sent.load();
    report.displayed += w->displayed.load();
    report.sent_acks += w->sent_acks.load();
    report.delivered += w->delivered.load();
    report.displayed_in_window += a.displayed_window;
    report.duplicates += a.duplicates;
    report.lost += a.lost;
    report.copies += a.copies;
    report.errors += a.errors;
    report.publishes += a.publishes;
    report.receives += a.receives;
    report.disconnects += a.disconnects;
    if (report.first_error.empty()) report.first_error = a.first_error;
    report.display_ns.Merge(a.display);
    report.sent_ns.Merge(a.sent);
    report.delivered_ns.Merge(a.delivered);
    if (a.first_send != 0 && (first_send == 0 || a.first_send < first_send)) {
      first_send = a.first_send;
    }
    last_display = std::max(last_display, a.last_display);
  }
  if (spec.messages_per_sender > 0) {
    report.seconds = last_display > first_send ? (last_display - first_send) / 1e9 : 0;
    report.throughput = report.seconds > 0 ? report.displayed / report.seconds : 0;
  } else {
    report.seconds = std::chrono::duration<double>(spec.duration).count();
    report.throughput = report.displayed_in_window / report.seconds;
  }
  return report;
}

std::vector<SyncReport> LoadGen::Sync(const std::vector<int>& indexes, std::uint64_t after,
                                      std::chrono::milliseconds timeout) {
  std::vector<SyncReport> reports(indexes.size());
  if (!impl_->started_ || impl_->stopped_) return reports;
  for (int index : indexes) {
    if (index < 0 || index >= size()) throw std::out_of_range("LoadGen::Sync: no such device");
  }
  Command c;
  c.cmd = Cmd::kSync;
  c.sync_indexes = indexes;
  c.sync_after = after;
  impl_->Broadcast(c);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (std::size_t i = 0; i < indexes.size(); ++i) {
    Device& d = *impl_->devices_[static_cast<std::size_t>(indexes[i])];
    while (!d.sync_done.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (d.sync_done.load(std::memory_order_acquire)) reports[i] = d.sync;
  }
  return reports;
}

void LoadGen::Disconnect() {
  if (impl_->stopped_) return;
  impl_->stopped_ = true;
  if (!impl_->started_) return;
  Command c;
  c.cmd = Cmd::kDisconnect;
  impl_->Broadcast(c);
  for (auto& w : impl_->workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sparrow::bench
