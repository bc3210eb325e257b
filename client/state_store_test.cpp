#include "client/state_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "testing/temp_dir.hpp"

namespace sparrow::client {
namespace {

DeviceState Sample() {
  return DeviceState{.last_seq = 17,
                     .last_id = 42,
                     .outbox = {OutgoingChat{.local_id = "L1",
                                             .peer = "bob",
                                             .kind = protocol::ChatKind::kText,
                                             .payload = "hi \"bob\" \xC3\xA9",
                                             .id = 42,
                                             .attempts = 2,
                                             .created_ms = 1764430000000},
                                OutgoingChat{.local_id = "L2",
                                             .peer = "carol",
                                             .kind = protocol::ChatKind::kFile,
                                             .payload = "{\"v\":1}",
                                             .id = 0,
                                             .attempts = 0,
                                             .created_ms = 1764430000001}}};
}

mode_t Mode(const std::filesystem::path& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(StateStoreTest, SavedStateLoadsBackEqual) {
  testing::TempDir dir;
  {
    StateStore store(dir.path() / "alice" / "cli");
    EXPECT_FALSE(store.Load().has_value());  // a new device
    store.Save(Sample());
    EXPECT_EQ(store.Load(), Sample());
  }
  StateStore reopened(dir.path() / "alice" / "cli");
  EXPECT_EQ(reopened.Load(), Sample());
}

TEST(StateStoreTest, FilesArePrivateAndNoTemporaryIsLeft) {
  testing::TempDir dir;
  StateStore store(dir.path() / "d");
  store.Save(Sample());
  EXPECT_EQ(Mode(dir.path() / "d"), 0700u);
  EXPECT_EQ(Mode(store.file()), 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "d" / "state.json.tmp"));
}

TEST(StateStoreTest, ASecondOpenOfTheSameDeviceIsRefusedUntilTheFirstCloses) {
  testing::TempDir dir;
  auto first = std::make_unique<StateStore>(dir.path() / "d");
  EXPECT_THROW(StateStore second(dir.path() / "d"), StateError);
  first.reset();
  EXPECT_NO_THROW(StateStore third(dir.path() / "d"));
}

TEST(StateStoreTest, ADamagedFileIsAnErrorNotAFreshStart) {
  testing::TempDir dir;
  StateStore store(dir.path() / "d");
  std::ofstream(store.file()) << "{\"version\":1,\"lastSeq\":";
  EXPECT_THROW((void)store.Load(), StateError);
}

TEST(StateStoreTest, DecodeRefusesOutboxesOutOfOrder) {
  DeviceState state = Sample();
  std::swap(state.outbox[0], state.outbox[1]);  // an unnumbered chat before a numbered one
  EXPECT_FALSE(DecodeState(EncodeState(state)).has_value());
  state = Sample();
  state.outbox[1].id = 40;  // ids must increase
  EXPECT_FALSE(DecodeState(EncodeState(state)).has_value());
  EXPECT_FALSE(DecodeState("[]").has_value());
  EXPECT_FALSE(DecodeState(R"({"version":2,"lastSeq":0,"lastId":0,"outbox":[]})").has_value());
  EXPECT_TRUE(DecodeState(R"({"version":1,"lastSeq":0,"lastId":0,"outbox":[]})").has_value());
}

}  // namespace
}  // namespace sparrow::client
