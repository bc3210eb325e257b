// Replays every committed fuzz input (tests/fuzz/corpus/<target>/ and crashes/<target>/)
// through the fuzz targets, compiled without libFuzzer and with their entry points renamed
// (CMakeLists.txt), so that the g++ build and `./sparrow test` check all their properties on
// every seed and on every input that once found a bug. A violated property aborts, naming the
// file (fuzz_support.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_keys.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int SparrowFuzzDecodeUp(const std::uint8_t* data, std::size_t size);
extern "C" int SparrowFuzzDecodeDown(const std::uint8_t* data, std::size_t size);
extern "C" int SparrowFuzzToken(const std::uint8_t* data, std::size_t size);
extern "C" int SparrowFuzzAcl(const std::uint8_t* data, std::size_t size);

namespace sparrow::fuzz {
namespace {

namespace fs = std::filesystem;
using Target = int (*)(const std::uint8_t*, std::size_t);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The regular files of `dir` in name order; none if it does not exist (git keeps no empty
// crashes/<target>/ folder).
std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs `target` on every input of corpus/<name>/ (which must hold some) and crashes/<name>/.
void Replay(const char* name, Target target) {
  const fs::path root = SPARROW_FUZZ_DIR;
  const auto corpus = FilesIn(root / "corpus" / name);
  const auto crashes = FilesIn(root / "crashes" / name);
  ASSERT_FALSE(corpus.empty()) << "no seeds in " << (root / "corpus" / name);
  for (const auto* files : {&corpus, &crashes}) {
    for (const fs::path& file : *files) {
      const std::string bytes = ReadFile(file);
      const std::string label = file.string();
      current_input_name = label.c_str();
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      current_input_name = nullptr;
    }
  }
  ::testing::Test::RecordProperty("inputs", static_cast<int>(corpus.size() + crashes.size()));
}

TEST(FuzzRegressionTest, DecodeUpHoldsOnEverySeedAndPastCrash) {
  Replay("decode_up", SparrowFuzzDecodeUp);
}

TEST(FuzzRegressionTest, DecodeDownHoldsOnEverySeedAndPastCrash) {
  Replay("decode_down", SparrowFuzzDecodeDown);
}

TEST(FuzzRegressionTest, TokenHoldsOnEverySeedAndPastCrash) { Replay("token", SparrowFuzzToken); }

TEST(FuzzRegressionTest, AclHoldsOnEverySeedAndPastCrash) { Replay("acl", SparrowFuzzAcl); }

// The seed tokens are the ones the fuzz key signs today (fuzz_keys.cpp), so the raw-token
// seeds reach the claims; if the key or the claims change, regenerate them from this list.
TEST(FuzzRegressionTest, TokenSeedsAreTheKnownTokens) {
  const fs::path dir = fs::path(SPARROW_FUZZ_DIR) / "corpus" / "token";
  const auto& tokens = KnownTokens();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const fs::path file = dir / ("known-" + std::to_string(i) + ".jwt");
    EXPECT_EQ(ReadFile(file), tokens[i]) << file;
  }
}

}  // namespace
}  // namespace sparrow::fuzz
