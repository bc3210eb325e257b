#include "authsvc/files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/temp_dir.hpp"

namespace sparrow::authsvc {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::size_t Count(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(FileStoreTest, StoresUnderTheSha256OfTheContent) {
  testing::TempDir dir;
  const FileStore store(dir.path() / "files");
  auto upload = store.BeginUpload(1000);
  ASSERT_TRUE(upload->Append("a"));
  ASSERT_TRUE(upload->Append("bc"));
  const StoredFile stored = upload->Commit();
  EXPECT_EQ(stored.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(stored.size, 3u);
  EXPECT_EQ(ReadAll(store.PathOf(stored.sha256)), "abc");
  EXPECT_EQ(Count(dir.path() / "files" / "tmp"), 0u);
}

TEST(FileStoreTest, LargeUploadsAreWrittenWhole) {
  testing::TempDir dir;
  const FileStore store(dir.path());
  std::string data(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  auto upload = store.BeginUpload(data.size());
  for (std::size_t at = 0; at < data.size(); at += 4096) {
    ASSERT_TRUE(upload->Append(std::string_view(data).substr(at, 4096)));
  }
  const StoredFile stored = upload->Commit();
  EXPECT_EQ(stored.size, data.size());
  EXPECT_EQ(ReadAll(store.PathOf(stored.sha256)), data);
}

TEST(FileStoreTest, PassingTheLimitStopsAndLeavesNothing) {
  testing::TempDir dir;
  const FileStore store(dir.path());
  auto upload = store.BeginUpload(10);
  EXPECT_TRUE(upload->Append("0123456789"));  // exactly the limit
  EXPECT_EQ(Count(dir.path() / "tmp"), 1u);
  EXPECT_FALSE(upload->Append("x"));
  EXPECT_TRUE(upload->over_limit());
  EXPECT_FALSE(upload->Append(""));
  EXPECT_EQ(Count(dir.path() / "tmp"), 0u);  // removed at once, not at the end
  upload.reset();
  EXPECT_EQ(Count(dir.path()), 1u);  // tmp/ only
}

TEST(FileStoreTest, AnAbandonedUploadLeavesNothing) {
  testing::TempDir dir;
  const FileStore store(dir.path());
  {
    auto upload = store.BeginUpload(100);
    ASSERT_TRUE(upload->Append("partial"));
  }
  EXPECT_EQ(Count(dir.path() / "tmp"), 0u);
  EXPECT_EQ(Count(dir.path()), 1u);
}

TEST(FileStoreTest, TheSameContentIsStoredOnce) {
  testing::TempDir dir;
  const FileStore store(dir.path());
  for (int i = 0; i < 3; ++i) {
    auto upload = store.BeginUpload(100);
    ASSERT_TRUE(upload->Append("same"));
    (void)upload->Commit();
  }
  EXPECT_EQ(Count(dir.path()), 2u);  // tmp/ and one file
}

TEST(FileStoreTest, LeftoversOfACrashAreRemovedAtStart) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "tmp");
  std::ofstream(dir.path() / "tmp" / "half-written") << "junk";
  const FileStore store(dir.path());
  EXPECT_EQ(Count(dir.path() / "tmp"), 0u);
}

TEST(FileStoreTest, Sha256HexIsExactly64LowercaseHexDigits) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_TRUE(IsSha256Hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'g')));
  EXPECT_FALSE(IsSha256Hex("../" + std::string(61, 'a')));
}

}  // namespace
}  // namespace sparrow::authsvc
