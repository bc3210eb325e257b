// UTF-8 validation (RFC 3629): the wire carries UTF-8 only (PROTOCOL.md, "Frames"; MQTT topic
// names). Pure, thread-safe, never throws.
#pragma once

#include <string_view>

namespace sparrow::protocol {

// True iff `bytes` is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), no
// code point above U+10FFFF, no truncated sequence. NUL bytes are valid UTF-8 and accepted.
[[nodiscard]] bool IsValidUtf8(std::string_view bytes) noexcept;

}  // namespace sparrow::protocol
