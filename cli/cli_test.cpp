#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "cli/config.hpp"
#include "cli/credentials.hpp"
#include "cli/output.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::cli {
namespace {

using nlohmann::json;

TEST(ConfigTest, ParsesMqttAddresses) {
  auto a = ParseMqttAddress("127.0.0.1:18830");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 18830);
  EXPECT_EQ(ParseMqttAddress("broker.example")->port, 1883);
  EXPECT_EQ(ParseMqttAddress("tcp://h:1")->host, "h");
  EXPECT_EQ(ParseMqttAddress("mqtt://h:2/")->port, 2);
  EXPECT_FALSE(ParseMqttAddress("h:0").has_value());
  EXPECT_FALSE(ParseMqttAddress("h:99999").has_value());
  EXPECT_FALSE(ParseMqttAddress("h:x").has_value());
  EXPECT_FALSE(ParseMqttAddress(":1883").has_value());
  EXPECT_FALSE(ParseMqttAddress("").has_value());
}

TEST(ConfigTest, KeepsEachUserAndDeviceApart) {
  EXPECT_EQ(StateDir("/h", "alice", "cli"), std::filesystem::path("/h/state/alice/cli"));
  EXPECT_EQ(DownloadDir("/h", "alice"), std::filesystem::path("/h/downloads/alice"));
}

TEST(CredentialStoreTest, SavesPrivatelyAndRemembersTheLastUser) {
  testing::TempDir dir;
  CredentialStore store(dir.path() / "home");
  EXPECT_FALSE(store.DefaultUser().has_value());
  EXPECT_FALSE(store.Load("alice").has_value());
  const Credentials alice{.user = "alice", .token = "t1", .expires_at_ms = 5, .server = "http://s"};
  const Credentials bob{.user = "bob", .token = "t2", .expires_at_ms = 6, .server = "http://s"};
  store.Save(alice);
  store.Save(bob);
  EXPECT_EQ(store.Load("alice"), alice);
  EXPECT_EQ(store.Load("bob"), bob);
  EXPECT_EQ(store.DefaultUser(), "bob");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "home" / "credentials" / "bob.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir.path() / "home").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  store.Remove("bob");
  EXPECT_FALSE(store.Load("bob").has_value());
  EXPECT_FALSE(store.DefaultUser().has_value());
  EXPECT_FALSE(store.Load("../etc/passwd").has_value());
}

client::Message Incoming() {
  client::Message m;
  m.mid = "M1";
  m.from = "bob";
  m.to = "alice";
  m.from_device = "phone";
  m.text = "hi \"alice\"";
  m.seq = 4;
  m.ts = 1764430000000;
  m.id = 9;
  return m;
}

TEST(OutputTest, MessageEventsCarryTheContractFields) {
  const json j = json::parse(MessageJson(Incoming()));
  EXPECT_EQ(j["event"], "message");
  EXPECT_EQ(j["mid"], "M1");
  EXPECT_EQ(j["from"], "bob");
  EXPECT_EQ(j["peer"], "bob");
  EXPECT_EQ(j["outgoing"], false);
  EXPECT_EQ(j["kind"], "text");
  EXPECT_EQ(j["text"], "hi \"alice\"");
  EXPECT_EQ(j["seq"], 4);
  EXPECT_FALSE(j.contains("file"));
  const json with_status = json::parse(MessageJson(Incoming(), client::MessageStatus::kRead));
  EXPECT_EQ(with_status["status"], "read");
}

TEST(OutputTest, FileMessagesNeverPrintTheFileKey) {
  client::Message m = Incoming();
  m.kind = protocol::ChatKind::kFile;
  m.file = client::FileInfo{.file_id = "f",
                            .name = "a.png",
                            .size = 10,
                            .sha256 = std::string(64, 'a'),
                            .content_type = "image/png",
                            .key = std::string(32, 'S'),
                            .chunk_bytes = 65536};
  const std::string line = MessageJson(m);
  EXPECT_EQ(line.find("SSSS"), std::string::npos);
  EXPECT_EQ(json::parse(line)["file"]["name"], "a.png");
  EXPECT_EQ(json::parse(line)["kind"], "file");
}

TEST(OutputTest, StatusErrorAndFileEvents) {
  const json s = json::parse(StatusJson({.local_id = "L",
                                         .mid = "M",
                                         .peer = "bob",
                                         .status = client::MessageStatus::kFailed,
                                         .reason = "not_friends"}));
  EXPECT_EQ(s["event"], "status");
  EXPECT_EQ(s["status"], "failed");
  EXPECT_EQ(s["reason"], "not_friends");
  const json e = json::parse(ErrorJson({.kind = client::ClientError::Kind::kUndecryptable,
                                        .code = "",
                                        .message = "m",
                                        .mid = "M",
                                        .peer = "bob"}));
  EXPECT_EQ(e["kind"], "undecryptable");
  const json f = json::parse(FileJson(Incoming(), {.ok = false, .path = {}, .error = "bad"}));
  EXPECT_EQ(f["verified"], false);
  EXPECT_EQ(f["error"], "bad");
}

TEST(OutputTest, InvalidUtf8IsReplacedNotFatal) {
  client::Message m = Incoming();
  m.text = "bad \xff byte";
  EXPECT_TRUE(json::parse(MessageJson(m)).is_object());
}

TEST(OutputTest, HumanLinesShowTimeSenderAndNeutralizeControlCharacters) {
  client::Message m = Incoming();
  m.text = "evil\x1b[2Jtext";
  const std::string line = HumanMessage(m, false, m.ts);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_NE(line.find("] bob: evil?[2Jtext"), std::string::npos) << line;
  m.outgoing = true;
  m.from = "alice";
  m.to = "bob";
  EXPECT_NE(HumanMessage(m, true, m.ts).find("] you -> bob: "), std::string::npos);
  EXPECT_NE(HumanMessage(m, false, m.ts).find("] you: "), std::string::npos);
  EXPECT_EQ(HumanTime(0, 1), "--:--:--");
  EXPECT_EQ(HumanTime(m.ts, m.ts + 86400000LL * 3).size(), 16u);  // an older day has a date
}

TEST(OutputTest, SizesAndProgressBars) {
  EXPECT_EQ(HumanSize(512), "512 B");
  EXPECT_EQ(HumanSize(5 * 1024 * 1024), "5.0 MB");
  EXPECT_EQ(ProgressBar(0, 100, 10), "[..........]   0%  0 B/100 B");
  EXPECT_EQ(ProgressBar(50, 100, 10), "[#####.....]  50%  50 B/100 B");
  EXPECT_EQ(ProgressBar(100, 100, 10), "[##########] 100%  100 B/100 B");
  EXPECT_EQ(ProgressBar(0, 0, 4), "[####] 100%  0 B/0 B");
}

}  // namespace
}  // namespace sparrow::cli
