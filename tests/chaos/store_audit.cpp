#include "tests/chaos/store_audit.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "client/crypto.hpp"
#include "offline/database.hpp"

namespace sparrow::chaos {

using offline::SqlType;

StoreFacts AuditStore(const std::string& db_url, const PairKey& key_of) {
  offline::DbOptions options;
  options.url = db_url;
  options.mysql_io_timeout = std::chrono::seconds(120);
  offline::Database db(options);
  StoreFacts facts;

  db.Run([&] {
    auto& dups = db.Cached("chaos_chat_dups", [] {
      return offline::Database::StatementSpec{
          "SELECT COUNT(*) FROM im_chat GROUP BY from_user_id, from_device, client_id "
          "HAVING COUNT(*) > 1",
          {},
          {SqlType::kInt}};
    });
    facts.chat_key_duplicates = 0;
    for (bool row = dups.Execute(); row; row = dups.Next()) {
      facts.chat_key_duplicates += dups.Int(0) - 1;
    }
  });
  db.Run([&] {
    auto& mids = db.Cached("chaos_chat_mids", [] {
      return offline::Database::StatementSpec{"SELECT mid FROM im_chat", {}, {SqlType::kText}};
    });
    facts.chat_mids.clear();
    for (bool row = mids.Execute(); row; row = mids.Next()) facts.chat_mids.insert(mids.Text(0));
  });
  db.Run([&] {
    auto& frames = db.Cached("chaos_inbox", [] {
      return offline::Database::StatementSpec{
          "SELECT to_user_id, seq, msg_id, msg_type, content FROM im_offline "
          "ORDER BY to_user_id, seq",
          {},
          {SqlType::kText, SqlType::kInt, SqlType::kText, SqlType::kText, SqlType::kBytes}};
    });
    facts.inbox_duplicates = 0;
    facts.text_duplicates = 0;
    facts.seq_gaps = 0;
    std::set<std::tuple<std::string, std::string, std::string>> frame_keys;
    std::map<std::pair<std::string, std::string>, std::set<std::string>> mids_of_text;
    std::string user;
    std::int64_t last_seq = 0;
    for (bool row = frames.Execute(); row; row = frames.Next()) {
      const std::string& to = frames.Text(0);
      const std::int64_t seq = frames.Int(1);
      if (to != user) {
        user = to;
        last_seq = 0;
      }
      if (seq != last_seq + 1) facts.seq_gaps += seq > last_seq ? seq - last_seq - 1 : 1;
      last_seq = seq;
      auto json = nlohmann::json::parse(frames.Text(4), nullptr, /*allow_exceptions=*/false);
      std::string kind = frames.Text(3);
      if (kind == "ack" && json.is_object()) kind += "/" + json.value("msgType", "");
      if (!frame_keys.emplace(to, frames.Text(2), kind).second) ++facts.inbox_duplicates;
      if (frames.Text(3) != "chat" || !json.is_object()) continue;
      const std::string from = json.value("fromId", "");
      const std::string dest = json.value("destId", "");
      if (dest != to || !key_of) continue;  // the recipient's frame only (not the sender copy)
      auto key = key_of(from, dest);
      if (!key) continue;
      auto text =
          client::OpenBody(*key, client::BodyContext{from, dest, json.value("id", std::int64_t{0})},
                           json.value("msgBody", ""));
      if (text) mids_of_text[{to, *text}].insert(frames.Text(2));
    }
    for (const auto& [key, mids] : mids_of_text) {
      facts.text_duplicates += static_cast<std::int64_t>(mids.size()) - 1;
    }
  });
  return facts;
}

}  // namespace sparrow::chaos
