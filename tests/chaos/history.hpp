// The chaos tests' history and its checker (Jepsen's "what goes in must come out").
//
// A load run appends one Event for everything a user could see: each message the app asked to
// send (kAttempt), its SENT (kSent) or the failure shown instead (kRefused, kFailed), each
// message a device displayed (kDisplayed: the client's on_message), each receipt a sender's
// device showed (kReceipt), the READs the reader asked for (kMarkedRead), and the life of every
// device (connected, synced, crashed, settled). Check() then reads the whole history, with what
// the database holds at the end (StoreFacts), and reports the Figures defined below.
//
// Names: a device is "user:device". A message is named by its text, which the load makes unique
// (Check counts a repeated attempt text as `unexpected`). A conversation stream is
// (sender user, sender device, recipient user): the order of its attempts is the order the
// sending device queued them.
//
// Times are steady-clock nanoseconds (CLOCK_MONOTONIC: the same clock in every process of the
// machine, so helper processes' events merge with ours).
//
// Thread-safe: History's methods may be called from any thread (client callbacks, sender
// threads, the test thread); `mutex_` guards every member. Check() is a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace sparrow::chaos {

enum class EventKind {
  kAttempt,       // the app called Send(): from, from_device, to, text, local_id
  kRefused,       // Send() refused at once (shown to the user): from, to, text, detail
  kSent,          // SENT on the sending device: local_id, mid
  kFailed,        // on_status(failed) on the sending device: local_id, detail (reason)
  kDisplayed,     // on_message on `device`: mid, from, from_device, to, text, seq
  kReceipt,       // on_status(delivered|read) on `device`: mid, detail "delivered"/"read"
  kMarkedRead,    // the reader called MarkRead on `device`: mid
  kConnected,     // the device's connection came up (it sends `sync` right after)
  kSynced,        // the device's first `synced` after connecting
  kDisconnected,  // the connection went down
  kCrashed,       // the device's process was killed (kill -9): ends its incarnation
  kFinalSync,     // the load starts the device's final reconnect (sending has stopped)
  kSettled,       // the load stopped watching this device after its final sync
};

std::string_view ToString(EventKind kind);
std::optional<EventKind> ParseEventKind(std::string_view text);

// One entry of the history. Only the fields its kind names are set.
struct Event {
  EventKind kind = EventKind::kAttempt;
  std::int64_t t_ns = 0;    // steady clock (NowNs())
  std::string device;       // "user:device" where it happened
  int incarnation = 0;      // which life of the device (a restart of its process or client)
  std::string local_id;     // the Send() handle
  std::string mid;          // the server's message id
  std::string from;         // sender user
  std::string from_device;  // sender device
  std::string to;           // recipient user
  std::string text;         // the message text (unique per attempt)
  std::uint64_t seq = 0;    // the displaying user's seq of the message
  std::string detail;       // failure reason; receipt kind

  friend bool operator==(const Event&, const Event&) = default;
};

// One line of JSON, and back (helper processes print events this way). nullopt: not an event.
nlohmann::json ToJson(const Event& event);
std::optional<Event> EventFromJson(const nlohmann::json& json);

std::int64_t NowNs();
// "user:device".
std::string DeviceName(const std::string& user, const std::string& device);
// The user of "user:device".
std::string UserOf(const std::string& device_name);

// What the database holds at the end of a run (store_audit.hpp fills it).
struct StoreFacts {
  // im_chat rows beyond the first per (from_user_id, from_device, client_id).
  std::int64_t chat_key_duplicates = 0;
  // im_offline rows beyond the first per (to_user_id, msg_id) for chats, per
  // (to_user_id, msg_id, msgType) for receipts.
  std::int64_t inbox_duplicates = 0;
  // Chats stored under a second mid with the same (decrypted) text: the same message accepted
  // twice under two ids.
  std::int64_t text_duplicates = 0;
  // Missing seqs in a user's inbox (seqs must be 1..N without gaps; nothing is purged in tests).
  std::int64_t seq_gaps = 0;
  std::unordered_set<std::string> chat_mids;  // every mid in im_chat
};

// Intervals during which the database was down (for sent_while_db_down).
struct Outage {
  std::int64_t from_ns = 0;
  std::int64_t to_ns = 0;
};

// The checker's figures. Definitions (a "covered" device of a message: a device that settled at
// the end and whose last connection before settling came up after the message's SENT and
// reached `synced`: its sync had to bring the message):
struct Figures {
  std::int64_t sent = 0;       // Send() calls accepted (kAttempt)
  std::int64_t acked = 0;      // of those, messages that got SENT
  std::int64_t displayed = 0;  // kDisplayed events
  // SENT but not displayed on some covered device of the recipient (each message counted
  // once): the loss an IM must never have.
  std::int64_t acked_lost = 0;
  // SENT but not displayed on some covered other device of the sender (their copy).
  std::int64_t copies_lost = 0;
  // Displays beyond the first, on one device within one incarnation (or across a clean
  // restart), of the same mid or the same message (text).
  std::int64_t dup_displayed = 0;
  // The same, but the earlier display was in an incarnation that ended with a kill -9 (the
  // client documents it: what was being shown when the process died may be shown again; the
  // app's history folds it by mid). Reported, not counted as dup_displayed.
  std::int64_t crash_redisplayed = 0;
  // Displays of a message, on one device, after a later message of the same stream (sender
  // user, sender device, recipient) had been displayed there.
  std::int64_t order_violations = 0;
  // Displays of something not sent as such: unknown text, another sender/recipient than the
  // attempt's, a device of a third user, or another mid than the one SENT named; also
  // repeated attempt texts.
  std::int64_t unexpected = 0;
  std::int64_t failed_shown = 0;  // kRefused + kFailed: failures the user saw
  // Failed (shown as not sent) although the recipient displayed it or the sender got SENT.
  std::int64_t failed_but_delivered = 0;
  // Attempts with neither SENT nor failure at the end (should be 0 once the outboxes drained).
  std::int64_t unresolved = 0;
  // Store: chat_key_duplicates + inbox_duplicates + text_duplicates (StoreFacts).
  std::int64_t store_duplicate_rows = 0;
  std::int64_t store_seq_gaps = 0;
  // SENT mids that are not in im_chat: SENT without durability.
  std::int64_t store_lost = 0;
  // Receipts shown to a sender's device that should not be: DELIVERED/READ for a mid no
  // recipient device displayed, READ no recipient asked for, READ shown before DELIVERED,
  // a receipt for a mid that is not a message of that user, the same receipt shown twice
  // on one device incarnation.
  std::int64_t receipt_mismatches = 0;
  // Messages displayed on a recipient device whose sending device (settled) never showed
  // DELIVERED. Liveness of receipts: reported, not a safety violation.
  std::int64_t receipts_missing = 0;
  // SENT received for a message first attempted while the database was down (Outage).
  std::int64_t sent_while_db_down = 0;
  // Displays that happened only after the device's final reconnect (`late`): the message was
  // stored but reached the device only through the final sync.
  std::int64_t late = 0;

  // "sent=... acked=... acked_lost=..." on one line.
  std::string ToLine() const;
  // The keys of ToLine, in order, and their values (for tables).
  std::vector<std::pair<std::string, std::int64_t>> Items() const;
  // True when the safety figures asserted by every scenario are 0 (acked_lost, copies_lost,
  // dup_displayed, order_violations, unexpected, store_duplicate_rows, store_lost,
  // store_seq_gaps, receipt_mismatches, sent_while_db_down).
  bool Safe() const;
};

struct CheckOptions {
  std::optional<StoreFacts> store;
  std::vector<Outage> outages;
  // Examples of each violation, for failure messages (at most this many per figure).
  std::size_t max_examples = 5;
};

struct CheckResult {
  Figures figures;
  std::vector<std::string> examples;  // "acked_lost: text=... mid=... device=..." lines
};

// Reads `events` (in any order: it sorts a copy by time) and computes the figures.
CheckResult Check(const std::vector<Event>& events, const CheckOptions& options = {});

// The append-only log, with running counts so that a load can wait for quiescence cheaply.
class History {
 public:
  void Append(Event event);
  // Every event so far, in append order.
  std::vector<Event> Events() const;
  std::size_t size() const;

  // A device the quiescence check watches (its user's incoming messages and the copies of its
  // user's other devices' messages must all be displayed there). Forget() stops watching.
  void Watch(const std::string& device);
  void Forget(const std::string& device);
  // SENT messages a watched device has not displayed yet, summed over the watched devices.
  std::int64_t MissingDisplays() const;
  // Messages accepted by Send() with neither SENT nor a failure yet.
  std::int64_t Unresolved() const;
  std::int64_t AckedCount() const;
  std::int64_t AttemptCount() const;
  std::int64_t DisplayedOn(const std::string& device) const;
  // Devices with an event of `kind` at or after `since_ns`.
  std::size_t DevicesWith(EventKind kind, std::int64_t since_ns) const;

 private:
  struct MessageInfo {
    std::string from;
    std::string from_device;
    std::string to;
    bool resolved = false;
  };
  struct Watched {
    std::unordered_set<std::string> displayed;  // mids displayed
    std::int64_t expected = 0;                  // SENT mids it must display
    std::int64_t matched = 0;                   // of those, displayed
  };
  bool Concerns(const std::string& device, const MessageInfo& info) const;

  mutable std::mutex mutex_;  // guards everything below
  std::vector<Event> events_;
  void ApplySent(const std::string& local_id, const std::string& mid, MessageInfo& info);

  std::unordered_map<std::string, MessageInfo> by_local_;  // attempt local id -> message
  std::unordered_map<std::string, std::string> early_;     // SENT before its attempt was logged
  std::unordered_set<std::string> early_failed_;           // failed before its attempt was logged
  std::unordered_map<std::string, MessageInfo> by_mid_;    // SENT mid -> message
  std::unordered_map<std::string, Watched> watched_;
  std::unordered_map<std::string, std::int64_t> displayed_count_;
  std::unordered_map<std::string, std::int64_t> last_synced_;  // device -> time of its last kSynced
  std::int64_t attempts_ = 0;
  std::int64_t acked_ = 0;
  std::int64_t resolved_ = 0;
};

}  // namespace sparrow::chaos
