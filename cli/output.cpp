#include "cli/output.hpp"

#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

namespace sparrow::cli {
namespace {

using json = nlohmann::ordered_json;  // "event" first, fields in a stable order

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string Printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    out += (c < 0x20 && c != '\t') || c == 0x7f ? '?' : static_cast<char>(c);
  }
  return out;
}

}  // namespace

std::string MessageJson(const client::Message& m, std::optional<client::MessageStatus> status) {
  json j{{"event", "message"},
         {"mid", m.mid},
         {"localId", m.local_id},
         {"from", m.from},
         {"to", m.to},
         {"peer", m.peer()},
         {"fromDevice", m.from_device},
         {"outgoing", m.outgoing},
         {"kind", protocol::ToString(m.kind)},
         {"text", m.text},
         {"seq", m.seq},
         {"ts", m.ts},
         {"id", m.id}};
  if (m.file) {
    j["file"] = json{{"fileId", m.file->file_id},
                     {"name", m.file->name},
                     {"size", m.file->size},
                     {"sha256", m.file->sha256},
                     {"contentType", m.file->content_type}};
  }
  if (status) j["status"] = client::ToString(*status);
  return Dump(j);
}

std::string StatusJson(const client::StatusUpdate& s) {
  json j{{"event", "status"},
         {"localId", s.local_id},
         {"mid", s.mid},
         {"peer", s.peer},
         {"status", client::ToString(s.status)}};
  if (!s.reason.empty()) j["reason"] = s.reason;
  return Dump(j);
}

std::string SendingJson(const std::string& local_id, const std::string& peer,
                        const std::string& text) {
  return Dump(json{{"event", "sending"}, {"localId", local_id}, {"peer", peer}, {"text", text}});
}

std::string FileJson(const client::Message& m, const client::DownloadResult& result) {
  json j{{"event", "file"},
         {"mid", m.mid},
         {"from", m.from},
         {"name", m.file ? m.file->name : m.text},
         {"size", m.file ? m.file->size : 0},
         {"sha256", m.file ? m.file->sha256 : ""},
         {"verified", result.ok}};
  if (result.ok) {
    j["path"] = result.path.string();
  } else {
    j["error"] = result.error;
  }
  return Dump(j);
}

std::string ErrorJson(const client::ClientError& e) {
  return Dump(json{{"event", "error"},
                   {"kind", client::ToString(e.kind)},
                   {"code", e.code},
                   {"message", e.message},
                   {"mid", e.mid},
                   {"peer", e.peer}});
}

std::string ConnectionJson(client::ConnectionEvent event) {
  return Dump(json{{"event", "connection"}, {"state", client::ToString(event)}});
}

std::string HumanTime(std::int64_t ms, std::int64_t now_ms) {
  if (ms <= 0) return "--:--:--";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  const std::time_t now = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  std::tm now_tm{};
  ::localtime_r(&t, &tm);
  ::localtime_r(&now, &now_tm);
  char buffer[32];
  const bool today = tm.tm_year == now_tm.tm_year && tm.tm_yday == now_tm.tm_yday;
  std::strftime(buffer, sizeof buffer, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
  return buffer;
}

std::string HumanSize(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (value >= 1024.0 && unit < 3) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, units[unit]);
  return buffer;
}

std::string HumanMessage(const client::Message& m, bool with_peer, std::int64_t now_ms) {
  std::string text = m.kind == protocol::ChatKind::kFile
                         ? "[file] " + m.text + (m.file ? " (" + HumanSize(m.file->size) + ")" : "")
                         : m.text;
  std::string who;
  if (m.outgoing) {
    who = with_peer ? "you -> " + m.to : "you";
  } else {
    who = m.from;
  }
  return "[" + HumanTime(m.ts, now_ms) + "] " + who + ": " + Printable(text);
}

std::string ProgressBar(std::uint64_t done, std::uint64_t total, int width) {
  const double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int filled = static_cast<int>(fraction * width);
  std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                    std::string(static_cast<std::size_t>(width - filled), '.') + "] ";
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100));
  return bar + pct + "  " + HumanSize(done) + "/" + HumanSize(total);
}

void Printer::Line(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::cout << line << '\n' << std::flush;
}

void Printer::Error(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::cerr << line << '\n' << std::flush;
}

}  // namespace sparrow::cli
