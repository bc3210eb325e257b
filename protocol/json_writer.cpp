#include "protocol/json_writer.hpp"

#include <array>
#include <charconv>
#include <cstddef>

namespace sparrow::protocol {
namespace {

// True for the bytes that must not appear raw inside a JSON string (RFC 8259 section 7).
constexpr std::array<bool, 256> MakeEscapeTable() {
  std::array<bool, 256> table{};
  for (std::size_t c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}
constexpr std::array<bool, 256> kNeedsEscape = MakeEscapeTable();

template <typename T>
void AppendDecimal(std::string& out, T value) {
  std::array<char, 24> buffer;  // enough for any 64-bit integer with its sign
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), result.ptr);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view utf8) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  // Copy runs of plain bytes in one append; escapes are rare in base64 bodies and ids.
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (!kNeedsEscape[c]) continue;
    out.append(utf8.data() + run_start, i - run_start);
    run_start = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escape, sizeof escape);
    }
  }
  out.append(utf8.data() + run_start, utf8.size() - run_start);
  out += '"';
}

void AppendJsonInt(std::string& out, std::int64_t value) { AppendDecimal(out, value); }
void AppendJsonUint(std::string& out, std::uint64_t value) { AppendDecimal(out, value); }

}  // namespace sparrow::protocol
