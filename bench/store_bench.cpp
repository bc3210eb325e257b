// store_bench: how much group commit buys. Appends chats through SociMessageStore::Commit with
// 1, 10, 100 and 1000 chats per transaction, on SQLite (WAL; synchronous=FULL, then NORMAL)
// and on MariaDB/MySQL (durable as configured on the server: innodb_flush_log_at_trx_commit=1
// is the default and is printed), and prints one markdown table.
//
//   store_bench [--sqlite-dir DIR] [--mysql mysql://USER[:PASS]@HOST:PORT/] [--frames N]
//               [--repeat R]
//
// --frames N: chats appended per measurement (default 20000). Each chat writes two inbox frames
// (the recipient's and the sender's copy) and one im_chat row, and bumps two users' seqs.
// --repeat R: measure each cell R times and report the median (default 1; machines are shared).
// Every measurement starts on a fresh database (a new SQLite file in DIR, default a temporary
// folder; a new MySQL database `sparrow_bench_<random>`, dropped afterwards), with 200-byte
// frame contents between 100 pairs of users. Without --mysql the MariaDB rows are skipped.
// Results and the command that made them: bench/README.md.
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "offline/database.hpp"
#include "offline/db_url.hpp"
#include "offline/soci_message_store.hpp"

namespace {

using sparrow::offline::ChatWrite;
using sparrow::offline::DbOptions;
using sparrow::offline::SociMessageStore;
using sparrow::offline::SqliteSync;
using sparrow::offline::WriteBatch;

constexpr int kUserPairs = 100;
constexpr std::size_t kContentBytes = 200;
constexpr int kBatchSizes[] = {1, 10, 100, 1000};

struct Measurement {
  int chats = 0;
  double seconds = 0;
};

// The chats of one run, prepared before the clock starts: 100 pairs take turns, each pair's
// messages alternate direction every round, every sender counts its ids from 1.
std::vector<ChatWrite> MakeChats(int count, std::int64_t now) {
  std::vector<ChatWrite> chats;
  chats.reserve(count);
  std::vector<std::int64_t> next_id(2 * kUserPairs, 0);
  for (int i = 0; i < count; ++i) {
    const int pair = i % kUserPairs;
    const bool forward = (i / kUserPairs) % 2 == 0;
    const std::string a = "usera" + std::to_string(pair);
    const std::string b = "userb" + std::to_string(pair);
    ChatWrite chat;
    chat.mid = sparrow::common::NewMid(now);
    chat.from_user = forward ? a : b;
    chat.dest_user = forward ? b : a;
    chat.from_device = "phone";
    chat.client_id = ++next_id[forward ? 2 * pair : 2 * pair + 1];
    chat.gmt_create = now;
    // A frame-like JSON of exactly kContentBytes bytes.
    std::string content = "{\"type\":\"chat\",\"mid\":\"" + chat.mid + "\",\"msgBody\":\"";
    content.resize(kContentBytes - 2, 'x');
    content += "\"}";
    chat.dest_content = content;
    chat.sender_content = content;
    chats.push_back(std::move(chat));
  }
  return chats;
}

// Appends `frames` chats to a fresh store at `url`, `batch` chats per Commit.
Measurement Run(const std::string& url, SqliteSync sync, int batch, int frames) {
  sparrow::common::SystemClock& clock = sparrow::common::SystemClock::Instance();
  SociMessageStore store(DbOptions{.url = url, .sqlite_sync = sync}, clock);
  const int warmup = batch;  // prepares this batch size's statements; not timed
  const std::vector<ChatWrite> chats = MakeChats(frames + warmup, clock.WallMillis());
  auto commit_range = [&](int begin, int end) {
    for (int i = begin; i < end; i += batch) {
      WriteBatch write;
      write.chats.assign(chats.begin() + i, chats.begin() + std::min(end, i + batch));
      (void)store.Commit(write);
    }
  };
  commit_range(0, warmup);
  const auto start = std::chrono::steady_clock::now();
  commit_range(warmup, warmup + frames);
  const auto stop = std::chrono::steady_clock::now();
  return Measurement{frames, std::chrono::duration<double>(stop - start).count()};
}

// The median rate (chats/s) of `repeat` calls of `measure`.
template <typename Measure>
double MedianRate(int repeat, Measure measure) {
  std::vector<double> rates;
  for (int i = 0; i < repeat; ++i) {
    const Measurement m = measure();
    rates.push_back(m.chats / m.seconds);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// A scratch MySQL database on the server at `server_url`, dropped at the end.
class ScratchMySql {
 public:
  explicit ScratchMySql(const std::string& server_url) {
    sparrow::offline::DbUrl url = sparrow::offline::ParseDbUrl(server_url);
    url.database.clear();
    connect_ = sparrow::offline::ToSociTarget(url, DbOptions{}).connect_string;
    name_ = "sparrow_bench_" + sparrow::common::HexEncode(sparrow::common::RandomBytes(4));
    Admin("CREATE DATABASE " + name_ + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    const std::size_t at = server_url.rfind('@');
    const std::size_t slash = server_url.find('/', at == std::string::npos ? 0 : at);
    url_ = server_url.substr(0, slash) + "/" + name_;
  }
  ~ScratchMySql() {
    try {
      Admin("DROP DATABASE IF EXISTS " + name_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "store_bench: cannot drop %s: %s\n", name_.c_str(), e.what());
    }
  }
  ScratchMySql(const ScratchMySql&) = delete;
  ScratchMySql& operator=(const ScratchMySql&) = delete;

  const std::string& url() const { return url_; }

 private:
  void Admin(const std::string& sql) {
    soci::session session(*soci::factory_mysql(), connect_);
    session << sql;
  }
  std::string connect_;
  std::string name_;
  std::string url_;
};

std::string ServerInfo(const std::string& server_url) {
  ScratchMySql scratch(server_url);
  sparrow::offline::Database db(DbOptions{.url = scratch.url()});
  std::string version;
  long long flush = -1;
  db.session() << "SELECT VERSION(), @@innodb_flush_log_at_trx_commit", soci::into(version),
      soci::into(flush);
  return version + ", innodb_flush_log_at_trx_commit=" + std::to_string(flush);
}

void PrintRow(const std::string& label, int batch, double rate, double base) {
  std::printf("| %s | %d | %.0f | %.0f | %.1fx |\n", label.c_str(), batch, rate, 2 * rate,
              rate / base);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"store_bench: message store appends with group commit"};
  std::string sqlite_dir;
  std::string mysql_url;
  int frames = 20000;
  int repeat = 1;
  app.add_option("--sqlite-dir", sqlite_dir, "folder for the SQLite files (default: a temp dir)");
  app.add_option("--mysql", mysql_url, "MariaDB/MySQL server URL mysql://USER[:PASS]@HOST:PORT/");
  app.add_option("--frames", frames, "chats appended per measurement")
      ->check(CLI::Range(1000, 10000000));
  app.add_option("--repeat", repeat, "runs per measurement; the median is reported")
      ->check(CLI::Range(1, 99));
  CLI11_PARSE(app, argc, argv);
  sparrow::common::SetLogLevel("warn");

  std::optional<std::filesystem::path> temp_dir;
  if (sqlite_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "store-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("store_bench: mkdtemp");
      return 1;
    }
    temp_dir = pattern;
    sqlite_dir = pattern;
  }

  int status = 0;
  try {
    std::printf(
        "store_bench: %d chats per measurement (median of %d), %zu-byte frames, %d user pairs\n",
        frames, repeat, kContentBytes, kUserPairs);
    if (!mysql_url.empty()) {
      std::printf("MariaDB: %s (%s)\n", sparrow::offline::RedactDbUrl(mysql_url).c_str(),
                  ServerInfo(mysql_url).c_str());
    }
    std::printf("SQLite: WAL, files in %s\n\n", sqlite_dir.c_str());
    std::printf("| backend | chats/commit | chats/s | inbox frames/s | vs 1 chat/commit |\n");
    std::printf("|---|---:|---:|---:|---:|\n");

    int run = 0;
    for (SqliteSync sync : {SqliteSync::kFull, SqliteSync::kNormal}) {
      const std::string label = sync == SqliteSync::kFull ? "SQLite WAL, synchronous=FULL"
                                                          : "SQLite WAL, synchronous=NORMAL";
      double base = 0;
      for (int batch : kBatchSizes) {
        const double rate = MedianRate(repeat, [&] {
          const std::filesystem::path path =
              std::filesystem::path(sqlite_dir) / ("bench-" + std::to_string(++run) + ".db");
          const Measurement m = Run("sqlite:" + path.string(), sync, batch, frames);
          for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path.string() + suffix);
          }
          return m;
        });
        if (batch == 1) base = rate;
        PrintRow(label, batch, rate, base);
      }
    }
    if (!mysql_url.empty()) {
      double base = 0;
      for (int batch : kBatchSizes) {
        const double rate = MedianRate(repeat, [&] {
          ScratchMySql scratch(mysql_url);
          return Run(scratch.url(), SqliteSync::kFull, batch, frames);
        });
        if (batch == 1) base = rate;
        PrintRow("MariaDB (InnoDB, log flushed at commit)", batch, rate, base);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "store_bench: %s\n", e.what());
    status = 1;
  }
  if (temp_dir) std::filesystem::remove_all(*temp_dir);
  return status;
}
