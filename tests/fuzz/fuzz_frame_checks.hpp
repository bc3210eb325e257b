// Checks shared by the two frame targets (fuzz_decode_up.cpp, fuzz_decode_down.cpp): an
// independent DOM parse of a decoded payload, and the sanity of a DecodeError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.hpp"
#include "protocol/limits.hpp"
#include "protocol/utf8.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace sparrow::fuzz {

// The payload parsed by nlohmann's DOM parser, which shares no code with the codec's SAX field
// collector. Called only for payloads the codec decoded: they must be a JSON object nested at
// most kMaxJsonDepth deep.
inline nlohmann::json ParseDom(std::string_view payload) {
  nlohmann::json dom = nlohmann::json::parse(payload.begin(), payload.end(), nullptr,
                                             /*allow_exceptions=*/false);
  SPARROW_FUZZ_CHECK(dom.is_object());
  // Depth of the containers, without recursion: the object itself is depth 1. Scalars do not
  // count (the codec counts objects and arrays: a string inside the deepest allowed object is
  // fine; an earlier version of this check counted it and failed on valid input, found by
  // fuzz_decode_down after 8.9 million runs: crashes/decode_down/scalar-in-deepest-object).
  std::vector<std::pair<const nlohmann::json*, int>> stack{{&dom, 1}};
  while (!stack.empty()) {
    const auto [value, depth] = stack.back();
    stack.pop_back();
    if (value->is_structured()) {
      SPARROW_FUZZ_CHECK(depth <= protocol::kMaxJsonDepth);
      for (const auto& child : *value) stack.emplace_back(&child, depth + 1);
    }
  }
  return dom;
}

// The DOM's field `name`: present exactly once at the top level (the codec refuses duplicates
// of the fields a frame uses, so the DOM's last-wins rule cannot differ from it).
inline const nlohmann::json& DomField(const nlohmann::json& dom, const char* name) {
  const auto it = dom.find(name);
  SPARROW_FUZZ_CHECK(it != dom.end());
  return *it;
}

inline bool DomStringIs(const nlohmann::json& dom, const char* name, std::string_view value) {
  const auto& field = DomField(dom, name);
  return field.is_string() && field.get_ref<const std::string&>() == value;
}

inline bool DomIntIs(const nlohmann::json& dom, const char* name, std::int64_t value) {
  const auto& field = DomField(dom, name);
  if (field.is_number_unsigned()) {
    return value >= 0 && field.get<std::uint64_t>() == static_cast<std::uint64_t>(value);
  }
  return field.is_number_integer() && field.get<std::int64_t>() == value;
}

inline bool DomUintIs(const nlohmann::json& dom, const char* name, std::uint64_t value) {
  const auto& field = DomField(dom, name);
  if (field.is_number_unsigned()) return field.get<std::uint64_t>() == value;
  // "-0" is the integer zero.
  return field.is_number_integer() && value == 0 && field.get<std::int64_t>() == 0;
}

// `seq` of a server frame: absent when 0.
inline bool DomSeqIs(const nlohmann::json& dom, std::uint64_t seq) {
  if (seq == 0) return !dom.contains("seq");
  return DomUintIs(dom, "seq", seq);
}

inline bool IsChatId(std::int64_t id) { return id >= 1 && id <= protocol::kMaxChatId; }
inline bool IsMid(std::string_view mid) {
  return !mid.empty() && mid.size() <= protocol::kMaxMidBytes && protocol::IsValidUtf8(mid);
}
inline bool IsBody(std::string_view body) {
  return body.size() <= protocol::kMaxBodyBytes && protocol::IsValidUtf8(body);
}

// A refusal: one of the decoders' codes, a short printable-ASCII message (it must never quote
// the payload, which may hold invalid UTF-8), an id/mid only when valid. And the `error` frame
// that answers it must reach the client intact: it encodes and decodes back to itself.
inline void CheckDecodeError(const protocol::DecodeError& error, std::size_t payload_size) {
  using protocol::ErrorCode;
  SPARROW_FUZZ_CHECK(error.code == ErrorCode::kBadFrame || error.code == ErrorCode::kTooLarge ||
                     error.code == ErrorCode::kInternal);
  SPARROW_FUZZ_CHECK(!error.message.empty() && error.message.size() <= 200);
  for (const char c : error.message) SPARROW_FUZZ_CHECK(c >= 0x20 && c <= 0x7E);
  if (error.id) SPARROW_FUZZ_CHECK(IsChatId(*error.id));
  if (error.mid) SPARROW_FUZZ_CHECK(IsMid(*error.mid));
  if (payload_size > protocol::kMaxFrameBytes) {
    // Refused before a single byte is parsed.
    SPARROW_FUZZ_CHECK(error.code == ErrorCode::kTooLarge && !error.id && !error.mid);
  }

  const protocol::ErrorFrame answer = protocol::ToErrorFrame(error);
  const protocol::DownFrame decoded = protocol::DecodeDown(protocol::EncodeError(answer));
  const auto* frame = std::get_if<protocol::ErrorFrame>(&decoded);
  SPARROW_FUZZ_CHECK(frame != nullptr);
  SPARROW_FUZZ_CHECK(*frame == answer);
}

}  // namespace sparrow::fuzz
