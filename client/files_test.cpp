#include "client/files.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/temp_dir.hpp"

namespace sparrow::client {
namespace {

FileInfo SampleFile() {
  FileInfo file;
  file.file_id = "abcdefghijklmnopqrstuvwxyz234567";
  file.name = "photo.jpg";
  file.size = 5 << 20;
  file.sha256 = std::string(64, 'a');
  file.content_type = "image/jpeg";
  file.key = std::string(32, '\x07');
  file.chunk_bytes = 65536;
  return file;
}

TEST(FileDescriptorTest, RoundTrips) {
  const FileInfo file = SampleFile();
  EXPECT_EQ(DecodeFileDescriptor(EncodeFileDescriptor(file)), file);
}

TEST(FileDescriptorTest, RefusesIncompleteOrMalformedDescriptors) {
  const auto good = nlohmann::json::parse(EncodeFileDescriptor(SampleFile()));
  for (const char* field : {"fileId", "name", "size", "sha256", "key", "chunk"}) {
    auto bad = good;
    bad.erase(field);
    EXPECT_FALSE(DecodeFileDescriptor(bad.dump()).has_value()) << field;
  }
  auto bad = good;
  bad["sha256"] = std::string(64, 'G');
  EXPECT_FALSE(DecodeFileDescriptor(bad.dump()).has_value());
  bad = good;
  bad["key"] = "AAAA";  // 3 bytes
  EXPECT_FALSE(DecodeFileDescriptor(bad.dump()).has_value());
  bad = good;
  bad["chunk"] = 0;
  EXPECT_FALSE(DecodeFileDescriptor(bad.dump()).has_value());
  EXPECT_FALSE(DecodeFileDescriptor("not json").has_value());
  EXPECT_FALSE(DecodeFileDescriptor("[]").has_value());
}

TEST(SafeFileNameTest, KeepsOnlyThePlainLastComponent) {
  EXPECT_EQ(SafeFileName("report.pdf"), "report.pdf");
  EXPECT_EQ(SafeFileName("../../etc/passwd"), "passwd");
  EXPECT_EQ(SafeFileName("C:\\Users\\x\\evil.exe"), "evil.exe");
  EXPECT_EQ(SafeFileName(".bashrc"), "bashrc");
  EXPECT_EQ(SafeFileName("a\nb\x01"
                         "c"),
            "abc");
  EXPECT_EQ(SafeFileName(".."), "file");
  EXPECT_EQ(SafeFileName(""), "file");
  EXPECT_EQ(SafeFileName("dir/"), "file");
  EXPECT_LE(SafeFileName(std::string(500, 'x')).size(), 200u);
}

TEST(SafeFileNameTest, GuessesCommonContentTypes) {
  EXPECT_EQ(GuessContentType("a.PNG"), "image/png");
  EXPECT_EQ(GuessContentType("notes.txt"), "text/plain");
  EXPECT_EQ(GuessContentType("blob"), "application/octet-stream");
  EXPECT_EQ(GuessContentType("x.unknownext"), "application/octet-stream");
}

TEST(UniquePathTest, NeverReturnsAnExistingFile) {
  testing::TempDir dir;
  EXPECT_EQ(UniquePath(dir.path(), "a.txt"), dir.path() / "a.txt");
  std::ofstream(dir.path() / "a.txt") << "x";
  EXPECT_EQ(UniquePath(dir.path(), "a.txt"), dir.path() / "a (1).txt");
  std::ofstream(dir.path() / "a (1).txt") << "x";
  EXPECT_EQ(UniquePath(dir.path(), "a.txt"), dir.path() / "a (2).txt");
}

}  // namespace
}  // namespace sparrow::client
