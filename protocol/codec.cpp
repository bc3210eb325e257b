#include "protocol/codec.hpp"

#include <array>
#include <cstddef>
#include <exception>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "protocol/identity.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/limits.hpp"
#include "protocol/utf8.hpp"

namespace sparrow::protocol {
namespace {

// ---------------------------------------------------------------------------------------------
// Decoding: nlohmann's SAX parser (iterative, so input depth never becomes stack depth) feeds
// FieldCollector, which keeps only the top-level fields we know and builds no DOM. Nested
// values (possible only in unknown fields) are skipped, and the parse is aborted as soon as
// the nesting passes kMaxJsonDepth. The frame is then validated field by field.
// ---------------------------------------------------------------------------------------------

// Every field name of PROTOCOL.md, as slots of Fields.
enum class Field : std::uint8_t {
  kType,
  kId,
  kDestId,
  kKind,
  kMsgBody,
  kFromId,
  kMsgType,
  kMid,
  kAfter,
  kSeq,
  kFromDevice,
  kTs,
  kAckMsgId,
  kAckDevice,
  kUpto,
  kLastId,
  kCode,
  kMessage,
  kExpected,
};
constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::kExpected) + 1;
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "type", "id",     "destId", "kind",       "msgBody", "fromId",   "msgType",
    "mid",  "after",  "seq",    "fromDevice", "ts",      "ackMsgId", "ackDevice",
    "upto", "lastId", "code",   "message",    "expected"};

std::string_view NameOf(Field field) { return kFieldNames[static_cast<std::size_t>(field)]; }

// The JSON type of a top-level value. nlohmann reports integers written with a '-' as signed
// and the others as unsigned; anything with a fraction or exponent is a float (never an id).
enum class JsonType : std::uint8_t {
  kAbsent,
  kNull,
  kBool,
  kNegativeInt,  // written with '-': int_value (may be 0, for "-0")
  kUnsignedInt,  // uint_value
  kFloat,
  kString,  // text
  kArray,
  kObject,
};

struct Value {
  JsonType type = JsonType::kAbsent;
  bool duplicated = false;  // the key appeared more than once
  std::int64_t int_value = 0;
  std::uint64_t uint_value = 0;
  std::string text;
};

struct Fields {
  std::array<Value, kFieldCount> values;

  Value& operator[](Field field) { return values[static_cast<std::size_t>(field)]; }
  const Value& operator[](Field field) const { return values[static_cast<std::size_t>(field)]; }
};

enum class ParseFailure { kNone, kSyntax, kNotObject, kTooDeep };

// The SAX handler (the interface nlohmann::json::sax_parse expects; returning false aborts).
class FieldCollector {
 public:
  explicit FieldCollector(Fields& fields) : fields_(fields) {}

  ParseFailure Failure() const { return failure_; }

  // NOLINTBEGIN(readability-identifier-naming): names fixed by nlohmann's SAX interface.
  bool null() { return Scalar(JsonType::kNull); }
  bool boolean(bool /*value*/) { return Scalar(JsonType::kBool); }
  bool number_integer(std::int64_t value) {
    Value* slot = nullptr;
    if (!TakeSlot(slot)) return false;
    if (slot != nullptr) {
      slot->type = JsonType::kNegativeInt;
      slot->int_value = value;
    }
    return true;
  }
  bool number_unsigned(std::uint64_t value) {
    Value* slot = nullptr;
    if (!TakeSlot(slot)) return false;
    if (slot != nullptr) {
      slot->type = JsonType::kUnsignedInt;
      slot->uint_value = value;
    }
    return true;
  }
  bool number_float(double /*value*/, const std::string& /*text*/) {
    return Scalar(JsonType::kFloat);
  }
  bool string(std::string& value) {
    Value* slot = nullptr;
    if (!TakeSlot(slot)) return false;
    if (slot != nullptr) {
      slot->type = JsonType::kString;
      slot->text = std::move(value);  // the parser's buffer: one copy of the body, not two
    }
    return true;
  }
  bool binary(nlohmann::json::binary_t& /*value*/) { return Scalar(JsonType::kNull); }
  bool start_object(std::size_t /*elements*/) { return StartContainer(JsonType::kObject); }
  bool end_object() { return EndContainer(); }
  bool start_array(std::size_t /*elements*/) {
    if (depth_ == 0) return Fail(ParseFailure::kNotObject);
    return StartContainer(JsonType::kArray);
  }
  bool end_array() { return EndContainer(); }
  bool key(std::string& name) {
    if (depth_ != 1) return true;  // keys of nested (unknown) values are skipped
    pending_ = nullptr;
    for (std::size_t i = 0; i < kFieldCount; ++i) {
      if (kFieldNames[i] == name) {
        Value& value = fields_.values[i];
        if (value.type != JsonType::kAbsent) value.duplicated = true;
        pending_ = &value;
        break;
      }
    }
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::json::exception& /*error*/) {
    // The exception's text quotes raw input (possibly invalid UTF-8): never pass it on.
    return Fail(ParseFailure::kSyntax);
  }
  // NOLINTEND(readability-identifier-naming)

 private:
  bool Fail(ParseFailure failure) {
    failure_ = failure;
    return false;
  }

  // Called for every value. At depth 0 only an object is acceptable. At depth 1 `slot` is set
  // to the known field the value belongs to (nullptr for an unknown key).
  bool TakeSlot(Value*& slot) {
    if (depth_ == 0) return Fail(ParseFailure::kNotObject);
    if (depth_ == 1) {
      slot = pending_;
      pending_ = nullptr;
    }
    return true;
  }

  bool Scalar(JsonType type) {
    Value* slot = nullptr;
    if (!TakeSlot(slot)) return false;
    if (slot != nullptr) slot->type = type;
    return true;
  }

  bool StartContainer(JsonType type) {
    if (depth_ > 0) {
      Value* slot = nullptr;
      TakeSlot(slot);
      if (slot != nullptr) slot->type = type;
    }
    if (++depth_ > kMaxJsonDepth) return Fail(ParseFailure::kTooDeep);
    return true;
  }

  bool EndContainer() {
    --depth_;
    return true;
  }

  Fields& fields_;
  int depth_ = 0;
  Value* pending_ = nullptr;  // the known field whose value comes next (depth 1 only)
  ParseFailure failure_ = ParseFailure::kNone;
};

// ---- typed readers over a Value; nullopt when absent, of the wrong type or out of range ----

std::optional<std::int64_t> IntIn(const Value& value, std::int64_t lo, std::int64_t hi) {
  std::int64_t n = 0;
  if (value.type == JsonType::kNegativeInt) {
    n = value.int_value;
  } else if (value.type == JsonType::kUnsignedInt &&
             value.uint_value <=
                 static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    n = static_cast<std::int64_t>(value.uint_value);
  } else {
    return std::nullopt;
  }
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> UintIn(const Value& value, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t n = 0;
  if (value.type == JsonType::kUnsignedInt) {
    n = value.uint_value;
  } else if (value.type == JsonType::kNegativeInt && value.int_value == 0) {
    n = 0;  // "-0" is the integer zero
  } else {
    return std::nullopt;
  }
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

std::optional<std::int64_t> ChatIdOf(const Value& value) { return IntIn(value, 1, kMaxChatId); }

bool IsString(const Value& value) { return value.type == JsonType::kString; }

bool IsMid(const Value& value) {
  return IsString(value) && !value.text.empty() && value.text.size() <= kMaxMidBytes;
}

std::string FieldMessage(Field field, std::string_view rule) {
  std::string message = "field '";
  message += NameOf(field);
  message += "' ";
  message += rule;
  return message;
}

// A DecodeError naming the frame's id/mid when it had readable ones (see codec.hpp).
DecodeError MakeError(const Fields& fields, ErrorCode code, std::string message) {
  DecodeError error{.code = code, .message = std::move(message), .id = {}, .mid = {}};
  const Value& type = fields[Field::kType];
  const bool type_known = IsString(type) && !type.duplicated;
  const Value& id = fields[Field::kId];
  if ((!type_known || type.text == "chat") && !id.duplicated) error.id = ChatIdOf(id);
  const Value& mid = fields[Field::kMid];
  if ((!type_known || type.text == "ack") && !mid.duplicated && IsMid(mid)) error.mid = mid.text;
  return error;
}

// Parses `payload` into `fields`; a DecodeError if it is not a JSON object within the limits.
std::optional<DecodeError> Collect(std::string_view payload, Fields& fields) {
  if (payload.size() > kMaxFrameBytes) {
    return DecodeError{.code = ErrorCode::kTooLarge,
                       .message = "frame exceeds " + std::to_string(kMaxFrameBytes) + " bytes",
                       .id = {},
                       .mid = {}};
  }
  // nlohmann's lexer takes a raw NUL byte for the end of the input, so `{...}\0junk` would
  // pass. A raw NUL is never valid JSON (inside a string it must be escaped): parse only what
  // precedes it, to name the frame's id if possible, and refuse the frame in any case.
  const auto nul = payload.find('\0');
  const std::string_view text = payload.substr(0, nul);
  FieldCollector collector(fields);
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &collector,
                                            nlohmann::json::input_format_t::json,
                                            /*strict=*/true, /*ignore_comments=*/false);
  if (ok && nul == std::string_view::npos) return std::nullopt;
  if (ok) return MakeError(fields, ErrorCode::kBadFrame, "raw NUL byte after the JSON text");
  switch (collector.Failure()) {
    case ParseFailure::kNotObject:
      return MakeError(fields, ErrorCode::kBadFrame, "frame is not a JSON object");
    case ParseFailure::kTooDeep:
      return MakeError(fields, ErrorCode::kBadFrame,
                       "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    case ParseFailure::kSyntax:
    case ParseFailure::kNone:
      break;
  }
  // Only on this (rare) error path: tell invalid UTF-8 apart from other syntax errors.
  return MakeError(fields, ErrorCode::kBadFrame,
                   IsValidUtf8(payload) ? "malformed JSON" : "payload is not valid UTF-8");
}

// A field of the frame's type given twice makes the frame ambiguous (parsers disagree on which
// one wins), so it is refused; duplicates of fields the frame does not use are ignored.
std::optional<DecodeError> CheckNoDuplicates(const Fields& fields,
                                             std::initializer_list<Field> used) {
  for (Field field : used) {
    if (fields[field].duplicated) {
      return MakeError(fields, ErrorCode::kBadFrame, FieldMessage(field, "appears twice"));
    }
  }
  return std::nullopt;
}

DecodeError Bad(const Fields& fields, Field field, std::string_view rule) {
  return MakeError(fields, ErrorCode::kBadFrame, FieldMessage(field, rule));
}

constexpr std::string_view kRuleChatId = "must be an integer in 1..2^53-1";
constexpr std::string_view kRuleUserId = "must be a valid userId";
constexpr std::string_view kRuleDeviceId = "must be a valid deviceId";
constexpr std::string_view kRuleString = "must be a string";
constexpr std::string_view kRuleMid = "must be a string of 1..64 bytes";
constexpr std::string_view kRuleKind = R"(must be "text" or "file")";
constexpr std::string_view kRuleSeq = "must be an integer in 1..2^63-1";
// The rules above spell the limits out; keep them in step with limits.hpp.
static_assert(kMaxChatId == (std::int64_t{1} << 53) - 1 &&
              kMaxSeq == (std::uint64_t{1} << 63) - 1 && kMaxMidBytes == 64);

DecodeError BodyTooLarge(const Fields& fields) {
  return MakeError(fields, ErrorCode::kTooLarge,
                   "field 'msgBody' exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
}

template <typename Frame>
using Decoded = std::variant<Frame, DecodeError>;

// Reads a valid userId/deviceId field.
std::optional<std::string> UserIdOf(Fields& fields, Field field) {
  Value& value = fields[field];
  if (!IsString(value) || !IsValidUserId(value.text)) return std::nullopt;
  return std::move(value.text);
}
std::optional<std::string> DeviceIdOf(Fields& fields, Field field) {
  Value& value = fields[field];
  if (!IsString(value) || !IsValidDeviceId(value.text)) return std::nullopt;
  return std::move(value.text);
}
std::optional<ChatKind> KindOf(const Fields& fields) {
  const Value& value = fields[Field::kKind];
  return IsString(value) ? ParseChatKind(value.text) : std::nullopt;
}

// `seq` of a server frame: absent = 0 (none), else 1..kMaxSeq.
std::optional<std::uint64_t> OptionalSeqOf(const Fields& fields) {
  const Value& value = fields[Field::kSeq];
  if (value.type == JsonType::kAbsent) return 0;
  return UintIn(value, 1, kMaxSeq);
}

// ---- client -> server ----

Decoded<ChatUp> DecodeChatUp(Fields& f) {
  if (auto dup = CheckNoDuplicates(
          f, {Field::kId, Field::kDestId, Field::kKind, Field::kMsgBody, Field::kFromId})) {
    return *std::move(dup);
  }
  const auto id = ChatIdOf(f[Field::kId]);
  if (!id) return Bad(f, Field::kId, kRuleChatId);
  if (!IsString(f[Field::kDestId]) || !IsValidUserId(f[Field::kDestId].text)) {
    return Bad(f, Field::kDestId, kRuleUserId);
  }
  const auto kind = KindOf(f);
  if (!kind) return Bad(f, Field::kKind, kRuleKind);
  if (!IsString(f[Field::kMsgBody])) return Bad(f, Field::kMsgBody, kRuleString);
  const Value& from = f[Field::kFromId];
  if (from.type != JsonType::kAbsent && !IsString(from)) return Bad(f, Field::kFromId, kRuleString);
  if (f[Field::kMsgBody].text.size() > kMaxBodyBytes) return BodyTooLarge(f);

  ChatUp chat;
  chat.id = *id;
  chat.dest_id = std::move(f[Field::kDestId].text);
  chat.kind = *kind;
  chat.msg_body = std::move(f[Field::kMsgBody].text);
  if (IsString(from)) chat.from_id = std::move(f[Field::kFromId].text);
  return chat;
}

Decoded<AckUp> DecodeAckUp(Fields& f) {
  if (auto dup = CheckNoDuplicates(f, {Field::kMsgType, Field::kMid})) return *std::move(dup);
  const Value& type = f[Field::kMsgType];
  const auto ack_type = IsString(type) ? ParseAckType(type.text) : std::nullopt;
  // SENT is the server's answer; a client never sends it.
  if (!ack_type || *ack_type == AckType::kSent) {
    return Bad(f, Field::kMsgType, R"(must be "DELIVERED" or "READ")");
  }
  if (!IsMid(f[Field::kMid])) return Bad(f, Field::kMid, kRuleMid);
  return AckUp{.msg_type = *ack_type, .mid = std::move(f[Field::kMid].text)};
}

Decoded<SyncUp> DecodeSyncUp(Fields& f) {
  if (auto dup = CheckNoDuplicates(f, {Field::kAfter})) return *std::move(dup);
  const auto after = UintIn(f[Field::kAfter], 0, kMaxSeq);
  if (!after) return Bad(f, Field::kAfter, "must be an integer in 0..2^63-1");
  return SyncUp{.after = *after};
}

// ---- server -> client ----

Decoded<ChatDown> DecodeChatDown(Fields& f) {
  if (auto dup = CheckNoDuplicates(
          f, {Field::kSeq, Field::kMid, Field::kId, Field::kFromId, Field::kFromDevice,
              Field::kDestId, Field::kKind, Field::kMsgBody, Field::kTs})) {
    return *std::move(dup);
  }
  ChatDown chat;
  const auto seq = OptionalSeqOf(f);
  if (!seq) return Bad(f, Field::kSeq, kRuleSeq);
  if (!IsMid(f[Field::kMid])) return Bad(f, Field::kMid, kRuleMid);
  const auto id = ChatIdOf(f[Field::kId]);
  if (!id) return Bad(f, Field::kId, kRuleChatId);
  auto from_id = UserIdOf(f, Field::kFromId);
  if (!from_id) return Bad(f, Field::kFromId, kRuleUserId);
  auto from_device = DeviceIdOf(f, Field::kFromDevice);
  if (!from_device) return Bad(f, Field::kFromDevice, kRuleDeviceId);
  auto dest_id = UserIdOf(f, Field::kDestId);
  if (!dest_id) return Bad(f, Field::kDestId, kRuleUserId);
  const auto kind = KindOf(f);
  if (!kind) return Bad(f, Field::kKind, kRuleKind);
  if (!IsString(f[Field::kMsgBody])) return Bad(f, Field::kMsgBody, kRuleString);
  const auto ts = IntIn(f[Field::kTs], std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max());
  if (!ts) return Bad(f, Field::kTs, "must be a 64-bit integer");
  if (f[Field::kMsgBody].text.size() > kMaxBodyBytes) return BodyTooLarge(f);

  chat.seq = *seq;
  chat.mid = std::move(f[Field::kMid].text);
  chat.id = *id;
  chat.from_id = *std::move(from_id);
  chat.from_device = *std::move(from_device);
  chat.dest_id = *std::move(dest_id);
  chat.kind = *kind;
  chat.msg_body = std::move(f[Field::kMsgBody].text);
  chat.ts = *ts;
  return chat;
}

Decoded<AckDown> DecodeAckDown(Fields& f) {
  if (auto dup = CheckNoDuplicates(f, {Field::kSeq, Field::kMsgType, Field::kFromId, Field::kDestId,
                                       Field::kAckMsgId, Field::kAckDevice, Field::kMid})) {
    return *std::move(dup);
  }
  const auto seq = OptionalSeqOf(f);
  if (!seq) return Bad(f, Field::kSeq, kRuleSeq);
  const Value& type = f[Field::kMsgType];
  const auto ack_type = IsString(type) ? ParseAckType(type.text) : std::nullopt;
  if (!ack_type) return Bad(f, Field::kMsgType, R"(must be "SENT", "DELIVERED" or "READ")");
  auto from_id = UserIdOf(f, Field::kFromId);
  if (!from_id) return Bad(f, Field::kFromId, kRuleUserId);
  auto dest_id = UserIdOf(f, Field::kDestId);
  if (!dest_id) return Bad(f, Field::kDestId, kRuleUserId);
  const auto ack_msg_id = ChatIdOf(f[Field::kAckMsgId]);
  if (!ack_msg_id) return Bad(f, Field::kAckMsgId, kRuleChatId);
  auto ack_device = DeviceIdOf(f, Field::kAckDevice);
  if (!ack_device) return Bad(f, Field::kAckDevice, kRuleDeviceId);
  if (!IsMid(f[Field::kMid])) return Bad(f, Field::kMid, kRuleMid);
  return AckDown{.seq = *seq,
                 .msg_type = *ack_type,
                 .from_id = *std::move(from_id),
                 .dest_id = *std::move(dest_id),
                 .ack_msg_id = *ack_msg_id,
                 .ack_device = *std::move(ack_device),
                 .mid = std::move(f[Field::kMid].text)};
}

Decoded<Synced> DecodeSynced(Fields& f) {
  if (auto dup = CheckNoDuplicates(f, {Field::kUpto, Field::kLastId})) return *std::move(dup);
  const auto upto = UintIn(f[Field::kUpto], 0, kMaxSeq);
  if (!upto) return Bad(f, Field::kUpto, "must be an integer in 0..2^63-1");
  const auto last_id = IntIn(f[Field::kLastId], 0, kMaxChatId);
  if (!last_id) return Bad(f, Field::kLastId, "must be an integer in 0..2^53-1");
  return Synced{.upto = *upto, .last_id = *last_id};
}

Decoded<ErrorFrame> DecodeErrorFrame(Fields& f) {
  if (auto dup = CheckNoDuplicates(
          f, {Field::kId, Field::kCode, Field::kMessage, Field::kMid, Field::kExpected})) {
    return *std::move(dup);
  }
  ErrorFrame error;
  if (f[Field::kId].type != JsonType::kAbsent) {
    error.id = ChatIdOf(f[Field::kId]);
    if (!error.id) return Bad(f, Field::kId, kRuleChatId);
  }
  Value& code = f[Field::kCode];
  if (!IsString(code)) return Bad(f, Field::kCode, kRuleString);
  // Future codes must not break clients (topics.md: extended compatibly): keep the text.
  if (const auto parsed_code = ParseErrorCode(code.text)) {
    error.code = *parsed_code;
  } else {
    error.code = ErrorCode::kInternal;
    error.unknown_code = std::move(code.text);
  }
  if (!IsString(f[Field::kMessage])) return Bad(f, Field::kMessage, kRuleString);
  error.message = std::move(f[Field::kMessage].text);
  if (f[Field::kMid].type != JsonType::kAbsent) {
    if (!IsMid(f[Field::kMid])) return Bad(f, Field::kMid, kRuleMid);
    error.mid = std::move(f[Field::kMid].text);
  }
  if (f[Field::kExpected].type != JsonType::kAbsent) {
    error.expected = ChatIdOf(f[Field::kExpected]);
    if (!error.expected) return Bad(f, Field::kExpected, kRuleChatId);
  }
  return error;
}

// Moves a Decoded<Frame> into the wider variant `Out`.
template <typename Out, typename Frame>
Out Widen(Decoded<Frame>&& decoded) {
  return std::visit(
      [](auto&& alternative) -> Out {
        return Out(std::forward<decltype(alternative)>(alternative));
      },
      std::move(decoded));
}

// The frame's `type`, or nullptr when it is missing, duplicated or not a string.
const std::string* TypeOf(const Fields& fields) {
  const Value& type = fields[Field::kType];
  if (!IsString(type) || type.duplicated) return nullptr;
  return &type.text;
}

DecodeError OutOfMemory() {
  return DecodeError{.code = ErrorCode::kInternal, .message = "out of memory", .id = {}, .mid = {}};
}

// ---------------------------------------------------------------------------------------------
// Encoding.
// ---------------------------------------------------------------------------------------------

// Writes one flat JSON object. Keys are our own constants and need no escaping.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::size_t reserve) {
    out_.reserve(reserve);
    out_ += '{';
  }
  ObjectWriter& Str(std::string_view key, std::string_view value) {
    Key(key);
    AppendJsonString(out_, value);
    return *this;
  }
  ObjectWriter& Int(std::string_view key, std::int64_t value) {
    Key(key);
    AppendJsonInt(out_, value);
    return *this;
  }
  ObjectWriter& Uint(std::string_view key, std::uint64_t value) {
    Key(key);
    AppendJsonUint(out_, value);
    return *this;
  }
  // Server frames write `seq` first (see WithSeq) and only when there is one.
  ObjectWriter& Seq(std::uint64_t seq) {
    if (seq != 0) Uint("seq", seq);
    return *this;
  }
  std::string Finish() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }

  std::string out_;
  bool first_ = true;
};

// Room for the field names, numbers and ids of any frame, plus the strings' own length; the
// string grows on its own in the rare case of many escapes.
constexpr std::size_t kFrameOverhead = 256;

}  // namespace

UpFrame DecodeUp(std::string_view payload) noexcept {
  try {
    Fields fields;
    if (auto error = Collect(payload, fields)) return *std::move(error);
    const std::string* type = TypeOf(fields);
    if (type == nullptr) {
      return MakeError(fields, ErrorCode::kBadFrame,
                       FieldMessage(Field::kType, "must be a string, given once"));
    }
    if (*type == "chat") return Widen<UpFrame>(DecodeChatUp(fields));
    if (*type == "ack") return Widen<UpFrame>(DecodeAckUp(fields));
    if (*type == "sync") return Widen<UpFrame>(DecodeSyncUp(fields));
    return MakeError(fields, ErrorCode::kBadFrame, "unknown frame type");
  } catch (const std::exception&) {
    // Only allocation can throw here (the parser reports syntax errors through the handler).
    return OutOfMemory();
  }
}

DownFrame DecodeDown(std::string_view payload) noexcept {
  try {
    Fields fields;
    if (auto error = Collect(payload, fields)) return *std::move(error);
    const std::string* type = TypeOf(fields);
    if (type == nullptr) {
      return MakeError(fields, ErrorCode::kBadFrame,
                       FieldMessage(Field::kType, "must be a string, given once"));
    }
    if (*type == "chat") return Widen<DownFrame>(DecodeChatDown(fields));
    if (*type == "ack") return Widen<DownFrame>(DecodeAckDown(fields));
    if (*type == "synced") return Widen<DownFrame>(DecodeSynced(fields));
    if (*type == "error") return Widen<DownFrame>(DecodeErrorFrame(fields));
    return MakeError(fields, ErrorCode::kBadFrame, "unknown frame type");
  } catch (const std::exception&) {
    return OutOfMemory();
  }
}

ErrorFrame ToErrorFrame(const DecodeError& error) {
  return ErrorFrame{.id = error.id,
                    .code = error.code,
                    .message = error.message,
                    .mid = error.mid,
                    .expected = std::nullopt};
}

std::string EncodeChatUp(const ChatUp& chat) {
  ObjectWriter w(kFrameOverhead + chat.msg_body.size());
  w.Str("type", "chat")
      .Int("id", chat.id)
      .Str("destId", chat.dest_id)
      .Str("kind", ToString(chat.kind))
      .Str("msgBody", chat.msg_body);
  if (chat.from_id) w.Str("fromId", *chat.from_id);
  return std::move(w).Finish();
}

std::string EncodeAckUp(const AckUp& ack) {
  ObjectWriter w(kFrameOverhead);
  w.Str("type", "ack").Str("msgType", ToString(ack.msg_type)).Str("mid", ack.mid);
  return std::move(w).Finish();
}

std::string EncodeSyncUp(const SyncUp& sync) {
  ObjectWriter w(64);
  w.Str("type", "sync").Uint("after", sync.after);
  return std::move(w).Finish();
}

std::string EncodeChatDown(const ChatDown& chat) {
  ObjectWriter w(kFrameOverhead + chat.msg_body.size());
  w.Seq(chat.seq)
      .Str("type", "chat")
      .Str("mid", chat.mid)
      .Int("id", chat.id)
      .Str("fromId", chat.from_id)
      .Str("fromDevice", chat.from_device)
      .Str("destId", chat.dest_id)
      .Str("kind", ToString(chat.kind))
      .Str("msgBody", chat.msg_body)
      .Int("ts", chat.ts);
  return std::move(w).Finish();
}

std::string EncodeAckDown(const AckDown& ack) {
  ObjectWriter w(kFrameOverhead);
  w.Seq(ack.seq)
      .Str("type", "ack")
      .Str("msgType", ToString(ack.msg_type))
      .Str("fromId", ack.from_id)
      .Str("destId", ack.dest_id)
      .Int("ackMsgId", ack.ack_msg_id)
      .Str("ackDevice", ack.ack_device)
      .Str("mid", ack.mid);
  return std::move(w).Finish();
}

std::string EncodeSynced(const Synced& synced) {
  ObjectWriter w(80);
  w.Str("type", "synced").Uint("upto", synced.upto).Int("lastId", synced.last_id);
  return std::move(w).Finish();
}

std::string EncodeError(const ErrorFrame& error) {
  ObjectWriter w(kFrameOverhead + error.message.size());
  w.Str("type", "error");
  if (error.id) w.Int("id", *error.id);
  w.Str("code", ToString(error.code)).Str("message", error.message);
  if (error.mid) w.Str("mid", *error.mid);
  if (error.expected) w.Int("expected", *error.expected);
  return std::move(w).Finish();
}

std::string WithSeq(std::string_view frame_json, std::uint64_t seq) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const auto brace = frame_json.find_first_not_of(kWhitespace);
  if (seq == 0 || brace == std::string_view::npos || frame_json[brace] != '{') {
    return std::string(frame_json);
  }
  const auto next = frame_json.find_first_not_of(kWhitespace, brace + 1);
  const bool empty_object = next != std::string_view::npos && frame_json[next] == '}';

  std::string out;
  out.reserve(frame_json.size() + 32);
  out.append(frame_json.substr(0, brace + 1));
  out += "\"seq\":";
  AppendJsonUint(out, seq);
  if (!empty_object) out += ',';
  out.append(frame_json.substr(brace + 1));
  return out;
}

}  // namespace sparrow::protocol
