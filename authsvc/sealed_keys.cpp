#include "authsvc/sealed_keys.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"

namespace sparrow::authsvc {
namespace {

constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw common::Error("libsodium failed to initialise");
}

}  // namespace

std::string NewRelationKey() { return common::RandomBytes(kRelationKeyBytes); }

std::string RelationContext(std::string_view a, std::string_view b) {
  if (b < a) std::swap(a, b);
  std::string context = "sparrow.relation.v1:";
  context.append(a);
  context.push_back('/');
  context.append(b);
  return context;
}

KeySealer::KeySealer(std::vector<std::string> master_keys) : keys_(std::move(master_keys)) {
  EnsureSodium();
  if (keys_.empty()) throw common::ConfigError("master key: no key given");
  for (const auto& key : keys_) {
    if (key.size() != kKeyBytes) throw common::ConfigError("master key: a key is not 32 bytes");
  }
}

std::string KeySealer::Seal(std::string_view plaintext, std::string_view context) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonceBytes, &written, Bytes(plaintext),
                                             plaintext.size(), Bytes(context), context.size(),
                                             nullptr, nonce, Bytes(keys_.front()));
  out.resize(kNonceBytes + written);
  return common::Base64Encode(out);
}

std::optional<std::string> KeySealer::Unseal(std::string_view sealed,
                                             std::string_view context) const {
  auto raw = common::Base64Decode(sealed);
  if (!raw || raw->size() < kNonceBytes + kTagBytes) return std::nullopt;
  const auto* nonce = Bytes(*raw);
  const std::size_t cipher_size = raw->size() - kNonceBytes;
  std::string plain(cipher_size - kTagBytes, '\0');
  for (const auto& key : keys_) {
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &written, nullptr, nonce + kNonceBytes,
            cipher_size, Bytes(context), context.size(), nonce, Bytes(key)) == 0) {
      plain.resize(written);
      return plain;
    }
  }
  return std::nullopt;
}

KeySealer LoadOrCreateKeySealer(const std::string& dir) {
  EnsureSodium();
  namespace fs = std::filesystem;
  const fs::path folder(dir);
  std::error_code ec;
  fs::create_directories(folder, ec);
  ::chmod(folder.c_str(), 0700);
  const fs::path path = folder / "master.key";
  const std::string name = path.string();

  if (!fs::exists(path)) {
    // Written to a private temporary file, then linked into place: link() fails if the key
    // exists, so two processes starting together never see a half-written file nor two keys.
    const fs::path tmp = folder / ("master.key.tmp." + common::NewFileId());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw common::ConfigError("cannot create master key file " + name);
    const std::string line = common::Base64Encode(common::RandomBytes(kKeyBytes)) + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    const bool linked = ok && (::link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST);
    fs::remove(tmp, ec);
    if (!linked) throw common::ConfigError("cannot write master key file " + name);
  }

  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw common::ConfigError("cannot read " + name);
  if ((st.st_mode & 077) != 0) {
    throw common::ConfigError("master key file " + name + " is readable by others: chmod 600 it");
  }
  std::ifstream in(path);
  if (!in) throw common::ConfigError("cannot read master key file " + name);
  std::vector<std::string> keys;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto key = common::Base64Decode(line);
    if (!key || key->size() != kKeyBytes) {
      throw common::ConfigError("master key file " + name + " line " + std::to_string(number) +
                                ": not a base64 32-byte key");
    }
    keys.push_back(std::move(*key));
  }
  if (keys.empty()) throw common::ConfigError("master key file " + name + " holds no key");
  return KeySealer(std::move(keys));
}

}  // namespace sparrow::authsvc
