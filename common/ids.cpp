#include "common/ids.hpp"

#include <sodium.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace sparrow::common {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr char kLowerBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

// Random bytes from a per-thread buffer refilled from libsodium 4 KiB at a time: one
// getrandom syscall per ~400 mids instead of one each (the bridge mints one per chat). The
// bytes are still the CSPRNG's, unpredictable to others.
void FillRandom(void* out, std::size_t n) {
  thread_local unsigned char buffer[4096];
  thread_local std::size_t used = sizeof buffer;
  auto* dest = static_cast<unsigned char*>(out);
  if (n > sizeof buffer / 4) {  // big requests go straight to the source
    randombytes_buf(dest, n);
    return;
  }
  if (used + n > sizeof buffer) {
    randombytes_buf(buffer, sizeof buffer);
    used = 0;
  }
  std::memcpy(dest, buffer + used, n);
  sodium_memzero(buffer + used, n);  // never hand out the same bytes twice
  used += n;
}

}  // namespace

std::string RandomBytes(std::size_t n) {
  EnsureSodium();
  std::string out(n, '\0');
  FillRandom(out.data(), n);
  return out;
}

std::string NewMid(std::int64_t wall_millis) {
  EnsureSodium();
  std::array<unsigned char, 16> bytes{};
  auto ts = static_cast<std::uint64_t>(wall_millis);
  for (int i = 5; i >= 0; --i) {
    bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ts & 0xff);
    ts >>= 8;
  }
  FillRandom(bytes.data() + 6, 10);
  // 128 bits -> 26 base32 digits (the first digit carries the top 3 bits).
  std::string out(26, '0');
  // Read 5 bits at a time from the big-endian 128-bit number, the first digit taking 3 bits.
  auto bit = [&bytes](int index) {  // index 0 = most significant
    return (bytes[static_cast<std::size_t>(index / 8)] >> (7 - index % 8)) & 1;
  };
  int position = -2;  // 26 * 5 = 130 bits: two leading zero bits
  for (std::size_t digit = 0; digit < 26; ++digit) {
    unsigned value = 0;
    for (int k = 0; k < 5; ++k, ++position)
      value = (value << 1) | (position < 0 ? 0u : bit(position));
    out[digit] = kCrockford[value];
  }
  return out;
}

std::string NewFileId() {
  std::string raw = RandomBytes(20);  // 160 bits -> exactly 32 base32 digits
  std::string out;
  out.reserve(32);
  std::uint64_t buffer = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kLowerBase32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  return out;
}

bool LooksLikeMid(const std::string& s) {
  if (s.size() != 26) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') ||
              (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U');
    if (!ok) return false;
  }
  return s[0] <= '7';
}

}  // namespace sparrow::common
