// LatencyHistogram: a fixed-size, log-bucketed histogram of non-negative integers (latencies
// in nanoseconds), in the manner of HdrHistogram: values below 128 are exact, above that each
// power of two is split into 64 buckets, so any recorded value is reported within 1/64
// (1.6%) of itself, from 1 ns to about 2^40 ns (18 minutes). Recording is one index
// computation and an increment; histograms of several threads merge by adding buckets.
//
//   LatencyHistogram h;
//   h.Record(ns);
//   h.Percentile(0.99);   // the value at or below which 99% of the recorded values lie
//
// Not thread-safe: one writer, or a lock around it.
#pragma once

#include <array>
#include <cstdint>

namespace sparrow::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two above 128
  static constexpr std::int64_t kExactBelow = 2 << kSubBits;  // 128
  static constexpr int kMaxShift = 34;                        // 128 << 34 ns, about 2.2e12
  static constexpr int kBuckets = kExactBelow + kMaxShift * (1 << kSubBits);

  // Records `value` (negative counts as 0; beyond the range, as the largest bucket).
  void Record(std::int64_t value);
  void Merge(const LatencyHistogram& other);
  void Clear();

  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  std::int64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The smallest bucket value v such that at least `fraction` (0..1) of the values are <= v
  // (the bucket's upper bound, capped at max()); 0 when empty.
  std::int64_t Percentile(double fraction) const;

  // Bucket arithmetic, exposed for the unit test.
  static int BucketOf(std::int64_t value);
  static std::int64_t UpperBoundOf(int bucket);

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t sum_ = 0;
  std::int64_t max_ = 0;
  std::int64_t min_ = 0;
};

}  // namespace sparrow::bench
