#include "authsvc/sealed_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::authsvc {
namespace {

TEST(KeySealerTest, SealsAndUnsealsARelationKey) {
  const KeySealer sealer({common::RandomBytes(32)});
  const std::string key = NewRelationKey();
  ASSERT_EQ(key.size(), 32u);
  const std::string sealed = sealer.Seal(key, RelationContext("alice", "bob"));
  EXPECT_EQ(sealed.size(), 96u);  // base64 of 24 + 32 + 16 bytes
  EXPECT_EQ(sealer.Unseal(sealed, RelationContext("bob", "alice")), key);  // either order
  EXPECT_NE(sealer.Seal(key, RelationContext("alice", "bob")), sealed);    // a fresh nonce
}

TEST(KeySealerTest, DetectsEveryTamperedByte) {
  const KeySealer sealer({common::RandomBytes(32)});
  const std::string context = RelationContext("alice", "bob");
  const auto raw = *common::Base64Decode(sealer.Seal(NewRelationKey(), context));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(sealer.Unseal(common::Base64Encode(tampered), context)) << "byte " << i;
  }
  EXPECT_FALSE(sealer.Unseal(common::Base64Encode(raw.substr(0, raw.size() - 1)), context));
  EXPECT_FALSE(sealer.Unseal("not base64!", context));
  EXPECT_FALSE(sealer.Unseal("", context));
  EXPECT_FALSE(sealer.Unseal(common::Base64Encode(std::string(39, 'x')), context));
}

TEST(KeySealerTest, AKeyDoesNotOpenForAnotherRelationOrUnderAnotherMasterKey) {
  const KeySealer sealer({common::RandomBytes(32)});
  const std::string sealed = sealer.Seal(NewRelationKey(), RelationContext("alice", "bob"));
  EXPECT_FALSE(sealer.Unseal(sealed, RelationContext("alice", "carol")));
  EXPECT_FALSE(
      KeySealer({common::RandomBytes(32)}).Unseal(sealed, RelationContext("alice", "bob")));
}

TEST(KeySealerTest, OldMasterKeysStillOpenAfterRotation) {
  const std::string old_key = common::RandomBytes(32);
  const std::string sealed = KeySealer({old_key}).Seal("secret", "ctx");
  const KeySealer rotated({common::RandomBytes(32), old_key});
  EXPECT_EQ(rotated.Unseal(sealed, "ctx"), "secret");
  const std::string resealed = rotated.Seal("secret", "ctx");
  EXPECT_FALSE(KeySealer({old_key}).Unseal(resealed, "ctx"));  // new seals use the new key
}

TEST(KeySealerTest, RefusesBadMasterKeys) {
  EXPECT_THROW(KeySealer({}), common::ConfigError);
  EXPECT_THROW(KeySealer({std::string(31, 'k')}), common::ConfigError);
}

TEST(MasterKeyFileTest, CreatedOnceWithOwnerOnlyPermissions) {
  testing::TempDir dir;
  const std::string keys = (dir.path() / "keys").string();
  const KeySealer first = LoadOrCreateKeySealer(keys);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "keys" / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const std::string sealed = first.Seal("secret", "ctx");
  EXPECT_EQ(LoadOrCreateKeySealer(keys).Unseal(sealed, "ctx"), "secret");  // same key reloaded
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(keys)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left
}

TEST(MasterKeyFileTest, RefusesAFileOthersCanRead) {
  testing::TempDir dir;
  const std::string keys = (dir.path() / "keys").string();
  (void)LoadOrCreateKeySealer(keys);
  ::chmod((dir.path() / "keys" / "master.key").c_str(), 0640);
  EXPECT_THROW(LoadOrCreateKeySealer(keys), common::ConfigError);
}

TEST(MasterKeyFileTest, RefusesGarbageNamingTheLine) {
  testing::TempDir dir;
  const auto path = dir.path() / "master.key";
  {
    std::ofstream out(path);
    out << "# comment\n" << common::Base64Encode(common::RandomBytes(32)) << "\nnot-a-key\n";
  }
  ::chmod(path.c_str(), 0600);
  try {
    (void)LoadOrCreateKeySealer(dir.path().string());
    FAIL();
  } catch (const common::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

TEST(MasterKeyFileTest, ReadsRotatedKeysFirstLineCurrent) {
  testing::TempDir dir;
  const std::string current = common::RandomBytes(32);
  const std::string old_key = common::RandomBytes(32);
  const auto path = dir.path() / "master.key";
  {
    std::ofstream out(path);
    out << common::Base64Encode(current) << "\n" << common::Base64Encode(old_key) << "\n";
  }
  ::chmod(path.c_str(), 0600);
  const KeySealer sealer = LoadOrCreateKeySealer(dir.path().string());
  EXPECT_EQ(sealer.Unseal(KeySealer({old_key}).Seal("a", "c"), "c"), "a");
  EXPECT_EQ(KeySealer({current}).Unseal(sealer.Seal("b", "c"), "c"), "b");
}

}  // namespace
}  // namespace sparrow::authsvc
