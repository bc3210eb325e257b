#include "tests/chaos/remote_device.hpp"

#include <cstdlib>
#include <fstream>

#include "common/base64.hpp"

namespace sparrow::chaos {

std::string ChaosDeviceBinary() {
  const char* dir = std::getenv("SPARROW_BIN_DIR");
  const std::filesystem::path built = SPARROW_CHAOS_DEVICE_BIN;
  if (dir != nullptr && *dir != '\0')
    return (std::filesystem::path(dir) / built.filename()).string();
  return built.string();
}

RemoteDevice::RemoteDevice(RemoteDeviceOptions options, History& history)
    : options_(std::move(options)),
      history_(history),
      name_(DeviceName(options_.device.user, options_.device.device)),
      incarnation_(options_.device.first_incarnation - 1) {
  std::filesystem::create_directories(options_.log_dir);
}

RemoteDevice::~RemoteDevice() { Stop(); }

void RemoteDevice::Start() {
  if (process_ && process_->running()) return;
  ++incarnation_;
  log_path_ = options_.log_dir / (options_.device.user + "-" + options_.device.device + "-" +
                                  std::to_string(incarnation_) + ".log");
  offset_ = 0;
  partial_.clear();
  displayed_ = 0;
  sent_ = 0;
  synced_ = false;
  const DeviceOptions& d = options_.device;
  std::string keys;
  for (const auto& [peer, key] : d.keys) {
    keys += (keys.empty() ? "" : ",") + peer + "=" + common::Base64Encode(key);
  }
  std::vector<std::string> args{"--user",
                                d.user,
                                "--device",
                                d.device,
                                "--port",
                                std::to_string(d.mqtt_port),
                                "--state-dir",
                                d.state_dir.string(),
                                "--transport",
                                d.transport,
                                "--incarnation",
                                std::to_string(incarnation_),
                                "--read-every",
                                std::to_string(d.read_every),
                                "--ack-timeout-ms",
                                std::to_string(d.outbox.ack_timeout.count()),
                                "--display-delay-ms",
                                std::to_string(d.display_delay.count()),
                                "--sync-timeout-ms",
                                std::to_string(d.sync_timeout.count())};
  // Only the first incarnation sends: later ones (after a kill, or the final sync) only resend
  // what their outbox holds.
  if (!options_.send_to.empty() && incarnation_ == options_.device.first_incarnation) {
    args.insert(
        args.end(),
        {"--send-to", options_.send_to, "--send-count", std::to_string(options_.send_count),
         "--send-rate", std::to_string(options_.send_rate), "--text-prefix", options_.text_prefix});
  }
  process_ = std::make_unique<testing::ChildProcess>(testing::ChildOptions{
      .binary = ChaosDeviceBinary(),
      .args = std::move(args),
      .env = {{"SPARROW_CHAOS_TOKEN", d.token}, {"SPARROW_CHAOS_KEYS", keys}},
      .log_path = log_path_,
      .stop_timeout = std::chrono::milliseconds(10000),
  });
  process_->Start();
}

void RemoteDevice::Stop() {
  if (!process_) return;
  process_->Stop();
  Poll();
  process_.reset();
}

void RemoteDevice::Kill() {
  if (!process_) return;
  process_->Kill();
  Poll();
  history_.Append(Event{
      .kind = EventKind::kCrashed, .t_ns = NowNs(), .device = name_, .incarnation = incarnation_});
  process_.reset();
}

void RemoteDevice::Pause() {
  if (process_) process_->Pause();
}

void RemoteDevice::Resume() {
  if (process_) process_->Resume();
}

bool RemoteDevice::running() { return process_ && process_->running(); }

int RemoteDevice::Poll() {
  if (log_path_.empty()) return 0;
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return 0;
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  offset_ += chunk.size();
  partial_ += chunk;
  int count = 0;
  std::size_t start = 0;
  for (std::size_t nl = partial_.find('\n'); nl != std::string::npos;
       nl = partial_.find('\n', start)) {
    std::string_view line(partial_.data() + start, nl - start);
    start = nl + 1;
    if (!line.starts_with("{")) continue;  // the helper's own log lines are not JSON
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto event = EventFromJson(json);
    if (!event) continue;
    if (event->kind == EventKind::kDisplayed) ++displayed_;
    if (event->kind == EventKind::kSent) ++sent_;
    if (event->kind == EventKind::kSynced) synced_ = true;
    history_.Append(std::move(*event));
    ++count;
  }
  partial_.erase(0, start);
  return count;
}

std::string RemoteDevice::Log() const { return testing::ReadTextFile(log_path_); }

}  // namespace sparrow::chaos
