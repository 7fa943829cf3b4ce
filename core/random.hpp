// Counter-based random keys (JAX's model: a key is a value; split/fold_in derive new keys; the
// same key gives the same numbers). The generator is Philox-4x32-10: element i of a random
// tensor is a pure function of (key, i), so results do not depend on thread count or device.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <utility>
#include <vector>

#include "elegy/core/host_device.hpp"

namespace elegy {

struct Philox {
  using Block = std::array<std::uint32_t, 4>;

  // Ten rounds of Philox-4x32 (Salmon et al., SC'11) on `counter` under `key`.
  ELEGY_HOST_DEVICE static void generate(const std::uint32_t counter[4], const std::uint32_t key[2],
                                         std::uint32_t out[4]) {
    std::uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = std::uint64_t(0xD2511F53u) * c0;
      const std::uint64_t p1 = std::uint64_t(0xCD9E8D57u) * c2;
      const std::uint32_t n0 = std::uint32_t(p1 >> 32) ^ c1 ^ k0;
      const std::uint32_t n2 = std::uint32_t(p0 >> 32) ^ c3 ^ k1;
      c1 = std::uint32_t(p1);
      c3 = std::uint32_t(p0);
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;  // golden ratio
      k1 += 0xBB67AE85u;  // sqrt(3) - 1
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }

  // The 32-bit word number `index` of the stream under `key`: word i comes from counter i / 4.
  ELEGY_HOST_DEVICE static std::uint32_t word(const std::uint32_t key[2], std::uint64_t index) {
    const std::uint32_t counter[4] = {std::uint32_t(index >> 2), std::uint32_t(index >> 34), 0, 0};
    std::uint32_t out[4];
    generate(counter, key, out);
    return out[index & 3];
  }
};

class Key {
 public:
  explicit Key(std::uint64_t seed = 0) : words_{std::uint32_t(seed), std::uint32_t(seed >> 32)} {}
  static Key from_words(std::uint32_t k0, std::uint32_t k1) {
    Key k;
    k.words_ = {k0, k1};
    return k;
  }
  const std::array<std::uint32_t, 2>& words() const { return words_; }
  friend bool operator==(const Key&, const Key&) = default;

 private:
  std::array<std::uint32_t, 2> words_;
};

// `n` independent keys derived from `key` (the same key and n give the same keys).
std::vector<Key> split(const Key& key, int n);
// Two keys: the usual `auto [k1, k2] = split(key);`.
std::pair<Key, Key> split(const Key& key);
// A key derived from `key` and an integer (a step number, a layer index, ...).
Key fold_in(const Key& key, std::uint32_t data);

std::ostream& operator<<(std::ostream& os, const Key& key);  // "Key(0x..., 0x...)"

}  // namespace elegy
