// What the `sparrow` command prints: one JSON object per line for scripts (--json), short
// lines for people. Pure functions (unit-tested); Printer serializes whole lines.
//
// JSON events (every line has "event"):
//   {"event":"message","mid","localId","from","to","peer","fromDevice","outgoing","kind",
//    "text","seq","ts","id", "file":{"fileId","name","size","sha256","contentType"}?}
//   {"event":"status","localId","mid","peer","status":"sent|delivered|read|failed","reason"?}
//   {"event":"sending","localId","peer","text"}                      (send, chat)
//   {"event":"file","mid","from","name","size","sha256","verified","path"?,"error"?}
//   {"event":"error","kind","code","message","mid","peer"}
//   {"event":"connection","state":"connected|synced|disconnected"}
// Invalid UTF-8 in a text is replaced (U+FFFD), never fatal.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "client/files.hpp"
#include "client/history.hpp"
#include "client/message.hpp"

namespace sparrow::cli {

[[nodiscard]] std::string MessageJson(const client::Message& message,
                                      std::optional<client::MessageStatus> status = std::nullopt);
[[nodiscard]] std::string StatusJson(const client::StatusUpdate& update);
[[nodiscard]] std::string SendingJson(const std::string& local_id, const std::string& peer,
                                      const std::string& text);
[[nodiscard]] std::string FileJson(const client::Message& message,
                                   const client::DownloadResult& result);
[[nodiscard]] std::string ErrorJson(const client::ClientError& error);
[[nodiscard]] std::string ConnectionJson(client::ConnectionEvent event);

// "14:03:22" for today (local time), "2026-11-28 14:03" otherwise; "--:--:--" for 0.
[[nodiscard]] std::string HumanTime(std::int64_t ms, std::int64_t now_ms);
// "512 B", "3.4 KB", "5.0 MB", "1.2 GB".
[[nodiscard]] std::string HumanSize(std::uint64_t bytes);
// "[14:03:22] bob: hi", "[14:03:22] you -> bob: hi" (outgoing, with the peer when
// `with_peer`), "[file] photo.jpg (5.0 MB)" as the text of a file message. Control characters
// of the text are shown as '?', so a message cannot rewrite the terminal.
[[nodiscard]] std::string HumanMessage(const client::Message& message, bool with_peer,
                                       std::int64_t now_ms);
// "[####......] 40%  2.0 MB/5.0 MB" in `width` cells.
[[nodiscard]] std::string ProgressBar(std::uint64_t done, std::uint64_t total, int width = 30);

// Writes whole lines to stdout (flushed), from any thread. Thread-safe.
class Printer {
 public:
  void Line(const std::string& line);
  void Error(const std::string& line);  // to stderr

 private:
  std::mutex mutex_;  // one line at a time
};

}  // namespace sparrow::cli
