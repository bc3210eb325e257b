// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.cpp) and their regression runner.
//
// A fuzz target checks properties with SPARROW_FUZZ_CHECK, which prints the failed condition
// and aborts: libFuzzer then saves the input as a crash, and the regression runner
// (fuzz_regression_test.cpp) fails naming the replayed file. Checks stay on in every build
// type (they do not use assert, which NDEBUG removes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace sparrow::fuzz {

// The file the regression runner is replaying (nullptr under libFuzzer, which names the input
// itself). Single-threaded use only.
inline const char* current_input_name = nullptr;

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, condition);
  if (current_input_name != nullptr) std::fprintf(stderr, "  input: %s\n", current_input_name);
  std::abort();
}

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return size == 0 ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(data), size);
}

// Splits `text` at every '\n' (so "a\n\nb" gives "a", "", "b"; "" gives one empty field).
inline std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> fields;
  while (true) {
    const auto newline = text.find('\n');
    fields.push_back(text.substr(0, newline));
    if (newline == std::string_view::npos) return fields;
    text.remove_prefix(newline + 1);
  }
}

// The payload a frame target decodes. Small inputs cannot reach the size limits (a 64 KiB
// body, a 512 KiB frame), so an input that starts with the byte 0xFE (never in UTF-8, so in no
// valid frame) is a template: the first byte is dropped, and each later 0xFE followed by a byte
// k stands for (k + 1) * 1024 bytes of 'A' (a trailing 0xFE is kept). A 4096-byte input can so
// describe frames of several MiB. Gating on the first byte keeps such (slow) inputs a small
// share of the corpus; any other input is the payload as is.
inline std::string ExpandPayload(std::string_view input) {
  constexpr char kRepeatMarker = static_cast<char>(0xFE);
  if (!input.starts_with(kRepeatMarker)) return std::string(input);
  std::string out;
  for (std::size_t i = 1; i < input.size(); ++i) {
    if (input[i] == kRepeatMarker && i + 1 < input.size()) {
      const auto k = static_cast<unsigned char>(input[++i]);
      out.append((std::size_t{k} + 1) * 1024, 'A');
    } else {
      out += input[i];
    }
  }
  return out;
}

}  // namespace sparrow::fuzz

#define SPARROW_FUZZ_CHECK(condition)                                               \
  do {                                                                              \
    if (!(condition)) ::sparrow::fuzz::CheckFailed(__FILE__, __LINE__, #condition); \
  } while (false)
