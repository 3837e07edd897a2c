// Record layer units: header rules, reassembly from arbitrary pieces, and protection
// round trips with padding and the RFC 8446 5.2/5.4 failure cases.

#include "crypto/tls/record.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace baton::crypto::tls {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Header(uint8_t type, uint16_t version, uint16_t len) {
  return {type, static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
          static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
}

TEST(RecordHeader, Rules) {
  RecordHeader h;
  EXPECT_EQ(ParseRecordHeader(Header(22, 0x0301, 100), h), RecordStatus::kOk);
  EXPECT_EQ(ParseRecordHeader(Bytes{22, 3, 3}, h), RecordStatus::kNeedMore);
  EXPECT_EQ(ParseRecordHeader(Header(99, 0x0303, 1), h), RecordStatus::kBadType);
  EXPECT_EQ(ParseRecordHeader(Header(22, 0x0203, 1), h), RecordStatus::kBadVersion);
  EXPECT_EQ(ParseRecordHeader(Header(22, 0x0303, 0), h), RecordStatus::kEmptyHandshake);
  EXPECT_EQ(ParseRecordHeader(Header(21, 0x0303, 0), h), RecordStatus::kEmptyHandshake);
  EXPECT_EQ(ParseRecordHeader(Header(23, 0x0303, 0), h), RecordStatus::kOk);
  // 2^14 for plaintext types, 2^14+256 for application_data (ciphertext).
  EXPECT_EQ(ParseRecordHeader(Header(22, 0x0303, 16384), h), RecordStatus::kOk);
  EXPECT_EQ(ParseRecordHeader(Header(22, 0x0303, 16385), h), RecordStatus::kTooLong);
  EXPECT_EQ(ParseRecordHeader(Header(23, 0x0303, 16640), h), RecordStatus::kOk);
  EXPECT_EQ(ParseRecordHeader(Header(23, 0x0303, 16641), h), RecordStatus::kTooLong);
  EXPECT_EQ(AlertFor(RecordStatus::kTooLong), Alert::kRecordOverflow);
}

TEST(RecordAssembler, AnySplit) {
  // Three records back to back, fed in every chunk size from 1 to the whole stream.
  Bytes stream;
  std::vector<Bytes> bodies = {Bytes(7, 1), Bytes(300, 2), Bytes(1, 3)};
  for (const Bytes& b : bodies) {
    Bytes h = Header(22, 0x0303, static_cast<uint16_t>(b.size()));
    stream.insert(stream.end(), h.begin(), h.end());
    stream.insert(stream.end(), b.begin(), b.end());
  }
  for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    RecordAssembler a;
    std::vector<Bytes> got;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      ByteView in(stream.data() + off, std::min(chunk, stream.size() - off));
      while (!in.empty()) {
        size_t used = 0;
        const RecordStatus s = a.Feed(in, used);
        in = in.subspan(used);
        if (s == RecordStatus::kNeedMore) break;
        ASSERT_EQ(s, RecordStatus::kOk);
        got.emplace_back(a.body().begin(), a.body().end());
        a.Reset();
      }
    }
    ASSERT_EQ(got, bodies) << "chunk " << chunk;
  }
}

class Protection : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = CryptoContext::Create();
    ASSERT_TRUE(ctx_.has_value());
    TrafficKey raw;
    raw.alg = AeadAlg::kAes128Gcm;
    for (size_t i = 0; i < raw.key.size(); ++i) raw.key[i] = static_cast<uint8_t>(i);
    for (size_t i = 0; i < raw.iv.size(); ++i) raw.iv[i] = static_cast<uint8_t>(0xa0 + i);
    ASSERT_EQ(ctx_->Expand(raw, key_), CryptoStatus::kOk);
  }
  std::optional<CryptoContext> ctx_;
  AeadKey key_;
};

TEST_F(Protection, RoundTripWithPadding) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{100}, kMaxPlaintextBytes}) {
    for (size_t pad : {size_t{0}, size_t{1}, size_t{200}}) {
      if (len + 1 + pad > kMaxPlaintextBytes + 1 + 255) continue;
      Bytes plain(len, 0x5a);
      Bytes out(kMaxRecordBytes + 300);
      size_t written = 0;
      ASSERT_EQ(Protect(*ctx_, key_, 7, ContentType::kApplicationData, plain, pad, out, written),
                RecordStatus::kOk);
      ASSERT_EQ(written, kRecordHeaderBytes + len + 1 + pad + 16);
      EXPECT_EQ(out[0], 23);
      ContentType type{};
      MutByteView content;
      const RecordStatus s = Unprotect(*ctx_, key_, 7, {out.data(), written}, type, content);
      if (len + 1 + pad > kMaxPlaintextBytes + 1) {
        EXPECT_EQ(s, RecordStatus::kInnerTooLong);
        continue;
      }
      ASSERT_EQ(s, RecordStatus::kOk);
      EXPECT_EQ(type, ContentType::kApplicationData);
      EXPECT_EQ(Bytes(content.begin(), content.end()), plain);
    }
  }
}

TEST_F(Protection, Failures) {
  Bytes out(kMaxRecordBytes);
  size_t written = 0;
  const Bytes plain = {1, 2, 3};
  ASSERT_EQ(Protect(*ctx_, key_, 1, ContentType::kHandshake, plain, 0, out, written),
            RecordStatus::kOk);
  ContentType type{};
  MutByteView content;
  Bytes copy(out.begin(), out.begin() + written);
  EXPECT_EQ(Unprotect(*ctx_, key_, 2, copy, type, content), RecordStatus::kBadMac);  // wrong seq
  copy.assign(out.begin(), out.begin() + written);
  copy[2] ^= 1;  // the header is the AAD
  EXPECT_EQ(Unprotect(*ctx_, key_, 1, copy, type, content), RecordStatus::kBadMac);
  Bytes tiny = Header(23, 0x0303, 16);
  tiny.resize(5 + 16);
  EXPECT_EQ(Unprotect(*ctx_, key_, 1, tiny, type, content), RecordStatus::kBadMac);

  // RFC 8446 5.4: an inner plaintext of zeros only has no content type.
  const Bytes zeros(10, 0);
  ASSERT_EQ(Protect(*ctx_, key_, 3, ContentType::kInvalid, zeros, 0, out, written),
            RecordStatus::kOk);
  EXPECT_EQ(Unprotect(*ctx_, key_, 3, {out.data(), written}, type, content),
            RecordStatus::kNoContentType);
  EXPECT_EQ(AlertFor(RecordStatus::kNoContentType), Alert::kUnexpectedMessage);
}

}  // namespace
}  // namespace baton::crypto::tls
