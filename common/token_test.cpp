#include "common/token.hpp"

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/base64.hpp"
#include "common/error.hpp"

namespace sparrow::common {
namespace {

constexpr std::int64_t kNow = 1764430000123;
constexpr std::int64_t kHour = 3600 * 1000;

class TokenTest : public ::testing::Test {
 protected:
  SigningKey key_ = GenerateSigningKey();
  TokenSigner signer_{key_};
  TokenVerifier verifier_{{key_.public_key}};

  // A token with the given header and payload JSON, signed with `key_` (or left unsigned), so
  // that only the field under test is wrong.
  std::string Forge(const std::string& header, const std::string& payload, bool sign = true) {
    std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
    if (!sign) return input + ".";
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                         input.size(), reinterpret_cast<const unsigned char*>(key_.secret.data()));
    return input + "." +
           Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
  }
  std::string Header() {
    return R"({"alg":"EdDSA","typ":"JWT","kid":")" + signer_.key_id() + "\"}";
  }
};

TEST_F(TokenTest, IssuedTokenVerifiesWithItsClaims) {
  std::string token = signer_.Issue("alice", Role::kUser, kNow, kHour);
  auto outcome = verifier_.Verify(token, kNow + 1000);
  ASSERT_TRUE(outcome.ok()) << ToString(outcome.error);
  EXPECT_EQ(outcome.claims.sub, "alice");
  EXPECT_EQ(outcome.claims.role, Role::kUser);
  EXPECT_EQ(outcome.claims.iat_ms, kNow);  // millisecond precision survives
  EXPECT_EQ(outcome.claims.exp_ms, (kNow + kHour) / 1000 * 1000);
  EXPECT_EQ(outcome.claims.jti.size(), 24u);
  EXPECT_NE(signer_.Issue("alice", Role::kUser, kNow, kHour), token);  // fresh jti
}

TEST_F(TokenTest, RolesRoundTrip) {
  for (Role role : {Role::kUser, Role::kSvc, Role::kOps}) {
    auto outcome = verifier_.Verify(signer_.Issue("bridge", role, kNow, kHour), kNow);
    ASSERT_TRUE(outcome.ok());
    EXPECT_EQ(outcome.claims.role, role);
  }
}

TEST_F(TokenTest, ExpiredTokenIsRefusedAfterTheSkew) {
  std::string token = signer_.Issue("alice", Role::kUser, kNow, kHour);
  std::int64_t exp = (kNow + kHour) / 1000 * 1000;
  EXPECT_TRUE(verifier_.Verify(token, exp + TokenVerifier::kDefaultSkewMs - 1).ok());
  EXPECT_EQ(verifier_.Verify(token, exp + TokenVerifier::kDefaultSkewMs).error,
            TokenError::kExpired);
}

TEST_F(TokenTest, TokenIssuedInTheFutureIsNotYetValid) {
  std::string token = signer_.Issue("alice", Role::kUser, kNow + 10 * 60 * 1000, kHour);
  EXPECT_EQ(verifier_.Verify(token, kNow).error, TokenError::kNotYetValid);
  std::string nbf = Forge(
      Header(),
      R"({"sub":"alice","role":"user","iat":1764430000,"exp":1764439999,"jti":"x","nbf":1764439000})");
  EXPECT_EQ(verifier_.Verify(nbf, kNow).error, TokenError::kNotYetValid);
}

TEST_F(TokenTest, AlgNoneIsRefused) {
  std::string payload =
      R"({"sub":"alice","role":"user","iat":1764430000,"exp":1764439999,"jti":"x"})";
  EXPECT_EQ(verifier_.Verify(Forge(R"({"alg":"none","typ":"JWT"})", payload, false), kNow).error,
            TokenError::kBadAlgorithm);
  EXPECT_EQ(verifier_.Verify(Forge(R"({"alg":"none"})", payload, false), kNow).error,
            TokenError::kBadAlgorithm);
  EXPECT_FALSE(verifier_.Verify(Forge(R"({"typ":"JWT"})", payload, false), kNow).ok());
}

TEST_F(TokenTest, AlgorithmConfusionWithHmacOverThePublicKeyIsRefused) {
  std::string payload =
      R"({"sub":"alice","role":"svc","iat":1764430000,"exp":1764439999,"jti":"x"})";
  std::string input =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":")" + signer_.key_id() + "\"}") + "." +
      Base64UrlEncode(payload);
  unsigned char mac[32];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.public_key.data(), static_cast<int>(key_.public_key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  std::string token =
      input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
  EXPECT_EQ(verifier_.Verify(token, kNow).error, TokenError::kBadAlgorithm);
}

TEST_F(TokenTest, TokenFromAnotherKeyIsRefused) {
  SigningKey other = GenerateSigningKey();
  TokenSigner other_signer(other);
  EXPECT_EQ(verifier_.Verify(other_signer.Issue("alice", Role::kUser, kNow, kHour), kNow).error,
            TokenError::kUnknownKey);
  // Same kid, other key: the signature check catches it.
  std::string payload =
      R"({"sub":"alice","role":"user","iat":1764430000,"exp":1764439999,"jti":"x"})";
  std::string input = Base64UrlEncode(Header()) + "." + Base64UrlEncode(payload);
  unsigned char sig[64];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size(), reinterpret_cast<const unsigned char*>(other.secret.data()));
  EXPECT_EQ(
      verifier_
          .Verify(input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(sig), 64)),
                  kNow)
          .error,
      TokenError::kBadSignature);
}

TEST_F(TokenTest, TamperedClaimsOrSignatureAreRefused) {
  std::string token = signer_.Issue("alice", Role::kUser, kNow, kHour);
  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');
  std::string payload = *Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  std::string promoted = payload;
  promoted.replace(promoted.find("\"user\""), 6, "\"svc\"");
  std::string tampered = token.substr(0, dot1 + 1) + Base64UrlEncode(promoted) + token.substr(dot2);
  EXPECT_EQ(verifier_.Verify(tampered, kNow).error, TokenError::kBadSignature);

  std::string bad_sig = token;
  bad_sig[bad_sig.size() - 5] = bad_sig[bad_sig.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier_.Verify(bad_sig, kNow).error, TokenError::kBadSignature);
}

TEST_F(TokenTest, MalformedTokensAreRefusedWithoutThrowing) {
  for (std::string bad :
       std::vector<std::string>{"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "%%%.%%%.%%%",
                                std::string(5000, 'a'), std::string("\0\0.\0.\0", 7)}) {
    EXPECT_EQ(verifier_.Verify(bad, kNow).error, TokenError::kMalformed) << bad.substr(0, 20);
  }
  // Valid signature over a payload with missing or mistyped claims.
  for (std::string payload :
       {R"([])", R"({"sub":"alice"})",
        R"({"sub":1,"role":"user","iat":1,"exp":1764439999,"jti":"x"})",
        R"({"sub":"alice","role":"root","iat":1,"exp":1764439999,"jti":"x"})",
        R"({"sub":"alice","role":"user","iat":"1","exp":1764439999,"jti":"x"})",
        R"({"sub":"","role":"user","iat":1,"exp":1764439999,"jti":"x"})"}) {
    EXPECT_EQ(verifier_.Verify(Forge(Header(), payload), kNow).error, TokenError::kMalformed)
        << payload;
  }
}

TEST_F(TokenTest, RotatedKeysAreAcceptedWhileListed) {
  SigningKey next = GenerateSigningKey();
  TokenSigner next_signer(next);
  TokenVerifier both({next.public_key, key_.public_key});
  EXPECT_TRUE(both.Verify(signer_.Issue("alice", Role::kUser, kNow, kHour), kNow).ok());
  EXPECT_TRUE(both.Verify(next_signer.Issue("alice", Role::kUser, kNow, kHour), kNow).ok());
}

TEST(TokenKeyFilesTest, CreatesPrivateKeyOnceAndReloadsIt) {
  auto dir = std::filesystem::temp_directory_path() /
             ("sparrow-keys-" + std::to_string(::getpid()) + "-" + std::to_string(kNow));
  std::filesystem::remove_all(dir);
  SigningKey first = LoadOrCreateSigningKey(dir.string());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "token_secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  SigningKey again = LoadOrCreateSigningKey(dir.string());
  EXPECT_EQ(first.secret, again.secret);
  auto publics = LoadPublicKeys((dir / "token_public.key").string());
  ASSERT_EQ(publics.size(), 1u);
  EXPECT_EQ(publics[0], first.public_key);

  ::chmod((dir / "token_secret.key").c_str(), 0644);
  EXPECT_THROW(LoadOrCreateSigningKey(dir.string()), ConfigError);
  std::filesystem::remove_all(dir);
}

TEST(TokenKeyFilesTest, BadPublicKeyFileNamesTheLine) {
  auto path =
      std::filesystem::temp_directory_path() / ("sparrow-pub-" + std::to_string(::getpid()));
  std::ofstream(path) << "# comment\nnot-base64!\n";
  try {
    LoadPublicKeys(path.string());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sparrow::common

namespace sparrow::common {
namespace {

TEST(PeekSubjectTest, ReadsSubWithoutVerifying) {
  TokenSigner signer(GenerateSigningKey());
  EXPECT_EQ(PeekSubject(signer.Issue("bridge", Role::kSvc, 1764430000000, 1000)), "bridge");
  EXPECT_FALSE(PeekSubject("garbage").has_value());
  EXPECT_FALSE(PeekSubject("a.b.c").has_value());
}

}  // namespace
}  // namespace sparrow::common

namespace sparrow::common {
namespace {

TEST(TokenKeyFilesTest, ProcessesStartingTogetherAgreeOnOneKey) {
  auto dir =
      std::filesystem::temp_directory_path() / ("sparrow-keys-race-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<std::thread> threads;
  std::vector<std::string> secrets(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { secrets[i] = LoadOrCreateSigningKey(dir.string()).secret; });
  }
  for (auto& t : threads) t.join();
  for (const auto& secret : secrets) EXPECT_EQ(secret, secrets[0]);
  EXPECT_EQ(LoadPublicKeys((dir / "token_public.key").string()).size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sparrow::common
