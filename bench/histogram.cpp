#include "bench/histogram.hpp"

#include <algorithm>
#include <bit>

namespace sparrow::bench {

int LatencyHistogram::BucketOf(std::int64_t value) {
  if (value < kExactBelow) return value < 0 ? 0 : static_cast<int>(value);
  // value >> shift lands in [64, 128): shift = bit_width(value) - 7.
  const int shift = std::bit_width(static_cast<std::uint64_t>(value)) - (kSubBits + 1);
  if (shift > kMaxShift) return kBuckets - 1;
  const int mantissa = static_cast<int>(value >> shift) - (1 << kSubBits);  // 0..63
  return kExactBelow + (shift - 1) * (1 << kSubBits) + mantissa;
}

std::int64_t LatencyHistogram::UpperBoundOf(int bucket) {
  if (bucket < kExactBelow) return bucket;
  const int shift = (bucket - static_cast<int>(kExactBelow)) / (1 << kSubBits) + 1;
  const int mantissa = (bucket - static_cast<int>(kExactBelow)) % (1 << kSubBits);
  const std::int64_t low = static_cast<std::int64_t>((1 << kSubBits) + mantissa) << shift;
  return low + (std::int64_t{1} << shift) - 1;
}

void LatencyHistogram::Record(std::int64_t value) {
  if (value < 0) value = 0;
  ++buckets_[static_cast<std::size_t>(BucketOf(value))];
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  sum_ += value;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

void LatencyHistogram::Clear() { *this = LatencyHistogram{}; }

std::int64_t LatencyHistogram::Percentile(double fraction) const {
  if (count_ == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  // The rank of the value asked for, 1-based: at least one value.
  auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(count_) + 0.5);
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperBoundOf(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace sparrow::bench
