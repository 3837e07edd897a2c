#pragma once

// Bounded big-endian reader and a growable writer for TLS structures (STYLE.md 11).
// The reader never reads past its end: the first short read makes it fail for good and
// every later read returns zeros/empty views, so a parser checks ok() once at the end.

#include <cstdint>
#include <vector>

#include "crypto/types.h"

namespace baton::crypto::tls {

class Reader {
 public:
  constexpr Reader() noexcept = default;
  explicit constexpr Reader(ByteView data) noexcept : data_(data) {}

  bool ok() const noexcept { return ok_; }
  bool empty() const noexcept { return pos_ == data_.size(); }
  size_t remaining() const noexcept { return data_.size() - pos_; }

  uint8_t U8() noexcept { return static_cast<uint8_t>(Uint(1)); }
  uint16_t U16() noexcept { return static_cast<uint16_t>(Uint(2)); }
  uint32_t U24() noexcept { return static_cast<uint32_t>(Uint(3)); }

  ByteView Bytes(size_t n) noexcept {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return {};
    }
    const ByteView v = data_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  // opaque x<0..2^8-1>, <0..2^16-1>, <0..2^24-1>: the body as a view.
  ByteView Vec8() noexcept { return Bytes(U8()); }
  ByteView Vec16() noexcept { return Bytes(U16()); }
  ByteView Vec24() noexcept { return Bytes(U24()); }
  // The same as a nested reader; a failed length read gives a failed (empty) reader.
  Reader Sub8() noexcept { return Sub(Vec8()); }
  Reader Sub16() noexcept { return Sub(Vec16()); }
  Reader Sub24() noexcept { return Sub(Vec24()); }

 private:
  Reader Sub(ByteView v) noexcept {
    Reader r(v);
    r.ok_ = ok_;
    return r;
  }
  uint32_t Uint(size_t n) noexcept {
    const ByteView b = Bytes(n);
    uint32_t v = 0;
    for (const uint8_t x : b) v = v << 8 | x;
    return v;
  }
  ByteView data_{};
  size_t pos_ = 0;
  bool ok_ = true;
};

// Builds handshake messages. HEAP: used only while building the server's handshake flight
// (once per handshake, next to libcrypto's own allocations for key exchange and signing),
// never on the record path.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) noexcept : out_(out) {}

  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U24(uint32_t v) {
    U8(static_cast<uint8_t>(v >> 16));
    U16(static_cast<uint16_t>(v));
  }
  void Bytes(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }

  // Length-prefixed vector: Begin(n) reserves an n-byte length, End() fills it in.
  size_t Begin(size_t len_bytes) {
    const size_t at = out_.size();
    out_.resize(at + len_bytes);
    return at | len_bytes << 56;
  }
  // false when the body does not fit the length field.
  [[nodiscard]] bool End(size_t mark) {
    const size_t len_bytes = mark >> 56;
    const size_t at = mark & ((size_t{1} << 56) - 1);
    const size_t body = out_.size() - at - len_bytes;
    if (len_bytes < 8 && body >> (8 * len_bytes) != 0) return false;
    for (size_t i = 0; i < len_bytes; ++i) {
      out_[at + i] = static_cast<uint8_t>(body >> (8 * (len_bytes - 1 - i)));
    }
    return true;
  }
  size_t size() const noexcept { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace baton::crypto::tls
