// Fuzz target: protocol::DecodeUp, the decoder of every frame a device sends (im/up/...).
//
// Input: the payload, after fuzz::ExpandPayload (0xFE k stands for (k+1) KiB of 'A', so that
// small inputs reach the size limits). Properties checked, beyond "no crash, no hang, no
// sanitizer report" (codec.hpp: never throws, bounded work):
//   - a decoded frame obeys the rules of frames.hpp, and every field agrees with an independent
//     DOM parse of the same bytes (nlohmann::json), which must find a JSON object at most
//     kMaxJsonDepth deep;
//   - it round-trips: the client encoder's output decodes to an equal frame, and encoding that
//     again gives the same bytes;
//   - a refusal is a sane DecodeError whose answering `error` frame round-trips to the client.
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

// Decoding `encoded` gives back `frame`, and encoding it again gives the same bytes.
template <typename Frame, typename Encode>
void CheckRoundTrip(const Frame& frame, Encode encode) {
  const std::string encoded = encode(frame);
  const UpFrame again = DecodeUp(encoded);
  const auto* decoded = std::get_if<Frame>(&again);
  SPARROW_FUZZ_CHECK(decoded != nullptr);
  SPARROW_FUZZ_CHECK(*decoded == frame);
  SPARROW_FUZZ_CHECK(encode(*decoded) == encoded);
}

void CheckChat(const ChatUp& chat, std::string_view payload) {
  SPARROW_FUZZ_CHECK(IsChatId(chat.id));
  SPARROW_FUZZ_CHECK(IsValidUserId(chat.dest_id));
  SPARROW_FUZZ_CHECK(IsBody(chat.msg_body));
  if (chat.from_id) SPARROW_FUZZ_CHECK(IsValidUtf8(*chat.from_id));

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "chat"));
  SPARROW_FUZZ_CHECK(DomIntIs(dom, "id", chat.id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "destId", chat.dest_id));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "kind", ToString(chat.kind)));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "msgBody", chat.msg_body));
  if (chat.from_id) {
    SPARROW_FUZZ_CHECK(DomStringIs(dom, "fromId", *chat.from_id));
  } else {
    SPARROW_FUZZ_CHECK(!dom.contains("fromId"));
  }
  CheckRoundTrip(chat, EncodeChatUp);
}

void CheckAck(const AckUp& ack, std::string_view payload) {
  SPARROW_FUZZ_CHECK(ack.msg_type == AckType::kDelivered || ack.msg_type == AckType::kRead);
  SPARROW_FUZZ_CHECK(IsMid(ack.mid));

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "ack"));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "msgType", ToString(ack.msg_type)));
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "mid", ack.mid));
  CheckRoundTrip(ack, EncodeAckUp);
}

void CheckSync(const SyncUp& sync, std::string_view payload) {
  SPARROW_FUZZ_CHECK(sync.after <= kMaxSeq);

  const auto dom = ParseDom(payload);
  SPARROW_FUZZ_CHECK(DomStringIs(dom, "type", "sync"));
  SPARROW_FUZZ_CHECK(DomUintIs(dom, "after", sync.after));
  CheckRoundTrip(sync, EncodeSyncUp);
}

}  // namespace
}  // namespace sparrow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sparrow::fuzz;
  const std::string payload = ExpandPayload(AsText(data, size));
  const sparrow::protocol::UpFrame frame = sparrow::protocol::DecodeUp(payload);
  std::visit(
      [&payload](const auto& decoded) {
        using T = std::decay_t<decltype(decoded)>;
        if constexpr (std::is_same_v<T, sparrow::protocol::DecodeError>) {
          CheckDecodeError(decoded, payload.size());
        } else if constexpr (std::is_same_v<T, sparrow::protocol::ChatUp>) {
          CheckChat(decoded, payload);
        } else if constexpr (std::is_same_v<T, sparrow::protocol::AckUp>) {
          CheckAck(decoded, payload);
        } else {
          CheckSync(decoded, payload);
        }
      },
      frame);
  return 0;
}
