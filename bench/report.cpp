#include "bench/report.hpp"

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sparrow::bench {
namespace {

std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += "<br>";
    } else {
      out += c;
    }
  }
  return out.empty() ? "-" : out;
}

}  // namespace

void Report::AddSection(const std::string& title, const std::string& text) {
  sections_.emplace_back(title, text);
}

std::string Report::Table() const {
  std::ostringstream out;
  out << "| scenario | Sparrow | ceiling | ratio | target | CPU (% of a core) | RSS | notes |\n";
  out << "|---|---:|---:|---:|---|---|---|---|\n";
  for (const Row& r : rows_) {
    out << "| " << Cell(r.scenario) << " | " << Cell(r.sparrow) << " | " << Cell(r.ceiling) << " | "
        << Cell(r.ratio) << " | " << Cell(r.target) << " | " << Cell(r.cpu) << " | " << Cell(r.rss)
        << " | " << Cell(r.notes) << " |\n";
  }
  return out.str();
}

std::string Report::Markdown(const std::string& preamble) const {
  std::ostringstream out;
  out << preamble << "\n" << Table();
  for (const auto& [title, text] : sections_) out << "\n### " << title << "\n\n" << text << "\n";
  return out.str();
}

std::string Fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string Thousands(double value) {
  const auto n = static_cast<long long>(std::llround(value));
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string Percent(double fraction) { return Fixed(fraction * 100.0, 0) + "%"; }

std::string Millis(std::int64_t ns) {
  const double ms = static_cast<double>(ns) / 1e6;
  if (ms < 1) return Fixed(ms, 3) + " ms";
  if (ms < 10) return Fixed(ms, 2) + " ms";
  return Fixed(ms, 1) + " ms";
}

std::string Megabytes(std::int64_t kb) {
  return Fixed(static_cast<double>(kb) / 1024.0, 1) + " MB";
}

std::string AtLeast(double value, double target, const std::string& unit_text) {
  if (value >= target) return "met";
  return "missed by " + unit_text;
}

std::string AtMost(double value, double target, const std::string& unit_text) {
  if (value <= target) return "met";
  return "missed by " + unit_text;
}

std::string WriteResultsFile(const std::string& dir, const std::string& text) {
  std::filesystem::create_directories(dir);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  std::filesystem::path path = std::filesystem::path(dir) / (std::string(date) + ".md");
  for (int n = 2; std::filesystem::exists(path); ++n) {
    path = std::filesystem::path(dir) / (std::string(date) + "-" + std::to_string(n) + ".md");
  }
  std::ofstream out(path);
  out << text;
  return path.string();
}

}  // namespace sparrow::bench
