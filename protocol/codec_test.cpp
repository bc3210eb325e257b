#include "protocol/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/limits.hpp"

namespace sparrow::protocol {
namespace {

// ---- helpers ----

std::string Show(std::string_view payload) {
  return std::string(payload.substr(0, 120)) + (payload.size() > 120 ? "..." : "");
}

// The DecodeError of DecodeUp(payload); a test failure (and nullopt) if it decoded.
std::optional<DecodeError> UpError(std::string_view payload) {
  UpFrame frame = DecodeUp(payload);
  if (auto* error = std::get_if<DecodeError>(&frame)) return *error;
  ADD_FAILURE() << "decoded without error: " << Show(payload);
  return std::nullopt;
}

std::optional<ErrorCode> UpCode(std::string_view payload) {
  auto error = UpError(payload);
  return error ? std::optional(error->code) : std::nullopt;
}

std::optional<DecodeError> DownError(std::string_view payload) {
  DownFrame frame = DecodeDown(payload);
  if (auto* error = std::get_if<DecodeError>(&frame)) return *error;
  ADD_FAILURE() << "decoded without error: " << Show(payload);
  return std::nullopt;
}

std::optional<ErrorCode> DownCode(std::string_view payload) {
  auto error = DownError(payload);
  return error ? std::optional(error->code) : std::nullopt;
}

// The frame of type T that `frame` must hold; a test failure (and a default T) otherwise.
template <typename T, typename Variant>
T Expect(Variant frame, std::string_view payload) {
  if (auto* value = std::get_if<T>(&frame)) return std::move(*value);
  if (auto* error = std::get_if<DecodeError>(&frame)) {
    ADD_FAILURE() << "DecodeError " << error->code << " (" << error->message
                  << ") for: " << Show(payload);
  } else {
    ADD_FAILURE() << "decoded to another frame type: " << Show(payload);
  }
  return T{};
}

ChatUp UpChat(std::string_view payload) { return Expect<ChatUp>(DecodeUp(payload), payload); }
AckUp UpAck(std::string_view payload) { return Expect<AckUp>(DecodeUp(payload), payload); }
SyncUp UpSync(std::string_view payload) { return Expect<SyncUp>(DecodeUp(payload), payload); }

// A chat frame whose `id` field is written as `id_json`.
std::string ChatWithId(std::string_view id_json) {
  return R"({"type":"chat","id":)" + std::string(id_json) +
         R"(,"destId":"bob","kind":"text","msgBody":"hi"})";
}

// A chat frame (id 7) whose msgBody is the JSON string literal `body_json`.
std::string ChatWithBodyJson(std::string_view body_json) {
  return R"({"type":"chat","id":7,"destId":"bob","kind":"text","msgBody":)" +
         std::string(body_json) + "}";
}

std::string ChatWithBody(std::string_view body) {
  return ChatWithBodyJson("\"" + std::string(body) + "\"");
}

constexpr std::string_view kValidChat =
    R"({"type":"chat","id":42,"destId":"bob","kind":"text","msgBody":"aGVsbG8="})";
constexpr std::string_view kEuro = "\xe2\x82\xac";  // 3 bytes of UTF-8
constexpr std::size_t kTenMebibytes = std::size_t{10} * 1024 * 1024;

// ---- valid client frames ----

TEST(DecodeUpTest, DecodesTheChatOfTheProtocolExample) {
  const ChatUp chat = UpChat(kValidChat);
  EXPECT_EQ(chat, (ChatUp{.id = 42,
                          .dest_id = "bob",
                          .kind = ChatKind::kText,
                          .msg_body = "aGVsbG8=",
                          .from_id = std::nullopt}));
}

TEST(DecodeUpTest, DecodesFileChatWithFromIdInAnyFieldOrder) {
  const ChatUp chat = UpChat(
      R"({"fromId":"alice","msgBody":"ZGVzYw==","kind":"file","destId":"bob","id":1,"type":"chat"})");
  EXPECT_EQ(chat.kind, ChatKind::kFile);
  EXPECT_EQ(chat.from_id, "alice");
  EXPECT_EQ(chat.id, 1);
}

TEST(DecodeUpTest, KeepsFromIdThatDiffersFromAnyUserForTheBridgeToRefuse) {
  // spoofed_sender is the bridge's decision (it knows the topic); the codec only needs a string.
  EXPECT_EQ(UpChat(R"({"type":"chat","id":1,"destId":"bob","kind":"text","msgBody":"",)"
                   R"("fromId":"NOT A USER"})")
                .from_id,
            "NOT A USER");
}

TEST(DecodeUpTest, AcceptsEmptyBodyAndWhitespaceAroundTokens) {
  const ChatUp chat = UpChat(
      " \r\n\t{ \"type\" : \"chat\" , \"id\" : 3 , \"destId\" : \"bob\" , \"kind\" : "
      "\"text\" , \"msgBody\" : \"\" } \n");
  EXPECT_EQ(chat.id, 3);
  EXPECT_EQ(chat.msg_body, "");
}

TEST(DecodeUpTest, IgnoresUnknownFieldsOfAnyType) {
  const ChatUp chat = UpChat(
      R"({"type":"chat","id":42,"destId":"bob","kind":"text","msgBody":"x","extra":{"a":[1,{"b":null}]},)"
      R"("flag":true,"n":1.5,"list":[],"nothing":null,"seq":"ignored in an up chat"})");
  EXPECT_EQ(chat.id, 42);
  EXPECT_EQ(chat.msg_body, "x");
}

TEST(DecodeUpTest, UnescapesBodyIncludingSurrogatePairs) {
  const ChatUp chat = UpChat(ChatWithBodyJson(R"("a\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\udc26")"));
  EXPECT_EQ(chat.msg_body, std::string("a\"\\/\b\f\n\r\t\0\xc3\xa9\xf0\x9f\x90\xa6", 16));
}

TEST(DecodeUpTest, DecodesAcksAndSyncs) {
  EXPECT_EQ(UpAck(R"({"type":"ack","msgType":"DELIVERED","mid":"01JDXYZ"})"),
            (AckUp{.msg_type = AckType::kDelivered, .mid = "01JDXYZ"}));
  EXPECT_EQ(UpAck(R"({"type":"ack","msgType":"READ","mid":"m"})").msg_type, AckType::kRead);
  EXPECT_EQ(UpSync(R"({"type":"sync","after":17})").after, 17u);
  EXPECT_EQ(UpSync(R"({"type":"sync","after":0})").after, 0u);
  EXPECT_EQ(UpSync(R"({"type":"sync","after":9223372036854775807})").after, kMaxSeq);
}

// ---- size limits ----

TEST(DecodeUpTest, AcceptsBodyOfExactlyMaxBodyBytesOfMultiByteUtf8) {
  std::string body;
  for (int i = 0; i < 21845; ++i) body += kEuro;  // 65,535 bytes
  body += 'a';
  ASSERT_EQ(body.size(), kMaxBodyBytes);
  const ChatUp chat = UpChat(ChatWithBody(body));
  EXPECT_EQ(chat.msg_body, body);
}

TEST(DecodeUpTest, RejectsBodyOfMaxBodyBytesPlusOneAsTooLargeWithTheId) {
  std::string body;
  for (int i = 0; i < 21845; ++i) body += kEuro;
  body += "ab";
  ASSERT_EQ(body.size(), kMaxBodyBytes + 1);
  const auto error = UpError(ChatWithBody(body));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kTooLarge);
  EXPECT_EQ(error->id, 7);
}

TEST(DecodeUpTest, MeasuresBodyInUnescapedBytesNotWireBytes) {
  // 16,384 escaped euro signs: 98,304 bytes on the wire, 49,152 bytes of body.
  std::string escaped = "\"";
  for (int i = 0; i < 16384; ++i) escaped += "\\u20ac";
  escaped += '"';
  EXPECT_EQ(UpChat(ChatWithBodyJson(escaped)).msg_body.size(), 49152u);
}

TEST(DecodeUpTest, AcceptsLargestValidFrameWithEveryBodyByteEscaped) {
  // The worst legal encoding of a maximal body: every byte a control character as \u00XX.
  std::string escaped = "\"";
  for (std::size_t i = 0; i < kMaxBodyBytes; ++i) escaped += "\\u0001";
  escaped += '"';
  const std::string payload = ChatWithBodyJson(escaped);
  ASSERT_LT(payload.size(), kMaxFrameBytes);
  EXPECT_EQ(UpChat(payload).msg_body, std::string(kMaxBodyBytes, '\x01'));
}

TEST(DecodeUpTest, RejectsPayloadOverMaxFrameBytesAsTooLarge) {
  std::string payload(kMaxFrameBytes + 1, ' ');
  payload.replace(0, kValidChat.size(), kValidChat);
  const auto error = UpError(payload);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kTooLarge);
  EXPECT_FALSE(error->id.has_value());  // refused before parsing: nothing was read
}

TEST(DecodeUpTest, AcceptsPayloadOfExactlyMaxFrameBytes) {
  std::string payload(kValidChat);
  payload.append(kMaxFrameBytes - payload.size(), ' ');
  EXPECT_EQ(UpChat(payload).id, 42);
}

TEST(DecodeUpTest, RejectsTenMebibytePayloadAsTooLarge) {
  const std::string body(kTenMebibytes, 'A');
  EXPECT_EQ(UpCode(ChatWithBody(body)), ErrorCode::kTooLarge);
  EXPECT_EQ(UpCode(std::string(kTenMebibytes, '[')), ErrorCode::kTooLarge);
}

// ---- nesting ----

TEST(DecodeUpTest, RejectsHundredThousandNestedArraysAsBadFrame) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(UpCode(deep), ErrorCode::kBadFrame);
  const std::string inside = R"({"type":"chat","x":)" + deep + "}";
  EXPECT_EQ(UpCode(inside), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, RejectsEightyThousandNestedObjectsAsBadFrame) {
  std::string deep;
  for (int i = 0; i < 80000; ++i) deep += R"({"a":)";
  deep += "1";
  deep += std::string(80000, '}');
  ASSERT_LE(deep.size(), kMaxFrameBytes);  // reaches the parser
  EXPECT_EQ(UpCode(deep), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, RejectsUnterminatedDeepNestingWithinTheFrameLimit) {
  EXPECT_EQ(UpCode(R"({"x":)" + std::string(kMaxFrameBytes - 5, '[')), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, AcceptsUnknownFieldNestedToExactlyMaxDepth) {
  const int inner = kMaxJsonDepth - 1;  // the frame's own object is depth 1
  std::string payload(kValidChat);
  payload.pop_back();
  payload += R"(,"x":)" + std::string(inner, '[') + std::string(inner, ']') + "}";
  EXPECT_EQ(UpChat(payload).id, 42);

  std::string too_deep(kValidChat);
  too_deep.pop_back();
  too_deep += R"(,"x":)" + std::string(inner + 1, '[') + std::string(inner + 1, ']') + "}";
  const auto error = UpError(too_deep);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_EQ(error->id, 42);  // read before the parser stopped
}

// ---- malformed JSON and non-objects ----

TEST(DecodeUpTest, RejectsMalformedJsonAsBadFrame) {
  const std::string_view cases[] = {
      "",
      " ",
      "{",
      "}",
      R"({"type":"chat")",
      R"({"type":"chat",})",
      R"({"type":"chat" "id":1})",
      R"({"type":"chat","id":})",
      R"({"type":"chat","id":1,})",
      R"({type:"chat"})",
      R"({'type':'chat'})",
      R"({"type":"chat","id":01})",
      R"({"type":"chat","id":+1})",
      R"({"type":"chat","id":0x10})",
      R"({"type":"chat","id":NaN})",
      R"({"type":"chat","id":Infinity})",
      R"({"type":"chat","id":1e400})",
      R"({"type":"sync","after":17}{})",
      R"({"type":"sync","after":17} x)",
      R"(/* comment */ {"type":"sync","after":17})",
      R"({"type":"sync","after":17} // comment)",
      "{\"type\":\"chat\",\"msgBody\":\"raw\nnewline\"}",
      "{\"type\":\"chat\",\"msgBody\":\"raw\ttab\"}",
      R"({"type":"chat","msgBody":"bad escape \x41"})",
      R"({"type":"chat","msgBody":"bad escape \u12"})",
      R"({"type":"chat","msgBody":"unterminated)",
      std::string_view("{\"type\":\"sync\",\"after\":1}\0", 26),
      std::string_view("\0", 1),
  };
  for (std::string_view payload : cases) {
    EXPECT_EQ(UpCode(payload), ErrorCode::kBadFrame) << Show(payload);
  }
}

TEST(DecodeUpTest, RejectsJsonThatIsNotAnObjectAsBadFrame) {
  for (std::string_view payload : {"[]", R"([{"type":"sync","after":1}])", "42", "-1.5",
                                   R"("chat")", "null", "true", "false"}) {
    EXPECT_EQ(UpCode(payload), ErrorCode::kBadFrame) << payload;
  }
}

TEST(DecodeUpTest, RejectsMissingUnknownOrNonStringTypeAsBadFrame) {
  for (std::string_view payload :
       {R"({})", R"({"id":1,"destId":"bob","kind":"text","msgBody":"x"})", R"({"type":1})",
        R"({"type":null})", R"({"type":true})", R"({"type":["chat"]})", R"({"type":{"a":"chat"}})",
        R"({"type":"Chat"})", R"({"type":"CHAT"})", R"({"type":"chat "})", R"({"type":""})",
        R"({"type":"synced","upto":1,"lastId":1})", R"({"type":"error","code":"internal"})",
        R"({"Type":"sync","after":1})"}) {
    EXPECT_EQ(UpCode(payload), ErrorCode::kBadFrame) << payload;
  }
}

// ---- invalid UTF-8 ----

TEST(DecodeUpTest, RejectsInvalidUtf8InBodyAsBadFrame) {
  for (std::string_view bad : {"\xff", "\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                               "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "ok\xe2\x82"}) {
    const auto error = UpError(ChatWithBody(bad));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kBadFrame);
    EXPECT_EQ(error->id, 7);  // the id came before the body
  }
}

TEST(DecodeUpTest, RejectsInvalidUtf8InKeysAndOutsideStringsAsBadFrame) {
  EXPECT_EQ(UpCode("{\"type\":\"sync\",\"aft\xff\":1,\"after\":1}"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode("{\"ty\xc0\xafpe\":\"sync\",\"after\":1}"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode("{\"type\":\"sync\",\"after\":1}\xff"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode("\xef\xbb\xbf\xff{}"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode("{\"type\":\"sync\",\xc3\xa9:1}"), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, RejectsLoneSurrogateEscapesAsBadFrame) {
  for (std::string_view body :
       {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\ud800x")", R"("\udc00\ud800")"}) {
    EXPECT_EQ(UpCode(ChatWithBodyJson(body)), ErrorCode::kBadFrame) << body;
  }
}

TEST(DecodeUpTest, RejectsRawNulBytesAnywhereAsBadFrame) {
  // nlohmann alone would stop at the NUL and accept the frame before it.
  EXPECT_EQ(UpCode(std::string_view("{\"type\":\"sync\",\"after\":1}\0junk", 30)),
            ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode(std::string_view("{\"type\":\"sync\",\0\"after\":1}", 26)),
            ErrorCode::kBadFrame);
  const auto error = UpError(ChatWithBody(std::string_view("a\0b", 3)));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_EQ(error->id, 7);
}

TEST(DecodeUpTest, SaysWhenThePayloadIsNotUtf8) {
  const auto error = UpError(ChatWithBody("\xff"));
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("UTF-8"), std::string::npos) << error->message;
}

// ---- chat ids at the bounds ----

TEST(DecodeUpTest, AcceptsChatIdOne) { EXPECT_EQ(UpChat(ChatWithId("1")).id, 1); }

TEST(DecodeUpTest, AcceptsChatIdTwoToThe53MinusOne) {
  EXPECT_EQ(UpChat(ChatWithId("9007199254740991")).id, kMaxChatId);
}

TEST(DecodeUpTest, RejectsChatIdAboveTwoToThe53) {
  for (std::string_view id :
       {"9007199254740992", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "100000000000000000000000"}) {
    const auto error = UpError(ChatWithId(id));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kBadFrame) << id;
    EXPECT_FALSE(error->id.has_value()) << id;
  }
}

TEST(DecodeUpTest, RejectsChatIdZeroAndNegatives) {
  for (std::string_view id : {"0", "-0", "-1", "-9007199254740991", "-9223372036854775808"}) {
    EXPECT_EQ(UpCode(ChatWithId(id)), ErrorCode::kBadFrame) << id;
  }
}

TEST(DecodeUpTest, RejectsChatIdThatIsNotAJsonInteger) {
  for (std::string_view id :
       {"1.5", "42.0", "1e3", "1E3", "4.2e1", "\"42\"", "true", "null", "[42]", "{\"v\":42}"}) {
    const auto error = UpError(ChatWithId(id));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kBadFrame) << id;
    EXPECT_FALSE(error->id.has_value()) << id;
  }
}

TEST(DecodeUpTest, RejectsChatWithoutId) {
  EXPECT_EQ(UpCode(R"({"type":"chat","destId":"bob","kind":"text","msgBody":"x"})"),
            ErrorCode::kBadFrame);
}

// ---- other chat fields ----

TEST(DecodeUpTest, RejectsMissingOrMistypedChatFieldsAsBadFrameWithTheId) {
  const std::string_view cases[] = {
      R"({"type":"chat","id":5,"kind":"text","msgBody":"x"})",                   // no destId
      R"({"type":"chat","id":5,"destId":"Bob","kind":"text","msgBody":"x"})",    // invalid
      R"({"type":"chat","id":5,"destId":"bo","kind":"text","msgBody":"x"})",     // too short
      R"({"type":"chat","id":5,"destId":"bob/x","kind":"text","msgBody":"x"})",  // a slash
      R"({"type":"chat","id":5,"destId":7,"kind":"text","msgBody":"x"})",        // number
      R"({"type":"chat","id":5,"destId":null,"kind":"text","msgBody":"x"})",     // null
      R"({"type":"chat","id":5,"destId":"bob","msgBody":"x"})",                  // no kind
      R"({"type":"chat","id":5,"destId":"bob","kind":"TEXT","msgBody":"x"})",    // case
      R"({"type":"chat","id":5,"destId":"bob","kind":"image","msgBody":"x"})",   // unknown
      R"({"type":"chat","id":5,"destId":"bob","kind":0,"msgBody":"x"})",         // number
      R"({"type":"chat","id":5,"destId":"bob","kind":"text"})",                  // no body
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":1})",      // number
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":null})",   // null
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":["x"]})",  // array
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":{}})",     // object
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":"x","fromId":null})",
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":"x","fromId":1})",
      R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":"x","fromId":["a"]})",
  };
  for (std::string_view payload : cases) {
    const auto error = UpError(payload);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kBadFrame) << payload;
    EXPECT_EQ(error->id, 5) << payload;
    EXPECT_FALSE(error->mid.has_value()) << payload;
  }
}

TEST(DecodeUpTest, PrefersBadFrameOverTooLargeWhenBothApply) {
  const std::string payload = R"({"type":"chat","id":5,"destId":"B","kind":"text","msgBody":")" +
                              std::string(kMaxBodyBytes + 1, 'a') + "\"}";
  EXPECT_EQ(UpCode(payload), ErrorCode::kBadFrame);
}

// ---- duplicate keys ----

TEST(DecodeUpTest, RejectsDuplicateTypeAsBadFrame) {
  EXPECT_EQ(UpCode(R"({"type":"sync","type":"sync","after":1})"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode(R"({"type":"ack","msgType":"READ","mid":"m","type":"sync","after":1})"),
            ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, RejectsDuplicateFieldOfTheFrameAsBadFrame) {
  EXPECT_EQ(UpCode(R"({"type":"chat","id":5,"destId":"bob","destId":"eve","kind":"text",)"
                   R"("msgBody":"x"})"),
            ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode(R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":"x",)"
                   R"("fromId":"alice","fromId":"eve"})"),
            ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode(R"({"type":"sync","after":1,"after":2})"), ErrorCode::kBadFrame);
  EXPECT_EQ(UpCode(R"({"type":"ack","msgType":"READ","mid":"a","mid":"b"})"), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, DoesNotNameAnAmbiguousIdInTheError) {
  const auto error =
      UpError(R"({"type":"chat","id":5,"id":6,"destId":"bob","kind":"text","msgBody":"x"})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_FALSE(error->id.has_value());
}

TEST(DecodeUpTest, IgnoresDuplicatesOfFieldsTheFrameDoesNotUse) {
  EXPECT_EQ(UpSync(R"({"type":"sync","after":3,"x":1,"x":2,"mid":"a","mid":"b"})").after, 3u);
  EXPECT_EQ(UpChat(R"({"type":"chat","id":5,"destId":"bob","kind":"text","msgBody":"x",)"
                   R"("after":1,"after":2,"n":{"a":1,"a":2}})")
                .id,
            5);
}

// ---- acks ----

TEST(DecodeUpTest, RejectsSentFromAClientAsBadFrame) {
  const auto error = UpError(R"({"type":"ack","msgType":"SENT","mid":"01JD"})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_EQ(error->mid, "01JD");  // the error names the ack it answers
  EXPECT_FALSE(error->id.has_value());
}

TEST(DecodeUpTest, RejectsBadAckFieldsAsBadFrame) {
  for (std::string_view payload : {
           R"({"type":"ack","mid":"m"})",
           R"({"type":"ack","msgType":"delivered","mid":"m"})",
           R"({"type":"ack","msgType":"SEEN","mid":"m"})",
           R"({"type":"ack","msgType":1,"mid":"m"})",
           R"({"type":"ack","msgType":"READ"})",
           R"({"type":"ack","msgType":"READ","mid":""})",
           R"({"type":"ack","msgType":"READ","mid":42})",
           R"({"type":"ack","msgType":"READ","mid":null})",
           R"({"type":"ack","msgType":"READ","mid":["m"]})",
       }) {
    EXPECT_EQ(UpCode(payload), ErrorCode::kBadFrame) << payload;
  }
}

TEST(DecodeUpTest, AcceptsMidOfMaxMidBytesAndRejectsOneMore) {
  const std::string mid(kMaxMidBytes, 'M');
  EXPECT_EQ(UpAck(R"({"type":"ack","msgType":"READ","mid":")" + mid + "\"}").mid, mid);
  const auto error = UpError(R"({"type":"ack","msgType":"READ","mid":")" + mid + "M\"}");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_FALSE(error->mid.has_value());  // not a readable mid
}

TEST(DecodeUpTest, NamesTheMidButNotAnIdInAckErrors) {
  const auto error = UpError(R"({"type":"ack","id":9,"msgType":"NOPE","mid":"m1"})");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->mid, "m1");
  EXPECT_FALSE(error->id.has_value());
}

// ---- syncs ----

TEST(DecodeUpTest, RejectsSyncAfterOutsideZeroToTwoToThe63MinusOne) {
  for (std::string_view after : {"-1", "9223372036854775808", "18446744073709551615", "1.0", "1e2",
                                 "\"17\"", "null", "true", "[]"}) {
    EXPECT_EQ(UpCode(R"({"type":"sync","after":)" + std::string(after) + "}"), ErrorCode::kBadFrame)
        << after;
  }
  EXPECT_EQ(UpCode(R"({"type":"sync"})"), ErrorCode::kBadFrame);
}

TEST(DecodeUpTest, AcceptsSyncAfterMinusZeroAsZero) {
  EXPECT_EQ(UpSync(R"({"type":"sync","after":-0})").after, 0u);
}

TEST(DecodeUpTest, NamesNeitherIdNorMidInSyncErrors) {
  const auto error = UpError(R"({"type":"sync","id":4,"mid":"m","after":-1})");
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->id.has_value());
  EXPECT_FALSE(error->mid.has_value());
}

// ---- error identification when the type is unknown or comes late ----

TEST(DecodeUpTest, NamesAnIdReadBeforeTheTypeWhenParsingStops) {
  const auto error = UpError("{\"id\":42,\"msgBody\":\"\xff\",\"type\":\"chat\"}");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::kBadFrame);
  EXPECT_EQ(error->id, 42);
}

TEST(DecodeUpTest, NamesNothingForAnUnknownType) {
  const auto error = UpError(R"({"type":"chat2","id":42,"mid":"m"})");
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->id.has_value());
  EXPECT_FALSE(error->mid.has_value());
}

// ---- robustness ----

TEST(DecodeUpTest, RejectsEveryTruncationOfAValidFrame) {
  for (std::size_t n = 0; n < kValidChat.size(); ++n) {
    EXPECT_EQ(UpCode(kValidChat.substr(0, n)), ErrorCode::kBadFrame) << n;
  }
}

TEST(DecodeUpTest, SurvivesRandomMutationsOfValidFrames) {
  // Not a fuzzer (tests/fuzz has that), but a deterministic smoke test that ASan/UBSan runs.
  const std::string seeds[] = {
      std::string(kValidChat),
      R"({"type":"ack","msgType":"READ","mid":"01JDXYZ"})",
      R"({"type":"sync","after":17,"x":[1,{"y":"\u00e9"}]})",
      EncodeChatDown(ChatDown{.seq = 18,
                              .mid = "m",
                              .id = 42,
                              .from_id = "alice",
                              .from_device = "phone",
                              .dest_id = "bob",
                              .kind = ChatKind::kText,
                              .msg_body = "b\xc3\xa9",
                              .ts = 1}),
  };
  std::mt19937 rng(12345);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string payload = seeds[i % std::size(seeds)];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !payload.empty(); ++e) {
      const std::size_t at = rng() % payload.size();
      switch (rng() % 3) {
        case 0:
          payload[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          payload.erase(at, 1);
          break;
        default:
          payload.insert(at, 1, "{}[]\",:\\-0e.u"[rng() % 13]);
      }
    }
    const UpFrame up = DecodeUp(payload);
    const DownFrame down = DecodeDown(payload);
    decoded += std::holds_alternative<DecodeError>(up) ? 0 : 1;
    decoded += std::holds_alternative<DecodeError>(down) ? 0 : 1;
  }
  EXPECT_GT(decoded, 0);  // some mutations (in bodies) stay valid
}

// ---- client encoders ----

TEST(EncodeUpTest, ChatRoundTripsWithAndWithoutFromId) {
  ChatUp chat{.id = kMaxChatId,
              .dest_id = "bob",
              .kind = ChatKind::kFile,
              .msg_body = std::string("q\"b\\s\x01\n\xc3\xa9\0", 10),
              .from_id = std::nullopt};
  std::string json = EncodeChatUp(chat);
  EXPECT_EQ(UpChat(json), chat);
  EXPECT_EQ(json.find("fromId"), std::string::npos);
  chat.from_id = "alice";
  json = EncodeChatUp(chat);
  EXPECT_EQ(UpChat(json), chat);
}

TEST(EncodeUpTest, ChatMatchesTheProtocolExample) {
  EXPECT_EQ(EncodeChatUp(ChatUp{.id = 42,
                                .dest_id = "bob",
                                .kind = ChatKind::kText,
                                .msg_body = "...",
                                .from_id = std::nullopt}),
            R"({"type":"chat","id":42,"destId":"bob","kind":"text","msgBody":"..."})");
}

TEST(EncodeUpTest, AckAndSyncRoundTrip) {
  const AckUp ack{.msg_type = AckType::kRead, .mid = "01JDXYZ"};
  EXPECT_EQ(EncodeAckUp(ack), R"({"type":"ack","msgType":"READ","mid":"01JDXYZ"})");
  EXPECT_EQ(UpAck(EncodeAckUp(ack)), ack);
  EXPECT_EQ(EncodeSyncUp(SyncUp{.after = 17}), R"({"type":"sync","after":17})");
  EXPECT_EQ(UpSync(EncodeSyncUp(SyncUp{.after = kMaxSeq})).after, kMaxSeq);
}

TEST(EncodeUpTest, MaximalBodyEncodesWithinTheFrameLimit) {
  ChatUp chat{.id = kMaxChatId,
              .dest_id = std::string(32, 'a'),
              .kind = ChatKind::kText,
              .msg_body = std::string(kMaxBodyBytes, '\x1f'),  // worst case: all \u001f
              .from_id = std::string(32, 'a')};
  const std::string json = EncodeChatUp(chat);
  EXPECT_LE(json.size(), kMaxFrameBytes);
  EXPECT_EQ(UpChat(json), chat);
}

// ---- server encoders and DecodeDown ----

ChatDown SampleChatDown() {
  return ChatDown{.seq = 18,
                  .mid = "01JDXYZABCDEFGHJKMNPQRSTVW",
                  .id = 42,
                  .from_id = "alice",
                  .from_device = "phone",
                  .dest_id = "bob",
                  .kind = ChatKind::kText,
                  .msg_body = "aGVsbG8=",
                  .ts = 1764430000000};
}

AckDown SampleAckDown() {
  return AckDown{.seq = 9,
                 .msg_type = AckType::kRead,
                 .from_id = "bob",
                 .dest_id = "alice",
                 .ack_msg_id = 42,
                 .ack_device = "phone",
                 .mid = "01JDXYZABCDEFGHJKMNPQRSTVW"};
}

TEST(EncodeDownTest, ChatHasTheProtocolsFieldsWithSeqFirst) {
  EXPECT_EQ(EncodeChatDown(SampleChatDown()),
            R"({"seq":18,"type":"chat","mid":"01JDXYZABCDEFGHJKMNPQRSTVW","id":42,)"
            R"("fromId":"alice","fromDevice":"phone","destId":"bob","kind":"text",)"
            R"("msgBody":"aGVsbG8=","ts":1764430000000})");
}

TEST(EncodeDownTest, OmitsSeqWhenZero) {
  ChatDown chat = SampleChatDown();
  chat.seq = 0;
  const std::string json = EncodeChatDown(chat);
  EXPECT_EQ(json.rfind(R"({"type":"chat",)", 0), 0u) << json;
  EXPECT_EQ(json.find("seq"), std::string::npos);
  AckDown sent = SampleAckDown();
  sent.seq = 0;
  sent.msg_type = AckType::kSent;
  EXPECT_EQ(EncodeAckDown(sent),
            R"({"type":"ack","msgType":"SENT","fromId":"bob","destId":"alice","ackMsgId":42,)"
            R"("ackDevice":"phone","mid":"01JDXYZABCDEFGHJKMNPQRSTVW"})");
}

TEST(EncodeDownTest, EveryServerFrameRoundTrips) {
  for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{1}, kMaxSeq}) {
    ChatDown chat = SampleChatDown();
    chat.seq = seq;
    chat.kind = ChatKind::kFile;
    chat.msg_body = std::string("\"\\\x00\x1f\x7f/\xf0\x9f\x90\xa6", 10);
    chat.ts = -5;
    EXPECT_EQ(Expect<ChatDown>(DecodeDown(EncodeChatDown(chat)), "chat"), chat);

    AckDown ack = SampleAckDown();
    ack.seq = seq;
    for (AckType type : {AckType::kSent, AckType::kDelivered, AckType::kRead}) {
      ack.msg_type = type;
      EXPECT_EQ(Expect<AckDown>(DecodeDown(EncodeAckDown(ack)), "ack"), ack);
    }
  }
  for (const Synced& synced :
       {Synced{.upto = 0, .last_id = 0}, Synced{.upto = kMaxSeq, .last_id = kMaxChatId}}) {
    EXPECT_EQ(Expect<Synced>(DecodeDown(EncodeSynced(synced)), "synced"), synced);
  }
  EXPECT_EQ(EncodeSynced(Synced{.upto = 31, .last_id = 41}),
            R"({"type":"synced","upto":31,"lastId":41})");
}

TEST(EncodeDownTest, ErrorWritesOnlyTheFieldsItHasAndRoundTrips) {
  const ErrorFrame bare{.id = std::nullopt,
                        .code = ErrorCode::kBadFrame,
                        .message = "frame is not a JSON object",
                        .mid = std::nullopt,
                        .expected = std::nullopt};
  EXPECT_EQ(EncodeError(bare),
            R"({"type":"error","code":"bad_frame","message":"frame is not a JSON object"})");
  EXPECT_EQ(Expect<ErrorFrame>(DecodeDown(EncodeError(bare)), "error"), bare);

  const ErrorFrame out_of_order{.id = 44,
                                .code = ErrorCode::kOutOfOrder,
                                .message = "waiting for \"43\"\n",
                                .mid = std::nullopt,
                                .expected = 43};
  EXPECT_EQ(EncodeError(out_of_order),
            R"({"type":"error","id":44,"code":"out_of_order","message":"waiting for \"43\"\u000a",)"
            R"("expected":43})");
  EXPECT_EQ(Expect<ErrorFrame>(DecodeDown(EncodeError(out_of_order)), "error"), out_of_order);

  const ErrorFrame unknown{.id = std::nullopt,
                           .code = ErrorCode::kUnknownMessage,
                           .message = "",
                           .mid = "01JD",
                           .expected = std::nullopt};
  EXPECT_EQ(Expect<ErrorFrame>(DecodeDown(EncodeError(unknown)), "error"), unknown);
}

TEST(EncodeDownTest, EveryErrorCodeRoundTrips) {
  for (ErrorCode code : {ErrorCode::kBadFrame, ErrorCode::kTooLarge, ErrorCode::kNotFriends,
                         ErrorCode::kSpoofedSender, ErrorCode::kUnknownMessage,
                         ErrorCode::kOutOfOrder, ErrorCode::kRateLimited, ErrorCode::kInternal}) {
    const ErrorFrame error{.id = 1, .code = code, .message = "m", .mid = {}, .expected = {}};
    EXPECT_EQ(Expect<ErrorFrame>(DecodeDown(EncodeError(error)), "error"), error);
  }
}

TEST(EncodeDownTest, OutputIsJsonWithExactlyTheProtocolsFieldNames) {
  // An independent parser (nlohmann's DOM) as the oracle.
  const auto keys = [](const std::string& json) {
    std::set<std::string> names;
    const nlohmann::json parsed = nlohmann::json::parse(json);
    for (const auto& item : parsed.items()) names.insert(item.key());
    return names;
  };
  EXPECT_EQ(keys(EncodeChatDown(SampleChatDown())),
            (std::set<std::string>{"seq", "type", "mid", "id", "fromId", "fromDevice", "destId",
                                   "kind", "msgBody", "ts"}));
  EXPECT_EQ(keys(EncodeAckDown(SampleAckDown())),
            (std::set<std::string>{"seq", "type", "msgType", "fromId", "destId", "ackMsgId",
                                   "ackDevice", "mid"}));
  const auto chat = nlohmann::json::parse(EncodeChatDown(SampleChatDown()));
  EXPECT_EQ(chat["ts"].get<std::int64_t>(), 1764430000000);
  EXPECT_EQ(chat["msgBody"].get<std::string>(), "aGVsbG8=");
}

TEST(ToErrorFrameTest, AnswersADecodeErrorWithItsCodeIdAndMid) {
  const auto error = UpError(R"({"type":"chat","id":5,"destId":"X","kind":"text","msgBody":"x"})");
  ASSERT_TRUE(error);
  const ErrorFrame frame = ToErrorFrame(*error);
  EXPECT_EQ(frame.code, ErrorCode::kBadFrame);
  EXPECT_EQ(frame.id, 5);
  EXPECT_FALSE(frame.expected.has_value());
  const auto decoded = Expect<ErrorFrame>(DecodeDown(EncodeError(frame)), "error");
  EXPECT_EQ(decoded, frame);
}

// ---- DecodeDown errors ----

TEST(DecodeDownTest, RejectsMalformedServerFramesAsBadFrame) {
  const std::string chat_zero_seq = WithSeq(EncodeChatDown([] {
                                              ChatDown c = SampleChatDown();
                                              c.seq = 0;
                                              return c;
                                            }()),
                                            1);
  std::string bad_seq = chat_zero_seq;
  bad_seq.replace(bad_seq.find("\"seq\":1"), 7, "\"seq\":0");
  for (std::string_view payload : {
           std::string_view(bad_seq),
           std::string_view(R"({"type":"sync","after":1})"),  // a client frame
           std::string_view(R"({"type":"synced","upto":1})"),
           std::string_view(R"({"type":"synced","upto":1,"lastId":-1})"),
           std::string_view(R"({"type":"synced","upto":-1,"lastId":1})"),
           std::string_view(R"({"type":"error","code":7,"message":"m"})"),
           std::string_view(R"({"type":"error","message":"m"})"),
           std::string_view(R"({"type":"error","code":"internal"})"),
           std::string_view(R"({"type":"error","code":"internal","message":"m","id":0})"),
           std::string_view(R"({"type":"error","code":"internal","message":"m","mid":""})"),
           std::string_view(R"({"type":"error","code":"internal","message":"m","expected":1.5})"),
           std::string_view(R"({"type":"ack","msgType":"SENT","fromId":"bob","destId":"alice",)"
                            R"("ackMsgId":42,"ackDevice":"ph.one","mid":"m"})"),
           std::string_view(R"({"type":"ack","msgType":"SENT","fromId":"bob","destId":"alice",)"
                            R"("ackMsgId":0,"ackDevice":"phone","mid":"m"})"),
           std::string_view(R"({"type":"chat","mid":"m","id":1,"fromId":"alice",)"
                            R"("fromDevice":"phone","destId":"bob","kind":"text","msgBody":"x"})"),
           std::string_view("[]"),
       }) {
    EXPECT_EQ(DownCode(payload), ErrorCode::kBadFrame) << payload;
  }
}

TEST(DecodeDownTest, AcceptsAnUnknownErrorCodeAsInternalKeepingItsText) {
  const DownFrame frame = DecodeDown(
      R"({"type":"error","id":9,"code":"quota_exceeded","message":"slow down","expected":3})");
  const auto* error = std::get_if<ErrorFrame>(&frame);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, ErrorCode::kInternal);
  EXPECT_EQ(error->unknown_code, "quota_exceeded");
  EXPECT_EQ(error->message, "slow down");
  EXPECT_EQ(error->id, 9);
  EXPECT_EQ(error->expected, 3);
}

TEST(DecodeDownTest, KnownErrorCodesHaveNoUnknownCode) {
  const DownFrame frame = DecodeDown(R"({"type":"error","code":"internal","message":"m"})");
  const auto* error = std::get_if<ErrorFrame>(&frame);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, ErrorCode::kInternal);
  EXPECT_FALSE(error->unknown_code.has_value());
}

TEST(DecodeDownTest, RejectsOversizedBodyAndPayloadAsTooLarge) {
  ChatDown chat = SampleChatDown();
  chat.msg_body = std::string(kMaxBodyBytes + 1, 'a');
  EXPECT_EQ(DownCode(EncodeChatDown(chat)), ErrorCode::kTooLarge);
  EXPECT_EQ(DownCode(std::string(kTenMebibytes, '{')), ErrorCode::kTooLarge);
}

TEST(DecodeDownTest, RejectsDeepNestingAsBadFrame) {
  EXPECT_EQ(DownCode(R"({"type":"synced","x":)" + std::string(100000, '[')), ErrorCode::kBadFrame);
}

// ---- WithSeq ----

TEST(WithSeqTest, SplicesSeqRightAfterTheOpeningBrace) {
  EXPECT_EQ(WithSeq(R"({"type":"chat","id":1})", 18), R"({"seq":18,"type":"chat","id":1})");
  EXPECT_EQ(WithSeq("{}", 18), R"({"seq":18})");
  EXPECT_EQ(WithSeq("{ }", 18), R"({"seq":18 })");
  EXPECT_EQ(WithSeq(R"( {"a":1})", 7), R"( {"seq":7,"a":1})");
  EXPECT_EQ(WithSeq(R"({"a":1})", kMaxSeq), R"({"seq":9223372036854775807,"a":1})");
}

TEST(WithSeqTest, LeavesSeqZeroAndNonObjectsUnchanged) {
  EXPECT_EQ(WithSeq(R"({"a":1})", 0), R"({"a":1})");
  EXPECT_EQ(WithSeq("[1]", 5), "[1]");
  EXPECT_EQ(WithSeq("", 5), "");
}

TEST(WithSeqTest, StoredFrameWithSeqEqualsTheFrameEncodedWithThatSeq) {
  ChatDown chat = SampleChatDown();
  chat.seq = 0;
  const std::string stored = EncodeChatDown(chat);
  chat.seq = 1234;
  EXPECT_EQ(WithSeq(stored, 1234), EncodeChatDown(chat));
  EXPECT_EQ(Expect<ChatDown>(DecodeDown(WithSeq(stored, 1234)), "chat"), chat);

  AckDown ack = SampleAckDown();
  ack.seq = 0;
  const std::string stored_ack = EncodeAckDown(ack);
  ack.seq = 77;
  EXPECT_EQ(WithSeq(stored_ack, 77), EncodeAckDown(ack));
}

}  // namespace
}  // namespace sparrow::protocol
