// Fuzz target: protocol::DecodeDown, the clients' decoder of every frame the server sends
// (im/in/...), and WithSeq, which the server uses to splice `seq` into stored frames.
//
// Input: the payload, after fuzz::ExpandPayload (0xFE k stands for (k+1) KiB of 'A'). Properties
// checked, beyond "no crash, no hang, no sanitizer report":
//   - a decoded frame obeys the rules of frames.hpp, and every field agrees with an independent
//     DOM parse of the same bytes (nlohmann::json), at most kMaxJsonDepth deep;
//   - it round-trips through the server encoder (an `error` with a code this build does not
//     know comes back as `internal`: EncodeError never writes unknown_code), and encoding
//     again gives the same bytes;
//   - WithSeq(Encode(frame without seq), n) == Encode(frame with seq n) (codec.hpp); and
//     splicing a seq into the received payload itself, when it had none, decodes to the same
//     frame with that seq;
//   - a refusal is a sane DecodeError whose answering `error` frame round-trips.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "protocol/codec.hpp"
#include "protocol/identity.hpp"
#include "protocol/limits.hpp"
#include "tests/fuzz/fuzz_frame_checks.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace sparrow::fuzz {
namespace {

using namespace sparrow::protocol;

// The seq spliced into payloads that had none: not 0 (WithSeq's "none"), and large, so that
// its digits differ from anything the payload holds.
constexpr std::uint64_t kSplicedSeq = 9'007'199'254'740'993;

template <typename Frame, typename Encode>
void CheckRoundTrip(const Frame& expected, Encode encode) {
  const std::string encoded = encode(expected);
  const DownFrame again = DecodeDown(encoded);
  const auto* decoded = std::get_if<Frame>(&again);
  SPARROW_FUZZ_CHECK(decoded != nullptr);
  SPARROW_FUZZ_CHECK(*decoded == expected);
  SPARROW_FUZZ_CHECK(encode(*decoded) == encoded);
}

// Frames stored without their seq (chat, ack) get it back from WithSeq, byte for byte.
template <typename Frame, typename Encode>
void CheckWithSeq(const Frame& frame, Encode encode) {
  Frame stored = frame;
  stored.seq = 0;
  SPARROW_FUZZ_CHECK(WithSeq(encode(stored), frame.seq) == encode(frame));
  SPARROW_FUZZ_CHECK(WithSeq(encode(stored), 0) == encode(stored));
}

// A payload without `seq` that starts with '{' (WithSeq's precondition) decodes, once a seq is
// spliced in, to the same frame carrying that seq (chat, ack) or to the same frame (the others
// have no seq and ignore the field).
template <typename Frame>
void CheckSplicedSeq(const Frame& frame, std::string_view payload, const nlohmann::json& dom) {
  const auto first = payload.find_first_not_of(" \t\r\n");
  if (dom.contains("seq") || first == std::string_view::npos || payload[first] != '{') return;
  const DownFrame spliced = DecodeDown(WithSeq(payload, kSplicedSeq));
  const auto* decoded = std::get_if<Frame>(&spliced);
  SPARROW_FUZZ_CHECK(decoded != nullptr);
  Frame expected = frame;
  if constexpr (requires { expected.seq; }) expected.seq = kSplicedSeq;
  SPARROW_FUZZ_CHECK(*decoded == expected);
}

void CheckChat(const ChatDown& chat, std::string_view payload) {
  SPARROW_FUZZ_CHECK(chat.seq <= kMaxSeq);
  SPARROW_FUZZ_CHECK(IsMid(chat.mid));
  SPARROW_FUZZ_CHECK(IsChatId(chat.id));
  SPARROW_FUZZ_CHECK(IsValidUserId(chat.from_id));
  SPARROW_FUZZ_CHECK(IsValidDeviceId(chat.from_device));
  SPARROW_FUZZ_CHECK(IsValidUserId(chat.dest_id));
  SPARROW_FUZZ_CHECK(IsBody(chat.msg_body));

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "chat"));
  SPARROW_FUZZ_CHECK(DomSeqIs(dom, chat.seq));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "mid", chat.mid));
  SPARROW_FUZZ_CHECK(DomIntIs(dom, "id", chat.id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "fromId", chat.from_id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "fromDevice", chat.from_device));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "destId", chat.dest_id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "kind", ToString(chat.kind)));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "msgBody", chat.msg_body));
  SPARROW_FUZZ_CHECK(DomIntIs(dom, "ts", chat.ts));

  CheckRoundTrip(chat, EncodeChatDown);
  CheckWithSeq(chat, EncodeChatDown);
  CheckSplicedSeq(chat, payload, dom);
}

void CheckAck(const AckDown& ack, std::string_view payload) {
  SPARROW_FUZZ_CHECK(ack.seq <= kMaxSeq);
  SPARROW_FUZZ_CHECK(IsValidUserId(ack.from_id));
  SPARROW_FUZZ_CHECK(IsValidUserId(ack.dest_id));
  SPARROW_FUZZ_CHECK(IsChatId(ack.ack_msg_id));
  SPARROW_FUZZ_CHECK(IsValidDeviceId(ack.ack_device));
  SPARROW_FUZZ_CHECK(IsMid(ack.mid));

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "ack"));
  SPARROW_FUZZ_CHECK(DomSeqIs(dom, ack.seq));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "msgType", ToString(ack.msg_type)));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "fromId", ack.from_id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "destId", ack.dest_id));
  SPARROW_FUZZ_CHECK(DomIntIs(dom, "ackMsgId", ack.ack_msg_id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "ackDevice", ack.ack_device));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "mid", ack.mid));

  CheckRoundTrip(ack, EncodeAckDown);
  CheckWithSeq(ack, EncodeAckDown);
  CheckSplicedSeq(ack, payload, dom);
}

void CheckSynced(const Synced& synced, std::string_view payload) {
  SPARROW_FUZZ_CHECK(synced.upto <= kMaxSeq);
  SPARROW_FUZZ_CHECK(synced.last_id >= 0 && synced.last_id <= kMaxChatId);

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "synced"));
  SPARROW_FUZZ_CHECK(DomUintIs(dom, "upto", synced.upto));
  SPARROW_FUZZ_CHECK(DomIntIs(dom, "lastId", synced.last_id));

  CheckRoundTrip(synced, EncodeSynced);
  CheckSplicedSeq(synced, payload, dom);
}

void CheckError(const ErrorFrame& error, std::string_view payload) {
  if (error.id) SPARROW_FUZZ_CHECK(IsChatId(*error.id));
  if (error.expected) SPARROW_FUZZ_CHECK(IsChatId(*error.expected));
  if (error.mid) SPARROW_FUZZ_CHECK(IsMid(*error.mid));
  SPARROW_FUZZ_CHECK(IsValidUtf8(error.message));
  if (error.unknown_code) {
    SPARROW_FUZZ_CHECK(error.code == ErrorCode::kInternal);
    SPARROW_FUZZ_CHECK(!ParseErrorCode(*error.unknown_code));
  }

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "error"));
  SPARROW_FUZZ_CHECK(
      DomStringIs(dom, "code", error.unknown_code.value_or(std::string(ToString(error.code)))));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "message", error.message));
  if (error.id) {
    SPARROW_FUZZ_CHECK(DomIntIs(dom, "id", *error.id));
  } else {
    SPARROW_FUZZ_CHECK(!dom.contains("id"));
  }
  if (error.mid) {
    SPARROW_FUZZ_CHECK(DomStringIs(dom, "mid", *error.mid));
  } else {
    SPARROW_FUZZ_CHECK(!dom.contains("mid"));
  }
  if (error.expected) {
    SPARROW_FUZZ_CHECK(DomIntIs(dom, "expected", *error.expected));
  } else {
    SPARROW_FUZZ_CHECK(!dom.contains("expected"));
  }

  ErrorFrame as_sent = error;  // EncodeError writes a code this build knows
  as_sent.unknown_code.reset();
  CheckRoundTrip(as_sent, EncodeError);
  CheckSplicedSeq(error, payload, dom);
}

}  // namespace
}  // namespace sparrow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sparrow::fuzz;
  const std::string payload = ExpandPayload(AsText(data, size));
  const sparrow::protocol::DownFrame frame = sparrow::protocol::DecodeDown(payload);
  std::visit(
      [&payload](const auto& decoded) {
        using T = std::decay_t<decltype(decoded)>;
        if constexpr (std::is_same_v<T, sparrow::protocol::DecodeError>) {
          CheckDecodeError(decoded, payload.size());
        } else if constexpr (std::is_same_v<T, sparrow::protocol::ChatDown>) {
          CheckChat(decoded, payload);
        } else if constexpr (std::is_same_v<T, sparrow::protocol::AckDown>) {
          CheckAck(decoded, payload);
        } else if constexpr (std::is_same_v<T, sparrow::protocol::Synced>) {
          CheckSynced(decoded, payload);
        } else {
          CheckError(decoded, payload);
        }
      },
      frame);
  // WithSeq on arbitrary text: no crash, and text not starting with '{' comes back unchanged.
  const std::string spliced = sparrow::protocol::WithSeq(payload, 7);
  const auto first = payload.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || payload[first] != '{') SPARROW_FUZZ_CHECK(spliced == payload);
  return 0;
}
