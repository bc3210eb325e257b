#include "common/token.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"

namespace sparrow::common {
namespace {

using nlohmann::json;

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw Error("libsodium failed to initialise");
}

std::string HeaderFor(const std::string& kid) {
  return json{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", kid}}.dump();
}

// Millisecond iat as a JSON NumericDate with three decimals (RFC 7519 allows fractions), so a
// revocation at millisecond t refuses tokens issued before t and accepts those issued after.
std::string NumericDate(std::int64_t ms) {
  std::ostringstream out;
  out << ms / 1000 << '.' << static_cast<char>('0' + ms % 1000 / 100)
      << static_cast<char>('0' + ms % 100 / 10) << static_cast<char>('0' + ms % 10);
  return out.str();
}

std::optional<std::int64_t> ReadDateMs(const json& value) {
  if (value.is_number_integer()) {
    auto s = value.get<std::int64_t>();
    if (s < 0 || s > 4'000'000'000'000LL / 1000) return std::nullopt;
    return s * 1000;
  }
  if (value.is_number_float()) {
    double s = value.get<double>();
    if (!std::isfinite(s) || s < 0 || s > 4'000'000'000.0) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(s * 1000.0));
  }
  return std::nullopt;
}

void WriteFileExclusive(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw ConfigError("cannot create key file " + path.string());
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      throw ConfigError("cannot write key file " + path.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
}

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read key file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kUser:
      return "user";
    case Role::kSvc:
      return "svc";
    case Role::kOps:
      return "ops";
  }
  return "user";
}

std::optional<Role> ParseRole(std::string_view text) {
  if (text == "user") return Role::kUser;
  if (text == "svc") return Role::kSvc;
  if (text == "ops") return Role::kOps;
  return std::nullopt;
}

std::string_view ToString(TokenError error) {
  switch (error) {
    case TokenError::kNone:
      return "ok";
    case TokenError::kMalformed:
      return "malformed";
    case TokenError::kBadAlgorithm:
      return "bad_algorithm";
    case TokenError::kUnknownKey:
      return "unknown_key";
    case TokenError::kBadSignature:
      return "bad_signature";
    case TokenError::kExpired:
      return "expired";
    case TokenError::kNotYetValid:
      return "not_yet_valid";
  }
  return "malformed";
}

SigningKey GenerateSigningKey() {
  EnsureSodium();
  SigningKey key;
  key.secret.resize(crypto_sign_SECRETKEYBYTES);
  key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(key.public_key.data()),
                      reinterpret_cast<unsigned char*>(key.secret.data()));
  return key;
}

std::string KeyId(std::string_view public_key) {
  EnsureSodium();
  unsigned char hash[8];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(public_key.data()),
                     public_key.size(), nullptr, 0);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
}

TokenSigner::TokenSigner(SigningKey key) : key_(std::move(key)), kid_(KeyId(key_.public_key)) {
  if (key_.secret.size() != crypto_sign_SECRETKEYBYTES ||
      key_.public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    throw ConfigError("token signing key has the wrong size");
  }
}

std::string TokenSigner::Issue(std::string_view sub, Role role, std::int64_t now_ms,
                               std::int64_t ttl_ms) const {
  TokenClaims claims;
  claims.sub = std::string(sub);
  claims.role = role;
  claims.iat_ms = now_ms;
  claims.exp_ms = (now_ms + ttl_ms) / 1000 * 1000;
  claims.jti = HexEncode(RandomBytes(12));
  return Sign(claims);
}

std::string TokenSigner::Sign(const TokenClaims& claims) const {
  // The payload is written by hand so iat keeps its millisecond decimals exactly.
  std::string payload = "{\"sub\":" + json(claims.sub).dump() + ",\"role\":\"" +
                        std::string(ToString(claims.role)) +
                        "\",\"iat\":" + NumericDate(claims.iat_ms) +
                        ",\"exp\":" + std::to_string(claims.exp_ms / 1000) +
                        ",\"jti\":" + json(claims.jti).dump() + "}";
  std::string signing_input = Base64UrlEncode(HeaderFor(kid_)) + "." + Base64UrlEncode(payload);
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(
      signature, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size(), reinterpret_cast<const unsigned char*>(key_.secret.data()));
  return signing_input + "." +
         Base64UrlEncode(
             std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

TokenVerifier::TokenVerifier(std::vector<std::string> public_keys, std::int64_t skew_ms)
    : skew_ms_(skew_ms) {
  EnsureSodium();
  for (auto& key : public_keys) {
    if (key.size() != crypto_sign_PUBLICKEYBYTES) {
      throw ConfigError("token public key has the wrong size (want 32 bytes)");
    }
    keys_.push_back({KeyId(key), std::move(key)});
  }
  if (keys_.empty()) throw ConfigError("no token public key configured");
}

VerifyOutcome TokenVerifier::Verify(std::string_view token, std::int64_t now_ms) const noexcept {
  VerifyOutcome out;
  try {
    if (token.empty() || token.size() > kMaxTokenBytes) return out;
    auto dot1 = token.find('.');
    if (dot1 == std::string_view::npos) return out;
    auto dot2 = token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
      return out;
    }
    auto header_text = Base64UrlDecode(token.substr(0, dot1));
    auto payload_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    auto signature = Base64UrlDecode(token.substr(dot2 + 1));
    if (!header_text || !payload_text || !signature) return out;
    // Canonical base64url only: re-encoding must give the same text (no trailing bits).
    if (Base64UrlEncode(*signature) != token.substr(dot2 + 1)) return out;

    json header = json::parse(*header_text, nullptr, /*allow_exceptions=*/false);
    if (!header.is_object()) return out;
    auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string()) return out;
    if (alg->get_ref<const std::string&>() != "EdDSA") {
      out.error = TokenError::kBadAlgorithm;
      return out;
    }
    auto kid = header.find("kid");
    if (kid == header.end() || !kid->is_string()) {
      out.error = TokenError::kUnknownKey;
      return out;
    }
    const Key* key = nullptr;
    for (const auto& candidate : keys_) {
      if (candidate.kid == kid->get_ref<const std::string&>()) key = &candidate;
    }
    if (key == nullptr) {
      out.error = TokenError::kUnknownKey;
      return out;
    }
    if (signature->size() != crypto_sign_BYTES) return out;
    std::string_view signing_input = token.substr(0, dot2);
    if (crypto_sign_verify_detached(
            reinterpret_cast<const unsigned char*>(signature->data()),
            reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
            reinterpret_cast<const unsigned char*>(key->public_key.data())) != 0) {
      out.error = TokenError::kBadSignature;
      return out;
    }

    json payload = json::parse(*payload_text, nullptr, /*allow_exceptions=*/false);
    if (!payload.is_object()) return out;
    auto sub = payload.find("sub");
    auto role = payload.find("role");
    auto iat = payload.find("iat");
    auto exp = payload.find("exp");
    auto jti = payload.find("jti");
    if (sub == payload.end() || !sub->is_string() || role == payload.end() || !role->is_string() ||
        iat == payload.end() || exp == payload.end() || jti == payload.end() || !jti->is_string()) {
      return out;
    }
    auto parsed_role = ParseRole(role->get_ref<const std::string&>());
    auto iat_ms = ReadDateMs(*iat);
    auto exp_ms = ReadDateMs(*exp);
    const auto& sub_text = sub->get_ref<const std::string&>();
    if (!parsed_role || !iat_ms || !exp_ms || sub_text.empty() || sub_text.size() > 64) return out;
    if (*exp_ms + skew_ms_ <= now_ms) {
      out.error = TokenError::kExpired;
      return out;
    }
    if (*iat_ms > now_ms + skew_ms_) {
      out.error = TokenError::kNotYetValid;
      return out;
    }
    if (auto nbf = payload.find("nbf"); nbf != payload.end()) {
      auto nbf_ms = ReadDateMs(*nbf);
      if (!nbf_ms) return out;
      if (*nbf_ms > now_ms + skew_ms_) {
        out.error = TokenError::kNotYetValid;
        return out;
      }
    }
    out.claims.sub = sub_text;
    out.claims.role = *parsed_role;
    out.claims.iat_ms = *iat_ms;
    out.claims.exp_ms = *exp_ms;
    out.claims.jti = jti->get_ref<const std::string&>();
    out.error = TokenError::kNone;
    return out;
  } catch (...) {  // boundary: a verifier never throws (bad_alloc included); fail closed
    out.error = TokenError::kMalformed;
    return out;
  }
}

std::optional<std::string> PeekSubject(std::string_view token) {
  auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  auto payload_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_text) return std::nullopt;
  json payload = json::parse(*payload_text, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || !payload.contains("sub") || !payload["sub"].is_string()) {
    return std::nullopt;
  }
  return payload["sub"].get<std::string>();
}

SigningKey LoadOrCreateSigningKey(const std::string& dir) {
  EnsureSodium();
  namespace fs = std::filesystem;
  fs::path folder(dir);
  std::error_code ec;
  fs::create_directories(folder, ec);
  ::chmod(folder.c_str(), 0700);
  fs::path secret_path = folder / "token_secret.key";
  fs::path public_path = folder / "token_public.key";

  SigningKey key;
  if (!fs::exists(secret_path)) {
    // Two processes may start at once on a fresh folder: the key is written whole to a file of
    // our own, then linked into place, which succeeds for exactly one of them (the others get
    // EEXIST and read the winner's key below).
    fs::path tmp = secret_path;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + HexEncode(RandomBytes(4));
    WriteFileExclusive(tmp, Base64Encode(GenerateSigningKey().secret) + "\n", 0600);
    if (::link(tmp.c_str(), secret_path.c_str()) != 0 && errno != EEXIST) {
      fs::remove(tmp, ec);
      throw ConfigError("cannot create key file " + secret_path.string());
    }
    fs::remove(tmp, ec);
  }
  {
    struct stat st {};
    if (::stat(secret_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      throw ConfigError("key file " + secret_path.string() +
                        " is readable by others: chmod 600 it");
    }
    std::string text = ReadWholeFile(secret_path);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto secret = Base64Decode(text);
    if (!secret || secret->size() != crypto_sign_SECRETKEYBYTES) {
      throw ConfigError("key file " + secret_path.string() + " does not hold an Ed25519 key");
    }
    key.secret = *secret;
    key.public_key.resize(crypto_sign_PUBLICKEYBYTES);
    crypto_sign_ed25519_sk_to_pk(reinterpret_cast<unsigned char*>(key.public_key.data()),
                                 reinterpret_cast<const unsigned char*>(key.secret.data()));
  }
  // The public file lists the current key first, then any older keys still accepted.
  std::vector<std::string> lines{Base64Encode(key.public_key)};
  std::string current;
  if (fs::exists(public_path)) {
    current = ReadWholeFile(public_path);
    std::istringstream in(current);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line != lines.front()) lines.push_back(line);
    }
  }
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  if (text == current) return key;  // nothing to change: readers never see a rewrite
  // A temporary name of our own, then an atomic rename: concurrent starts cannot collide.
  fs::path tmp = public_path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + HexEncode(RandomBytes(4));
  WriteFileExclusive(tmp, text, 0644);
  fs::rename(tmp, public_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw ConfigError("cannot replace key file " + public_path.string());
  }
  return key;
}

std::vector<std::string> LoadPublicKeys(const std::string& path) {
  std::istringstream in(ReadWholeFile(path));
  std::vector<std::string> keys;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto key = Base64Decode(line);
    if (!key || key->size() != crypto_sign_PUBLICKEYBYTES) {
      throw ConfigError("public key file " + path + " line " + std::to_string(number) +
                        ": not a base64 Ed25519 public key");
    }
    keys.push_back(*key);
  }
  if (keys.empty()) throw ConfigError("public key file " + path + " holds no key");
  return keys;
}

}  // namespace sparrow::common
