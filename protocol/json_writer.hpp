// Hand-written JSON output for the encoders on the hot path (no DOM, one growing string).
// Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sparrow::protocol {

// Appends `utf8` as a JSON string literal (with the quotes). `"` and `\` are escaped with a
// backslash, every control character U+0000..U+001F as `\u00XX`; everything else, including
// multi-byte UTF-8 and U+007F, is copied as is. Precondition: `utf8` is valid UTF-8 (strings
// that came out of our decoders are); otherwise the output is not valid JSON.
void AppendJsonString(std::string& out, std::string_view utf8);

// Appends the decimal form of `value`.
void AppendJsonInt(std::string& out, std::int64_t value);
void AppendJsonUint(std::string& out, std::uint64_t value);

}  // namespace sparrow::protocol
