// The harness's output: one markdown table (a row per scenario: Sparrow beside its ceiling,
// their ratio, the target and whether it was met, CPU and memory of the processes), followed
// by free-form sections (latency detail, the profile), written to bench/results/<date>.md.
//
// Not thread-safe; plain data and formatting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sparrow::bench {

struct Row {
  std::string scenario;
  std::string sparrow;  // Sparrow's figure
  std::string ceiling;  // the ceiling's figure (the raw relay, a bare broker, storage off...)
  std::string ratio;    // Sparrow / ceiling, or the figure the target is about
  std::string target;   // the target and its verdict: "≥ 30%: met" / "missed by 4 points"
  std::string cpu;      // % of one core during the scenario, per process
  std::string rss;      // resident memory, per process
  std::string notes;
};

class Report {
 public:
  void Add(Row row) { rows_.push_back(std::move(row)); }
  // A section printed after the table: "### title" and the text (markdown).
  void AddSection(const std::string& title, const std::string& text);
  const std::vector<Row>& rows() const { return rows_; }

  std::string Table() const;
  // The whole report: a header (`preamble`), the table, the sections.
  std::string Markdown(const std::string& preamble) const;

 private:
  std::vector<Row> rows_;
  std::vector<std::pair<std::string, std::string>> sections_;
};

// Formatting helpers.
std::string Fixed(double value, int decimals);
std::string Thousands(double value);            // 12,345
std::string Percent(double fraction);           // 0.4123 -> "41%"
std::string Millis(std::int64_t nanoseconds);   // "0.42 ms" / "12.3 ms"
std::string Megabytes(std::int64_t kilobytes);  // "12.3 MB"

// "met" / "missed (by ...)" with the comparison spelled out.
std::string AtLeast(double value, double target, const std::string& unit_text);
std::string AtMost(double value, double target, const std::string& unit_text);

// Writes `text` to `dir`/<YYYY-MM-DD>.md, or -2, -3, ... if that exists; returns the path.
std::string WriteResultsFile(const std::string& dir, const std::string& text);

}  // namespace sparrow::bench
