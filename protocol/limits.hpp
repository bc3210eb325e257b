// Size and range limits of the wire protocol (PROTOCOL.md, "Frames"). Every component checks
// untrusted input against these constants and nothing else, so the limits live in one place.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sparrow::protocol {

// The largest `msgBody`, in bytes of UTF-8 after JSON unescaping. A longer body is refused
// with `too_large` (and the chat's id).
inline constexpr std::size_t kMaxBodyBytes = 65536;

// The largest payload the decoders even try to parse; a longer one is refused with
// `too_large` before a single byte is parsed (bounded work per frame).
//
// Why 512 KiB: it must stay above the largest *valid* frame, or a valid chat would be refused.
// A body of kMaxBodyBytes may legally be written with every byte escaped: a control byte as
// `\u00XX` is 6 bytes on the wire per body byte, the worst case (a 2-byte UTF-8 character as
// `\uXXXX` is 3x, a 4-byte one as a surrogate pair 3x). 6 * 64 KiB = 384 KiB, which leaves
// 128 KiB for the other fields and unknown ones. The broker's `message_size_limit`
// (scripts/gen-mosquitto-conf) is set far above this, so an oversized frame reaches us and is
// answered with `too_large` instead of being dropped silently by the broker.
inline constexpr std::size_t kMaxFrameBytes = 512 * 1024;

// The deepest nesting of arrays/objects accepted; the frame's own object is depth 1. Valid
// frames are flat (depth 1); deeper values can only appear in unknown fields, which are
// ignored. Anything deeper is `bad_frame`, found as soon as the parser reaches that depth.
inline constexpr int kMaxJsonDepth = 8;

// The longest `mid` accepted (mids we mint are 26 characters; see common/ids.hpp).
inline constexpr std::size_t kMaxMidBytes = 64;

// Chat ids (`id`, `ackMsgId`, `lastId`, `expected`) are JSON integers in 1..2^53-1, the range
// every JSON implementation (including JavaScript's) represents exactly.
inline constexpr std::int64_t kMaxChatId = (std::int64_t{1} << 53) - 1;

// Sequence numbers (`seq`, `after`, `upto`) fit a signed 64-bit SQL column: 0..2^63-1.
inline constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 63) - 1;

// Identity lengths (see identity.hpp for the alphabets).
inline constexpr std::size_t kMaxUserIdBytes = 32;
inline constexpr std::size_t kMaxDeviceIdBytes = 64;

}  // namespace sparrow::protocol
