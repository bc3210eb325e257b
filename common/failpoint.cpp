#include "common/failpoint.hpp"

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

namespace sparrow::common {
namespace {

struct Point {
  double probability = 0;  // > 0: each pass fails with it
  long nth = 0;            // > 0: the nth pass fails
  long passes = 0;         // guarded by Armed::mutex
};

struct Armed {
  std::unordered_map<std::string, Point> points;
  std::mutex mutex;  // guards rng
  std::mt19937_64 rng{std::random_device{}()};
};

Armed& Points() {
  static Armed* armed = [] {
    auto* a = new Armed();
    const char* spec = std::getenv("SPARROW_FAILPOINTS");
    std::string text = spec != nullptr ? spec : "";
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t comma = text.find(',', start);
      std::string item =
          text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      std::size_t eq = item.find('=');
      if (eq != std::string::npos) {
        const char* value = item.c_str() + eq + 1;
        char* end = nullptr;
        Point point;
        if (*value == '#') {
          point.nth = std::strtol(value + 1, &end, 10);
          if (end == value + 1) point.nth = 0;
        } else {
          point.probability = std::strtod(value, &end);
          if (end == value) point.probability = 0;
        }
        if (point.nth > 0 || point.probability > 0) a->points[item.substr(0, eq)] = point;
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return a;
  }();
  return *armed;
}

}  // namespace

bool FailpointHit(std::string_view name) {
  Armed& armed = Points();
  if (armed.points.empty()) return false;
  auto it = armed.points.find(std::string(name));
  if (it == armed.points.end()) return false;
  Point& point = it->second;
  std::lock_guard<std::mutex> lock(armed.mutex);
  if (point.nth > 0) return ++point.passes == point.nth;
  if (point.probability >= 1.0) return true;
  return std::uniform_real_distribution<double>(0.0, 1.0)(armed.rng) < point.probability;
}

void Failpoint(std::string_view name) {
  if (!FailpointHit(name)) return;
  // No logging machinery: write and die, as a crash would.
  std::string line = "failpoint hit: " + std::string(name) + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  std::abort();
}

}  // namespace sparrow::common
