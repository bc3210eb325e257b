#include "client/crypto.hpp"

#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "protocol/limits.hpp"

namespace sparrow::client {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

const std::string kKey = std::string(32, 'k');
const BodyContext kContext{"alice", "bob", 42};

TEST(CryptoTest, GcmMatchesTheNistAes256TestVector) {  // GCM spec, test case 16
  const std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string nonce = Unhex("cafebabefacedbaddecaf888");
  const std::string plain = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
      "49a6b525b16aedf5aa0de657ba637b39");
  const std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string sealed = GcmSeal(key, nonce, aad, plain);
  EXPECT_EQ(common::HexEncode(sealed),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b"
            "1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b");
  EXPECT_EQ(GcmOpen(key, nonce, aad, sealed), plain);
}

TEST(CryptoTest, BodyRoundTripsAndIsBase64OfNonceCiphertextAndTag) {
  const std::string body = SealBody(kKey, kContext, "hello bob");
  const auto raw = common::Base64Decode(body);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), kNonceBytes + 9 + kTagBytes);
  EXPECT_EQ(OpenBody(kKey, kContext, body), "hello bob");
}

TEST(CryptoTest, EverySealUsesAFreshNonce) {
  const std::string a = SealBody(kKey, kContext, "same text");
  const std::string b = SealBody(kKey, kContext, "same text");
  EXPECT_NE(a, b);
  EXPECT_NE(common::Base64Decode(a)->substr(0, kNonceBytes),
            common::Base64Decode(b)->substr(0, kNonceBytes));
}

TEST(CryptoTest, TamperedCiphertextNonceOrTagIsRejected) {
  const std::string body = SealBody(kKey, kContext, "transfer 10 coins");
  const std::string raw = *common::Base64Decode(body);
  for (std::size_t i : {std::size_t{0}, kNonceBytes, kNonceBytes + 5, raw.size() - 1}) {
    std::string tampered = raw;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(OpenBody(kKey, kContext, common::Base64Encode(tampered)).has_value()) << i;
  }
  // Truncated: a missing tag byte, or only a nonce.
  EXPECT_FALSE(OpenBody(kKey, kContext, common::Base64Encode(raw.substr(0, raw.size() - 1))));
  EXPECT_FALSE(OpenBody(kKey, kContext, common::Base64Encode(raw.substr(0, kNonceBytes))));
}

TEST(CryptoTest, WrongKeyIsRejected) {
  const std::string body = SealBody(kKey, kContext, "secret");
  std::string other = kKey;
  other[31] = 'x';
  EXPECT_FALSE(OpenBody(other, kContext, body).has_value());
}

TEST(CryptoTest, WrongAssociatedDataIsRejected) {
  const std::string body = SealBody(kKey, kContext, "secret");
  EXPECT_FALSE(OpenBody(kKey, BodyContext{"mallory", "bob", 42}, body).has_value());
  EXPECT_FALSE(OpenBody(kKey, BodyContext{"alice", "carol", 42}, body).has_value());
  EXPECT_FALSE(OpenBody(kKey, BodyContext{"alice", "bob", 43}, body).has_value());
  EXPECT_FALSE(OpenBody(kKey, BodyContext{"bob", "alice", 42}, body).has_value());
}

TEST(CryptoTest, AssociatedDataIsCanonicalAndLengthPrefixed) {
  EXPECT_NE(AssociatedData({"ab", "c", 1}), AssociatedData({"a", "bc", 1}));
  EXPECT_NE(AssociatedData({"alice", "bob", 1}), AssociatedData({"alice", "bob", 256}));
  EXPECT_EQ(AssociatedData({"alice", "bob", 7}), AssociatedData({"alice", "bob", 7}));
  const std::string aad = AssociatedData({"al", "b", 1});
  EXPECT_EQ(aad, std::string("sparrow-body-v1") + std::string("\0\0\0\2al\0\0\0\1b", 11) +
                     std::string("\0\0\0\0\0\0\0\1", 8));
}

TEST(CryptoTest, NotBase64IsRejected) {
  EXPECT_FALSE(OpenBody(kKey, kContext, "not base64 !!").has_value());
  EXPECT_FALSE(OpenBody(kKey, kContext, "").has_value());
}

TEST(CryptoTest, KeysOfTheWrongLengthAreProgrammingErrors) {
  EXPECT_THROW((void)SealBody("short", kContext, "x"), std::invalid_argument);
  EXPECT_THROW((void)OpenBody("short", kContext, "AAAA"), std::invalid_argument);
}

TEST(CryptoTest, TheLargestPlaintextFitsTheProtocolsBodyLimitAndOneMoreDoesNot) {
  const std::string fits(MaxBodyPlaintextBytes(), 'a');
  EXPECT_LE(SealBody(kKey, kContext, fits).size(), protocol::kMaxBodyBytes);
  EXPECT_GT(SealBody(kKey, kContext, fits + "a").size(), protocol::kMaxBodyBytes);
}

// ---- file contents ----

std::string SealFile(const std::string& key, const std::string& plain, std::size_t chunk) {
  const auto chunks = FileChunkCount(plain.size(), chunk);
  std::string sealed;
  for (std::uint64_t i = 0; i < chunks; ++i) {
    sealed +=
        SealFileChunk(key, i, i + 1 == chunks, std::string_view(plain).substr(i * chunk, chunk));
  }
  return sealed;
}

std::string Pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

TEST(FileCryptoTest, SealedSizeCountsOneTagPerChunkAndOneChunkForAnEmptyFile) {
  EXPECT_EQ(FileChunkCount(0, 1024), 1u);
  EXPECT_EQ(FileChunkCount(1024, 1024), 1u);
  EXPECT_EQ(FileChunkCount(1025, 1024), 2u);
  EXPECT_EQ(SealedFileSize(1025, 1024), 1025u + 2 * kTagBytes);
  EXPECT_EQ(SealFile(kKey, Pattern(1025), 1024).size(), SealedFileSize(1025, 1024));
}

TEST(FileCryptoTest, OpensAStreamArrivingInArbitraryPieces) {
  const std::string plain = Pattern(5000);
  const std::string sealed = SealFile(kKey, plain, 1024);
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{1040}, sealed.size()}) {
    FileOpener opener(kKey, plain.size(), 1024);
    std::string out;
    for (std::size_t i = 0; i < sealed.size(); i += piece) {
      ASSERT_TRUE(opener.Update(std::string_view(sealed).substr(i, piece), out)) << piece;
    }
    EXPECT_TRUE(opener.Finish());
    EXPECT_EQ(out, plain);
  }
}

TEST(FileCryptoTest, EmptyFileRoundTrips) {
  const std::string sealed = SealFile(kKey, "", 1024);
  FileOpener opener(kKey, 0, 1024);
  std::string out;
  EXPECT_TRUE(opener.Update(sealed, out));
  EXPECT_TRUE(opener.Finish());
  EXPECT_TRUE(out.empty());
}

TEST(FileCryptoTest, TamperedTruncatedReorderedOrExtendedContentsFail) {
  const std::string plain = Pattern(3000);
  const std::string sealed = SealFile(kKey, plain, 1024);
  std::string out;
  {
    std::string tampered = sealed;
    tampered[1500] = static_cast<char>(tampered[1500] ^ 1);
    FileOpener opener(kKey, plain.size(), 1024);
    EXPECT_FALSE(opener.Update(tampered, out));
    EXPECT_FALSE(opener.Finish());
  }
  {
    FileOpener opener(kKey, plain.size(), 1024);  // the last chunk never comes
    EXPECT_TRUE(opener.Update(sealed.substr(0, 2 * (1024 + kTagBytes)), out));
    EXPECT_FALSE(opener.Finish());
  }
  {
    // The first two chunks only, presented as a whole file of two chunks: the second chunk was
    // not sealed as the last one, so it fails.
    FileOpener opener(kKey, 2048, 1024);
    EXPECT_FALSE(opener.Update(sealed.substr(0, 2 * (1024 + kTagBytes)), out));
  }
  {
    const std::size_t c = 1024 + kTagBytes;
    std::string swapped = sealed.substr(c, c) + sealed.substr(0, c) + sealed.substr(2 * c);
    FileOpener opener(kKey, plain.size(), 1024);
    EXPECT_FALSE(opener.Update(swapped, out));
  }
  {
    FileOpener opener(kKey, plain.size(), 1024);
    EXPECT_FALSE(opener.Update(sealed + "x", out));
    EXPECT_FALSE(opener.Finish());
  }
  {
    std::string other = kKey;
    other[0] = 'z';
    FileOpener opener(other, plain.size(), 1024);
    EXPECT_FALSE(opener.Update(sealed, out));
  }
}

TEST(FileCryptoTest, Sha256IsIncrementalAndMatchesTheStandardDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 sha;
  sha.Update("a");
  sha.Update("bc");
  EXPECT_EQ(sha.HexDigest(), Sha256Hex("abc"));
}

}  // namespace
}  // namespace sparrow::client
