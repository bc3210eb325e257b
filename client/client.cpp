#include "client/client.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "client/session.hpp"
#include "client/state_store.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "protocol/identity.hpp"

namespace sparrow::client {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = common::Logger("client");
  return logger;
}

void Validate(const Client::Options& o) {
  if (!protocol::IsValidUserId(o.user)) {
    throw common::ConfigError("client: user: '" + o.user + "' is not a valid user id");
  }
  if (!protocol::IsValidDeviceId(o.device)) {
    throw common::ConfigError("client: device: '" + o.device + "' is not a valid device id");
  }
  if (o.token.empty() && !o.make_transport) {
    throw common::ConfigError("client: token: required (log in first)");
  }
  if (o.state_dir.empty()) throw common::ConfigError("client: state_dir: required");
  if (o.mqtt_port <= 0 || o.mqtt_port > 65535) {
    throw common::ConfigError("client: mqtt_port: must be 1..65535");
  }
  if (o.mqtt_version != 4 && o.mqtt_version != 5) {
    throw common::ConfigError("client: mqtt_version: must be 4 or 5");
  }
}

}  // namespace

class Client::Impl {
 public:
  Impl(Options options, Callbacks callbacks)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? *options_.clock : common::SystemClock::Instance()),
        rest_(RestClient::Options{.server_url = options_.server_url}) {
    Validate(options_);
    rest_.SetToken(options_.token);
    store_ = std::make_unique<StateStore>(options_.state_dir);
    auto restored = store_->Load();
    if (options_.keep_history) history_ = std::make_unique<History>(options_.state_dir / "history");
    if (options_.keys == nullptr) {
      own_keys_ = std::make_unique<RestKeyRing>(rest_, clock_);
      keys_ = own_keys_.get();
    } else {
      keys_ = options_.keys;
    }

    transport::Options mqtt;
    mqtt.host = options_.mqtt_host;
    mqtt.port = options_.mqtt_port;
    mqtt.client_id = options_.user + ":" + options_.device;
    mqtt.username = options_.user;
    mqtt.password = options_.token;
    mqtt.protocol_version = options_.mqtt_version;
    mqtt.clean_start = true;  // everything missed comes back through `sync`
    transport_ = options_.make_transport ? options_.make_transport(mqtt)
                                         : transport::MakeTransport("paho", mqtt);

    // The app's callbacks, plus our mirror of the connection state for the Wait* calls.
    Callbacks wrapped = callbacks;
    wrapped.on_connection = [this, app = callbacks.on_connection](ConnectionEvent event) {
      {
        std::lock_guard<std::mutex> lock(state_mutex_);
        connected_ = event != ConnectionEvent::kDisconnected;
        synced_ = event == ConnectionEvent::kSynced;
      }
      state_cv_.notify_all();
      if (app) app(event);
    };
    session_ = std::make_unique<Session>(
        SessionOptions{.user = options_.user,
                       .device = options_.device,
                       .receive = options_.receive,
                       .outbox = options_.outbox,
                       .reorder = options_.reorder,
                       .sync_timeout = options_.sync_timeout},
        SessionDeps{.transport = *transport_,
                    .clock = clock_,
                    .keys = *keys_,
                    .history = history_.get(),
                    .persist = [this](const DeviceState& state) { store_->Save(state); }},
        std::move(wrapped), std::move(restored));
    pending_ = session_->pending();

    for (const auto& topic : session_->Subscriptions()) transport_->Subscribe(topic, 1);
    // Network threads only enqueue (never block in a Paho callback).
    transport_->SetMessageHandler([this](transport::Message&& message) {
      Post([this, m = std::move(message)] { session_->OnMessage(m); });
    });
    transport_->SetConnectionHandler([this](bool connected, int /*reason*/) {
      Post([this, connected] { session_->OnConnection(connected); });
    });
    thread_ = std::thread([this] { Run(); });
  }

  ~Impl() { Stop(); }

  void Connect() {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    if (connect_called_) return;
    connect_called_ = true;
    transport_->Start();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(connect_mutex_);
    if (std::this_thread::get_id() == thread_id_) {
      throw std::logic_error("Client::Disconnect called from a callback");
    }
    if (stopped_) return;
    stopped_ = true;
    transport_->Stop();  // no network event after this, except the final one it posts
    {
      std::lock_guard<std::mutex> queue_lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  SendResult Send(const std::string& peer, protocol::ChatKind kind, std::string payload,
                  std::optional<FileInfo> file) {
    const std::string local_id = common::NewMid(clock_.WallMillis());
    if (std::this_thread::get_id() == thread_id_) {
      // Inside a callback: queue directly; persisted at the end of this event batch.
      auto error = session_->Send(local_id, peer, kind, std::move(payload), file);
      if (error) return SendResult{.ok = false, .local_id = "", .error = *error};
      return SendResult{.ok = true, .local_id = local_id, .error = ""};
    }
    auto result = std::make_shared<std::promise<std::optional<std::string>>>();
    auto future = result->get_future();
    const bool posted = Post([this, local_id, peer, kind, result, file = std::move(file),
                              payload = std::move(payload)]() mutable {
      auto error = session_->Send(local_id, peer, kind, std::move(payload), file);
      // Answered once the batch is flushed, i.e. the message is in the state file.
      after_flush_.push_back([result, error] { result->set_value(error); });
    });
    if (!posted) return SendResult{.ok = false, .local_id = "", .error = "the client is stopped"};
    auto error = future.get();
    if (error) return SendResult{.ok = false, .local_id = "", .error = *error};
    return SendResult{.ok = true, .local_id = local_id, .error = ""};
  }

  void MarkRead(const Message& message) {
    if (message.outgoing || message.mid.empty()) return;
    Post([this, peer = message.from, mid = message.mid] { session_->MarkRead(peer, mid); });
  }

  bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(state_mutex_);
    return state_cv_.wait_for(lock, timeout, pred);
  }

  const Options& options() const { return options_; }
  RestClient& rest() { return rest_; }
  KeyRing& keys() { return *keys_; }
  History* history() const { return history_.get(); }

  std::atomic<std::size_t> pending_{0};
  std::mutex state_mutex_;  // guards connected_, synced_; state_cv_ signals changes
  std::condition_variable state_cv_;
  bool connected_ = false;
  bool synced_ = false;

 private:
  // Queues work for the client thread. False once stopping.
  bool Post(std::function<void()> work) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (done_) return false;
      queue_.push_back(std::move(work));
    }
    cv_.notify_one();
    return true;
  }

  void Run() {
    thread_id_ = std::this_thread::get_id();
    while (true) {
      std::deque<std::function<void()>> batch;
      bool stopping = false;
      const auto deadline = session_->NextDeadline();
      {
        std::unique_lock<std::mutex> lock(mutex_);
        auto ready = [this] { return stop_ || !queue_.empty(); };
        if (deadline) {
          const auto wait = *deadline - clock_.Now();
          if (wait > std::chrono::nanoseconds::zero()) cv_.wait_for(lock, wait, ready);
        } else {
          cv_.wait(lock, ready);
        }
        batch.swap(queue_);
        stopping = stop_;
      }
      for (auto& work : batch) {
        try {
          work();
        } catch (const std::exception& e) {  // boundary: one event must not stop the client
          Log()->error("client event failed: {}", e.what());
        }
      }
      try {
        session_->Tick();
        session_->Flush();
      } catch (const std::exception& e) {
        Log()->error("client flush failed: {}", e.what());
      }
      // The count first: whoever a Send() answer wakes must see the message as pending.
      pending_ = session_->pending();
      for (auto& done : after_flush_) done();
      after_flush_.clear();
      {
        std::lock_guard<std::mutex> lock(state_mutex_);  // no lost wake-up in the Wait* calls
      }
      state_cv_.notify_all();
      if (stopping) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) {
          done_ = true;  // from now on Post() refuses: nothing can wait forever
          break;
        }
      }
    }
  }

  Options options_;
  const common::Clock& clock_;
  RestClient rest_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<History> history_;
  std::unique_ptr<RestKeyRing> own_keys_;
  KeyRing* keys_ = nullptr;
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<Session> session_;  // client thread only

  std::mutex mutex_;  // guards queue_, stop_, done_; cv_ signals work
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  bool done_ = false;                               // the client thread has exited
  std::vector<std::function<void()>> after_flush_;  // client thread only

  std::mutex connect_mutex_;  // serializes Connect/Stop
  bool connect_called_ = false;
  bool stopped_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
};

Client::Client(Options options, Callbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks))) {}

Client::~Client() = default;

void Client::Connect() { impl_->Connect(); }

void Client::Disconnect() { impl_->Stop(); }

bool Client::WaitConnected(std::chrono::milliseconds timeout) {
  return impl_->WaitFor(timeout, [this] { return impl_->connected_; });
}

bool Client::WaitSynced(std::chrono::milliseconds timeout) {
  return impl_->WaitFor(timeout, [this] { return impl_->synced_; });
}

bool Client::WaitIdle(std::chrono::milliseconds timeout) {
  return impl_->WaitFor(timeout, [this] { return impl_->pending_.load() == 0; });
}

SendResult Client::Send(const std::string& peer, const std::string& text) {
  return impl_->Send(peer, protocol::ChatKind::kText, text, std::nullopt);
}

SendResult Client::SendFile(const std::string& peer, const std::filesystem::path& path,
                            const Progress& progress) {
  if (!protocol::IsValidUserId(peer)) {
    return SendResult{
        .ok = false, .local_id = "", .error = "'" + peer + "' is not a valid user id"};
  }
  if (!impl_->keys().Get(peer)) {
    return SendResult{
        .ok = false, .local_id = "", .error = "no relation key with " + peer + " (not friends?)"};
  }
  auto uploaded = UploadFile(impl_->rest(), peer, path, progress);
  if (!uploaded.ok()) {
    return SendResult{.ok = false, .local_id = "", .error = uploaded.error().ToString()};
  }
  FileInfo file = std::move(uploaded).value();
  return impl_->Send(peer, protocol::ChatKind::kFile, EncodeFileDescriptor(file), file);
}

void Client::MarkRead(const Message& message) { impl_->MarkRead(message); }

DownloadResult Client::Download(const FileInfo& file, const std::filesystem::path& dir,
                                const Progress& progress) {
  return DownloadFile(impl_->rest(), file, dir, progress);
}

std::vector<HistoryEntry> Client::Conversation(const std::string& peer, std::size_t limit) const {
  if (impl_->history() == nullptr) return {};
  return impl_->history()->Conversation(peer, limit);
}

std::vector<std::string> Client::Conversations() const {
  if (impl_->history() == nullptr) return {};
  return impl_->history()->Peers();
}

std::size_t Client::Pending() const { return impl_->pending_.load(); }

bool Client::connected() const {
  std::lock_guard<std::mutex> lock(impl_->state_mutex_);
  return impl_->connected_;
}

RestClient& Client::rest() { return impl_->rest(); }

}  // namespace sparrow::client
