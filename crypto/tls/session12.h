#pragma once

// TLS 1.2 session resumption state: what a resumable session is (Tls12Session), where
// sessions named by a session id live (Tls12SessionCache, outside the copyable
// connection state), and session tickets (RFC 5077) sealed with a server ticket key.
//
// Ticket format (ours; RFC 5077 4 only recommends one): key_name(16) || nonce(12) ||
// AES-256-GCM(serialized session) || tag(16), the key name as additional data. The
// serialized session is an explicit byte-order encoding with a format byte (STYLE.md 13),
// never a struct image, so tickets stay valid across builds.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <type_traits>
#include <vector>

#include "crypto/aead.h"
#include "crypto/tls/key_exchange.h"
#include "crypto/tls/record12.h"
#include "crypto/types.h"

namespace baton::crypto::tls {

inline constexpr size_t kMaxSessionIdBytes = 32;  // RFC 5246 7.4.1.2
inline constexpr size_t kTls12TicketKeyNameBytes = 16;
inline constexpr size_t kTls12TicketNonceBytes = 12;

// A resumable session (RFC 5246 8.1: the master secret and the suite) plus what must
// match on resumption: the SNI (RFC 6066 3). Extended master secret is implied: we never
// make a session without it (RFC 7627 5.3). Trivially copyable.
struct Tls12Session {
  uint16_t suite = 0;
  uint64_t created_s = 0;  // Unix seconds at creation (Tls12Server::set_now_ms)
  MasterSecret12 master_secret{};
  uint8_t sni_len = 0;
  std::array<char, 255> sni{};

  void Wipe() noexcept;
};
static_assert(std::is_trivially_copyable_v<Tls12Session>);

// Where sessions named by a session id live. Owned by the caller and shared by the
// sessions of whatever scope it chooses (one lcore, one box, a cluster); the connection
// state only holds the id. Implementations decide their own locking and eviction.
class Tls12SessionCache {
 public:
  virtual ~Tls12SessionCache() = default;
  virtual void Put(ByteView id, const Tls12Session& session) noexcept = 0;
  // false when the id is unknown (or evicted).
  virtual bool Get(ByteView id, Tls12Session& out) noexcept = 0;
  virtual void Remove(ByteView id) noexcept = 0;
};

// A bounded in-memory cache with FIFO eviction. Not thread-safe: one per lcore, or for
// tests. HEAP: Put allocates (once per full handshake).
class Tls12MemorySessionCache final : public Tls12SessionCache {
 public:
  explicit Tls12MemorySessionCache(size_t capacity) noexcept : capacity_(capacity) {}
  ~Tls12MemorySessionCache() override;
  void Put(ByteView id, const Tls12Session& session) noexcept override;
  bool Get(ByteView id, Tls12Session& out) noexcept override;
  void Remove(ByteView id) noexcept override;
  size_t size() const noexcept { return entries_.size(); }

 private:
  using Key = std::vector<uint8_t>;
  size_t capacity_;
  std::map<Key, Tls12Session> entries_;
  std::deque<Key> order_;  // insertion order, for eviction; may hold removed ids
};

// A ticket key: 16-byte name (sent in the clear, picks the key) and an AES-256-GCM key.
// Cluster-wide rotation is the caller's job: seal with the newest, keep older ones for
// opening (Tls12Config::ticket_keys).
struct Tls12TicketKey {
  std::array<uint8_t, kTls12TicketKeyNameBytes> name{};
  std::array<uint8_t, 32> key{};
};
static_assert(std::is_trivially_copyable_v<Tls12TicketKey>);

// Seals `session` under `key` into `ticket` (replaced). The nonce comes from `random`.
// HEAP: the ticket vector, once per issued ticket.
[[nodiscard]] bool SealTls12Ticket(CryptoContext& ctx, const Tls12TicketKey& key,
                              const Tls12Session& session, RandomFn random, void* random_ctx,
                              std::vector<uint8_t>& ticket) noexcept;

// Opens a ticket with whichever of `keys` has its name; false for unknown names, bad tags
// and malformed contents (never an alert: RFC 5077 3.4, an unusable ticket just means a
// full handshake).
[[nodiscard]] bool OpenTls12Ticket(CryptoContext& ctx, std::span<const Tls12TicketKey> keys,
                              ByteView ticket, Tls12Session& out) noexcept;

}  // namespace baton::crypto::tls
