// Micro-benchmarks of the codec's hot paths: the bridge decodes every chat (DecodeUp) and the
// bridge/offline encode every delivered frame (EncodeChatDown, WithSeq).
// Run: build-dir/protocol/protocol_bench
#include <benchmark/benchmark.h>

#include <string>

#include "protocol/codec.hpp"

namespace sparrow::protocol {
namespace {

// About 200 bytes: a short text message, base64 of its ciphertext.
const std::string& ChatPayload() {
  static const std::string payload =
      R"({"type":"chat","id":123456,"destId":"bob.smith","kind":"text","msgBody":")" +
      std::string(120, 'Q') + R"("})";
  return payload;
}

ChatDown SampleChatDown() {
  return ChatDown{.seq = 0,
                  .mid = "01JDXYZABCDEFGHJKMNPQRSTVW",
                  .id = 123456,
                  .from_id = "alice",
                  .from_device = "phone",
                  .dest_id = "bob.smith",
                  .kind = ChatKind::kText,
                  .msg_body = std::string(120, 'Q'),
                  .ts = 1764430000000};
}

void BenchDecodeUpChat(benchmark::State& state) {
  const std::string& payload = ChatPayload();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
    UpFrame frame = DecodeUp(payload);
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * payload.size()));
}
BENCHMARK(BenchDecodeUpChat);

void BenchEncodeChatDown(benchmark::State& state) {
  const ChatDown chat = SampleChatDown();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
    std::string json = EncodeChatDown(chat);
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BenchEncodeChatDown);

void BenchWithSeq(benchmark::State& state) {
  const std::string stored = EncodeChatDown(SampleChatDown());
  std::uint64_t seq = 1;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
    std::string json = WithSeq(stored, ++seq);
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BenchWithSeq);

}  // namespace
}  // namespace sparrow::protocol
