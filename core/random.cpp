#include "elegy/core/random.hpp"

#include <ostream>

namespace elegy {
namespace {

// Domain separators in counter word 2, so split and fold_in never reuse a tensor's counters
// (tensors use word 2 == 0).
constexpr std::uint32_t kSplitDomain = 0x53504C54u;  // "SPLT"
constexpr std::uint32_t kFoldDomain = 0x464F4C44u;   // "FOLD"

Key derive(const Key& key, std::uint32_t a, std::uint32_t domain) {
  const std::uint32_t counter[4] = {a, 0, domain, 0};
  std::uint32_t out[4];
  Philox::generate(counter, key.words().data(), out);
  return Key::from_words(out[0], out[1]);
}

}  // namespace

std::vector<Key> split(const Key& key, int n) {
  std::vector<Key> keys;
  keys.reserve(std::size_t(n));
  for (int i = 0; i < n; ++i) keys.push_back(derive(key, std::uint32_t(i), kSplitDomain));
  return keys;
}

std::pair<Key, Key> split(const Key& key) {
  return {derive(key, 0, kSplitDomain), derive(key, 1, kSplitDomain)};
}

Key fold_in(const Key& key, std::uint32_t data) {
  return derive(key, data, kFoldDomain);
}

std::ostream& operator<<(std::ostream& os, const Key& key) {
  return os << "Key(" << std::hex << "0x" << key.words()[0] << ", 0x" << key.words()[1] << std::dec
            << ")";
}

}  // namespace elegy
