// A byte ring over caller-owned storage. The offsets (RingState) are plain data kept in
// the connection record; the storage stays outside it, so the record has no pointers
// and can be copied to another core or box (ARCHITECTURE.md 4).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace baton::dp::tcp {

struct RingState {
  uint32_t capacity_bytes = 0;
  uint32_t head = 0;        // offset of the oldest byte
  uint32_t size_bytes = 0;  // committed bytes from head
};

// Two contiguous pieces of ring content (the second is empty unless it wraps).
struct RingPieces {
  std::span<const uint8_t> a;
  std::span<const uint8_t> b;
};

// Non-owning view: build one per call from the record's RingState and the storage.
class ByteRing {
 public:
  ByteRing(std::span<uint8_t> storage, RingState& st) noexcept : buf_(storage), st_(st) {}

  uint32_t Size() const noexcept { return st_.size_bytes; }
  uint32_t Free() const noexcept { return st_.capacity_bytes - st_.size_bytes; }
  uint32_t Capacity() const noexcept { return st_.capacity_bytes; }

  // Appends up to Free() bytes; returns how many were taken.
  uint32_t Append(std::span<const uint8_t> in) noexcept {
    const uint32_t n = std::min<uint32_t>(Free(), static_cast<uint32_t>(in.size()));
    WriteAt(st_.size_bytes, in.first(n));
    st_.size_bytes += n;
    return n;
  }

  // Writes beyond the committed end (offset counted from head) without committing;
  // the receive side parks out-of-order data this way. Caller keeps offset+len <= cap.
  void WriteAt(uint32_t offset, std::span<const uint8_t> in) noexcept {
    uint32_t pos = Wrap(st_.head + offset);
    for (size_t done = 0; done < in.size();) {
      const size_t run = std::min<size_t>(in.size() - done, st_.capacity_bytes - pos);
      std::copy_n(in.data() + done, run, buf_.data() + pos);
      done += run;
      pos = Wrap(pos + static_cast<uint32_t>(run));
    }
  }

  // Commits bytes already written past the end by WriteAt.
  void Commit(uint32_t n) noexcept { st_.size_bytes += n; }

  // View of `len` bytes starting `offset` bytes after head (within Size()+parked).
  RingPieces Peek(uint32_t offset, uint32_t len) const noexcept {
    const uint32_t pos = Wrap(st_.head + offset);
    const uint32_t first = std::min(len, st_.capacity_bytes - pos);
    return {std::span<const uint8_t>(buf_.data() + pos, first),
            std::span<const uint8_t>(buf_.data(), len - first)};
  }

  // Copies out and drops up to out.size() bytes from head; returns the count.
  uint32_t Read(std::span<uint8_t> out) noexcept {
    const uint32_t n = std::min<uint32_t>(Size(), static_cast<uint32_t>(out.size()));
    const RingPieces p = Peek(0, n);
    std::copy(p.a.begin(), p.a.end(), out.begin());
    std::copy(p.b.begin(), p.b.end(), out.begin() + static_cast<std::ptrdiff_t>(p.a.size()));
    Consume(n);
    return n;
  }

  void Consume(uint32_t n) noexcept {
    st_.head = Wrap(st_.head + n);
    st_.size_bytes -= n;
  }

 private:
  uint32_t Wrap(uint32_t pos) const noexcept {
    return pos >= st_.capacity_bytes ? pos - st_.capacity_bytes : pos;
  }
  std::span<uint8_t> buf_;
  RingState& st_;
};

}  // namespace baton::dp::tcp
