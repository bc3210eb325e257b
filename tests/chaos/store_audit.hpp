// What the database holds at the end of a chaos run, for the checker (StoreFacts in
// history.hpp): duplicate rows by the dedupe key, duplicate inbox frames, the same message
// (decrypted text) stored under two mids, gaps in users' seqs, and every stored mid.
//
// Reads everything (im_chat, im_offline) through one connection of its own; run it once the
// load is over. Throws offline::StoreError when the database cannot be read.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "tests/chaos/history.hpp"

namespace sparrow::chaos {

// The relation key of users `a` and `b` (either order), or nullopt (texts then not compared).
using PairKey =
    std::function<std::optional<std::string>(const std::string& a, const std::string& b)>;

StoreFacts AuditStore(const std::string& db_url, const PairKey& key_of);

}  // namespace sparrow::chaos
