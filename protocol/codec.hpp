// The JSON codec for every frame of PROTOCOL.md ("Frames").
//
// Decoders take untrusted bytes and always return a value: a frame, or a DecodeError carrying
// the protocol's error code. They never throw, never crash, and do bounded work on any input:
// a payload over kMaxFrameBytes is refused before parsing, nesting deeper than kMaxJsonDepth
// stops the parser at that depth, and no recursion depends on the input.
//
// Encoders write compact JSON by hand (no DOM): the server encoders run tens of thousands of
// times per second. Their output always decodes back to an equal frame. Preconditions: the
// frame satisfies the rules documented in frames.hpp (frames produced by the decoders, or ids
// validated by our own code); encoders do not re-validate.
//
// Everything here is pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/frames.hpp"

namespace sparrow::protocol {

// Why a payload was refused. The bridge answers it with an `error` frame (ToErrorFrame).
struct DecodeError {
  // kBadFrame or kTooLarge; kInternal only if memory ran out.
  ErrorCode code = ErrorCode::kBadFrame;
  // Short, ASCII, names the offending field; never quotes the payload.
  std::string message;
  // The frame's chat `id`, when a valid one (an integer in 1..kMaxChatId, not duplicated) was
  // read before decoding stopped and the frame's `type` was "chat" or had not been read.
  std::optional<std::int64_t> id;
  // The frame's `mid`, when a valid one (a string of 1..kMaxMidBytes bytes, not duplicated) was
  // read before decoding stopped and the frame's `type` was "ack" or had not been read.
  std::optional<std::string> mid;

  friend bool operator==(const DecodeError&, const DecodeError&) = default;
};

using UpFrame = std::variant<ChatUp, AckUp, SyncUp, DecodeError>;
using DownFrame = std::variant<ChatDown, AckDown, Synced, ErrorFrame, DecodeError>;

// Decodes a client -> server payload (im/up/..., and the sync frames forwarded on
// im/sys/sync/...). Rules, each a DecodeError with the code given:
//   too_large: payload over kMaxFrameBytes (checked first, no id); `msgBody` over
//              kMaxBodyBytes bytes of UTF-8 (with the id; only once every other field of the
//              chat is well-formed);
//   bad_frame: invalid JSON (including trailing data, invalid UTF-8 anywhere, lone surrogate
//              escapes, numbers that overflow a double); nesting deeper than kMaxJsonDepth;
//              not an object; `type` missing, not a string or unknown; a known field of the
//              frame's type given twice; a required field missing or of the wrong JSON type;
//              chat: `id` not a JSON integer in 1..kMaxChatId (42.0, 1e3, "42", 0, -1 and 2^53
//              are all refused), `destId` not a valid userId, `kind` not text|file, `msgBody`
//              not a string, `fromId` present but not a string (null included);
//              ack: `msgType` not DELIVERED|READ (SENT included), `mid` not a string of
//              1..kMaxMidBytes bytes;
//              sync: `after` not an integer in 0..kMaxSeq.
// Unknown fields are ignored, whatever their value (up to the depth limit). `fromId` is not
// compared with the topic's user here: the bridge does that (spoofed_sender).
[[nodiscard]] UpFrame DecodeUp(std::string_view payload) noexcept;

// Decodes a server -> client payload (for clients), with the same robustness and error codes.
// `seq`, when present, must be an integer in 1..kMaxSeq (absent decodes as 0); ids must be
// valid; `ts` any 64-bit integer; an `error` needs `code` and `message` (strings). A `code`
// this build does not know (a newer server's) is accepted, so that clients keep working: it
// decodes as ErrorCode::kInternal with the received text in ErrorFrame::unknown_code.
[[nodiscard]] DownFrame DecodeDown(std::string_view payload) noexcept;

// The `error` frame that answers a DecodeError.
[[nodiscard]] ErrorFrame ToErrorFrame(const DecodeError& error);

// Client encoders.
[[nodiscard]] std::string EncodeChatUp(const ChatUp& chat);  // `fromId` only when set
[[nodiscard]] std::string EncodeAckUp(const AckUp& ack);
[[nodiscard]] std::string EncodeSyncUp(const SyncUp& sync);

// Server encoders. `seq` is written first, and only when non-zero, so that
// WithSeq(Encode(frame with seq 0), n) == Encode(frame with seq n).
[[nodiscard]] std::string EncodeChatDown(const ChatDown& chat);
[[nodiscard]] std::string EncodeAckDown(const AckDown& ack);
[[nodiscard]] std::string EncodeSynced(const Synced& synced);
// Optional fields are written only when set.
[[nodiscard]] std::string EncodeError(const ErrorFrame& error);

// Splices `"seq":N` into a stored frame (which is kept without its seq) right after its
// opening `{`: `{"type":"chat",...}` -> `{"seq":18,"type":"chat",...}`, `{}` -> `{"seq":18}`.
// Precondition: `frame_json` is a JSON object without a `seq` field. A `seq` of 0 (none), or
// a text that does not start with `{` (after whitespace), is returned unchanged.
[[nodiscard]] std::string WithSeq(std::string_view frame_json, std::uint64_t seq);

}  // namespace sparrow::protocol
