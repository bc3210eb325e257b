#include "testing/stack/stack.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "testing/mqtt/free_port.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/stack/test_device.hpp"

namespace sparrow::testing {
namespace {

std::string FromEnvOr(const char* variable, const char* built) {
  const char* dir = std::getenv("SPARROW_BIN_DIR");
  (void)variable;
  if (dir != nullptr && *dir != '\0') {
    return (std::filesystem::path(dir) / std::filesystem::path(built).filename()).string();
  }
  return built;
}

std::filesystem::path MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sparrow-stack-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("SparrowStack: mkdtemp failed for " + pattern);
  }
  return pattern;
}

void WriteSecretFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text << "\n";
  out.close();
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace

std::string BridgeBinary() { return FromEnvOr("bridge", SPARROW_BRIDGE_BIN); }
std::string OfflineBinary() { return FromEnvOr("offline", SPARROW_OFFLINE_BIN); }
std::string AuthsvcBinary() { return FromEnvOr("authsvc", SPARROW_AUTHSVC_BIN); }
std::string PluginLibrary() { return FromEnvOr("plugin", SPARROW_PLUGIN_SO); }

SparrowStack::SparrowStack(StackOptions options) : options_(std::move(options)) {
  dir_ = MakeTempDir();
  std::filesystem::create_directories(dir_ / "log");
  signer_ = std::make_unique<common::TokenSigner>(
      common::LoadOrCreateSigningKey((dir_ / "keys").string()));
  db_url_ = options_.db_url.empty() ? "sqlite:" + (dir_ / "sparrow.db").string() : options_.db_url;
}

SparrowStack::~SparrowStack() {
  Stop();
  accounts_.reset();
  if (std::getenv("SPARROW_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string SparrowStack::Token(const std::string& sub, common::Role role,
                                std::int64_t ttl_ms) const {
  return signer_->Issue(sub, role, common::SystemClock::Instance().WallMillis(), ttl_ms);
}

offline::AccountStore& SparrowStack::accounts() {
  if (!accounts_) {
    offline::DbOptions db;
    db.url = db_url_;
    accounts_ = std::make_unique<offline::AccountStore>(db, common::SystemClock::Instance());
  }
  return *accounts_;
}

void SparrowStack::CreateUser(const std::string& user) {
  // The hash is never checked by these tests (devices get tokens directly).
  (void)accounts().CreateUser(user, "$argon2id$v=19$m=19456,t=2,p=1$dGVzdA$dGVzdA");
}

void SparrowStack::Befriend(const std::string& a, const std::string& b) {
  CreateUser(a);
  CreateUser(b);
  (void)accounts().CreateRelation(a, b, "test-key-not-used");
}

std::unique_ptr<ChildProcess> SparrowStack::Service(const std::string& name,
                                                    const std::string& binary,
                                                    std::vector<std::string> args) {
  std::vector<std::pair<std::string, std::string>> env = options_.service_env;
  env.emplace_back("SPARROW_DB", db_url_);
  auto child = std::make_unique<ChildProcess>(ChildOptions{
      .binary = binary,
      .args = std::move(args),
      .env = std::move(env),
      .log_path = dir_ / "log" / (name + ".log"),
      .stop_timeout = std::chrono::milliseconds(5000),
  });
  child->Start();
  return child;
}

void SparrowStack::Start() {
  accounts();  // creates and migrates the database before any service opens it
  const auto keys = dir_ / "keys";
  for (const char* svc : {"bridge", "offline", "authsvc"}) {
    WriteSecretFile(keys / (std::string(svc) + ".token"),
                    Token(svc, common::Role::kSvc, 24LL * 3600 * 1000));
  }
  for (int i = 0; i < options_.brokers; ++i) {
    MosquittoOptions broker;
    broker.plugin = PluginLibrary();
    broker.public_key_file = (keys / "token_public.key").string();
    broker.broker_id = "b" + std::to_string(i + 1);
    brokers_.push_back(std::make_unique<MosquittoProcess>(broker));
    brokers_.back()->Start();
  }
  std::string broker_list;  // b1=127.0.0.1:P1,b2=...: services connect to every broker
  for (std::size_t i = 0; i < brokers_.size(); ++i) {
    broker_list += (i == 0 ? "" : ",") + std::string("b") + std::to_string(i + 1) +
                   "=127.0.0.1:" + std::to_string(brokers_[i]->port());
  }
  for (int i = 0; i < options_.bridges; ++i) {
    std::vector<std::string> args{"--token-file", (keys / "bridge.token").string(),
                                  "--instance",   "t" + std::to_string(i),
                                  "--brokers",    broker_list};
    args.insert(args.end(), options_.bridge_args.begin(), options_.bridge_args.end());
    bridges_.push_back(Service("bridge-" + std::to_string(i), BridgeBinary(), args));
  }
  if (options_.offline) {
    std::vector<std::string> args{"--token-file", (keys / "offline.token").string(),
                                  "--instance",   "t0",
                                  "--brokers",    broker_list};
    args.insert(args.end(), options_.offline_args.begin(), options_.offline_args.end());
    offline_ = Service("offline", OfflineBinary(), args);
  }
  if (options_.authsvc) {
    http_port_ = FreePort();
    std::vector<std::string> args{"serve",
                                  "--data-dir",
                                  dir_.string(),
                                  "--port",
                                  std::to_string(http_port_),
                                  "--token-file",
                                  (keys / "authsvc.token").string(),
                                  "--brokers",
                                  broker_list};
    args.insert(args.end(), options_.authsvc_args.begin(), options_.authsvc_args.end());
    authsvc_ = Service("authsvc", AuthsvcBinary(), args);
  }
  if (options_.bridges > 1 && !WaitBridges(options_.start_timeout)) {
    throw std::runtime_error("SparrowStack: bridges did not see each other; logs:\n" + Logs());
  }
  if (options_.offline && options_.bridges > 0 && !WaitReady(options_.start_timeout)) {
    throw std::runtime_error("SparrowStack: services not ready; logs:\n" + Logs());
  }
}

bool SparrowStack::WaitBridges(std::chrono::milliseconds timeout) {
  // Every bridge announces itself on im/sys/bridge/{instance} each second with the number of
  // members it knows: once every one counts them all, they share the devices.
  transport::Options options;
  options.port = brokers_.front()->port();
  options.client_id = "bridge:stackwatch";
  options.username = "bridge";
  options.password = Token("bridge", common::Role::kSvc);
  auto watch = transport::MakeTransport("mosquitto", options);
  std::mutex mutex;
  std::map<std::string, int> members;  // instance topic -> members it knows
  watch->SetMessageHandler([&](transport::Message&& m) {
    auto json = nlohmann::json::parse(m.payload, nullptr, /*allow_exceptions=*/false);
    std::lock_guard<std::mutex> lock(mutex);
    members[m.topic] = json.is_object() ? json.value("members", 0) : 0;
  });
  watch->Subscribe("im/sys/bridge/+", 0);
  watch->Start();
  const bool ok = WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        if (members.size() < static_cast<std::size_t>(options_.bridges)) return false;
        for (const auto& [topic, count] : members) {
          if (count < options_.bridges) return false;
        }
        return true;
      },
      timeout);
  watch->Stop();
  return ok;
}

bool SparrowStack::WaitReady(std::chrono::milliseconds timeout) {
  for (int i = 0; i < broker_count(); ++i) {
    TestDevice probe(*this, "stackprobe", "probe" + std::to_string(i), 5, i);
    if (!probe.Connect(0, timeout).has_value()) return false;
  }
  return true;
}

void SparrowStack::Stop() {
  if (authsvc_) authsvc_->Stop();
  if (offline_) offline_->Stop();
  for (auto& bridge : bridges_) bridge->Stop();
  for (auto& broker : brokers_) broker->Stop();
}

std::string SparrowStack::Logs() const {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "log")) {
    out += "==== " + entry.path().filename().string() + "\n" + ReadTextFile(entry.path());
  }
  for (const auto& broker : brokers_) out += "==== broker\n" + broker->ReadLog();
  // Keep failure messages readable.
  if (out.size() > 20000) out = "...\n" + out.substr(out.size() - 20000);
  return out;
}

}  // namespace sparrow::testing
