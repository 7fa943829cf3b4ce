// RNG keys (split, fold_in), the Philox-4x32-10 generator against the Random123 known answers,
// and the host/device distribution helpers of core/random_dist.hpp.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <sstream>
#include <utility>

#include <elegy/core/random_dist.hpp>
#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

std::array<std::uint32_t, 4> philox(std::array<std::uint32_t, 4> counter,
                                    std::array<std::uint32_t, 2> key) {
  std::array<std::uint32_t, 4> out{};
  Philox::generate(counter.data(), key.data(), out.data());
  return out;
}

}  // namespace

TEST_CASE("Philox4x32-10 matches the Random123 known-answer tests") {
  CHECK(philox({0, 0, 0, 0}, {0, 0}) ==
        std::array<std::uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
        std::array<std::uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
        std::array<std::uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("Philox::word numbers the words of consecutive counters") {
  const std::uint32_t key[2] = {123, 456};
  for (std::uint64_t block :
       {std::uint64_t(0), std::uint64_t(1), std::uint64_t(77), (std::uint64_t(1) << 32) + 5}) {
    std::uint32_t words[4];
    rng::block_words(key, block, words);
    const auto direct =
        philox({std::uint32_t(block), std::uint32_t(block >> 32), 0, 0}, {123, 456});
    for (int j = 0; j < 4; ++j) {
      CHECK(words[j] == direct[std::size_t(j)]);
      CHECK(Philox::word(key, 4 * block + std::uint64_t(j)) == words[j]);
    }
  }
}

TEST_CASE("a Key holds its seed's two words and prints them") {
  const Key k(0x0000000500000007ull);
  CHECK(k.words()[0] == 7u);
  CHECK(k.words()[1] == 5u);
  CHECK(Key(3) == Key::from_words(3, 0));
  CHECK_FALSE(Key(3) == Key(4));
  std::ostringstream os;
  os << Key::from_words(0x2a, 0xbeef) << ' ' << 255;
  CHECK(os.str() == "Key(0x2a, 0xbeef) 255");  // the stream is back in decimal
}

TEST_CASE("split is deterministic and gives distinct keys") {
  const Key key(42);
  const std::vector<Key> a = split(key, 8), b = split(key, 8);
  CHECK(a == b);
  std::set<std::pair<std::uint32_t, std::uint32_t>> distinct;
  for (const Key& k : a) distinct.insert({k.words()[0], k.words()[1]});
  distinct.insert({key.words()[0], key.words()[1]});
  CHECK(distinct.size() == 9);  // all children differ from each other and from the parent
  // The pair form is the first two of any longer split.
  const auto [k1, k2] = split(key);
  CHECK(k1 == a[0]);
  CHECK(k2 == a[1]);
  CHECK(split(key, 3)[2] == a[2]);
  // Another parent gives other children.
  CHECK_FALSE(split(Key(43), 2)[0] == a[0]);
  CHECK(split(key, 0).empty());
}

TEST_CASE("fold_in derives keys from data, separately from split") {
  const Key key(7);
  CHECK(fold_in(key, 3) == fold_in(key, 3));
  CHECK_FALSE(fold_in(key, 3) == fold_in(key, 4));
  CHECK_FALSE(fold_in(key, 0) == split(key, 1)[0]);  // different domains
  CHECK_FALSE(fold_in(key, 0) == key);
  CHECK_FALSE(fold_in(Key(8), 3) == fold_in(key, 3));
}

TEST_CASE("bits to floats: ranges and exact ends") {
  CHECK(rng::unit_float(0) == 0.0f);
  CHECK(rng::unit_float(0xffffffffu) == 1.0f - 0x1.0p-24f);
  CHECK(rng::unit_float(0x80000000u) == 0.5f);
  CHECK(rng::unit_double(0) == 0.0);
  CHECK(rng::unit_double(~std::uint64_t(0)) == 1.0 - 0x1.0p-53);
  CHECK(rng::open_unit_double(0) == 0x1.0p-53);
  CHECK(rng::open_unit_double(~std::uint64_t(0)) == 1.0 - 0x1.0p-53);
  CHECK(rng::join_words(0x12345678u, 0x9abcdef0u) == 0x123456789abcdef0ull);
  // scale_uniform never returns maxval even when rounding would.
  const float below = std::nextafter(2.0f, 0.0f);
  CHECK(rng::scale_uniform(1.0f - 0x1.0p-24f, 1.0f, 2.0f, below) == below);
  CHECK(rng::scale_uniform(0.0f, 1.0f, 2.0f, below) == 1.0f);
  CHECK(rng::scale_uniform(0.25, -2.0, 2.0, std::nextafter(2.0, 0.0)) == -1.0);
}

TEST_CASE("normal_cdf and normal_icdf agree with known quantiles") {
  CHECK(rng::normal_cdf(0.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(rng::normal_cdf(1.959963984540054) == doctest::Approx(0.975).epsilon(1e-14));
  CHECK(rng::normal_cdf(-10.0) == doctest::Approx(7.619853024160527e-24).epsilon(1e-12));
  CHECK(rng::normal_icdf(0.5) == doctest::Approx(0.0).epsilon(1e-15));
  CHECK(rng::normal_icdf(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-14));
  CHECK(rng::normal_icdf(0.025) == doctest::Approx(-1.959963984540054).epsilon(1e-14));
  CHECK(rng::normal_icdf(0.8413447460685429) == doctest::Approx(1.0).epsilon(1e-13));
  CHECK(rng::normal_icdf(1e-10) == doctest::Approx(-6.361340902404056).epsilon(1e-13));
  CHECK(rng::normal_icdf(1e-300) == doctest::Approx(-37.0470962993612).epsilon(1e-12));
  CHECK(std::isinf(rng::normal_icdf(0.0)));
  CHECK(rng::normal_icdf(0.0) < 0);
  CHECK(std::isinf(rng::normal_icdf(1.0)));
  // Round trips wherever the CDF itself keeps the precision (above ~3 the double nearest to
  // normal_cdf(x) is too close to 1 to pin x down to 1e-12), both approximation regions included.
  for (double x = -30.0; x <= 3.0; x += 0.37) {
    INFO("x = ", x);
    CHECK(rng::normal_icdf(rng::normal_cdf(x)) == doctest::Approx(x).epsilon(1e-12));
  }
  // Without refinement: Acklam's approximation alone, within its 1.15e-9 relative error.
  for (double p = 1e-300; p < 1.0; p = p < 0.01 ? p * 7.3 : p + 0.0137) {
    INFO("p = ", p);
    const double exact = rng::normal_icdf(p);
    CHECK(std::abs(rng::normal_icdf(p, false) - exact) <= 1.2e-9 * std::abs(exact) + 1e-15);
  }
  for (double p : {1e-6, 0.01, 0.3, 0.6, 0.99, 0.999999}) {
    INFO("p = ", p);
    CHECK(rng::normal_icdf(p) == doctest::Approx(-rng::normal_icdf(1.0 - p)).epsilon(1e-9));
  }
}

TEST_CASE("TruncatedNormal samples inside its bounds, mirroring upper intervals") {
  const rng::TruncatedNormal sym = rng::TruncatedNormal::make(-2.0, 2.0);
  CHECK_FALSE(sym.mirrored);
  CHECK(sym.sample(0) >= -2.0);
  CHECK(sym.sample(~std::uint64_t(0)) <= 2.0);
  CHECK(sym.sample(std::uint64_t(1) << 63) == doctest::Approx(0.0).epsilon(1e-12));
  // [5, 6] is sampled as -[−6, −5], where the CDF keeps its precision.
  const rng::TruncatedNormal far = rng::TruncatedNormal::make(5.0, 6.0);
  CHECK(far.mirrored);
  for (std::uint64_t bits :
       {std::uint64_t(0), std::uint64_t(1) << 62, std::uint64_t(1) << 63, ~std::uint64_t(0)}) {
    const double x = far.sample(bits);
    CHECK(x >= 5.0);
    CHECK(x <= 6.0);
  }
  // The median of the [5, 6] tail: Phi^-1 halfway between Phi(-6) and Phi(-5), negated.
  const double mid = far.sample(std::uint64_t(1) << 63);
  const double expected = -rng::normal_icdf(0.5 * (rng::normal_cdf(-6.0) + rng::normal_cdf(-5.0)));
  CHECK(mid == doctest::Approx(expected).epsilon(1e-12));
  CHECK(mid > 5.1);
  CHECK(mid < 5.2);
}

TEST_CASE("bounded_int maps 64 bits onto the range without overflow") {
  CHECK(rng::mul_high(~std::uint64_t(0), ~std::uint64_t(0)) == ~std::uint64_t(0) - 1);
  CHECK(rng::mul_high(std::uint64_t(1) << 32, std::uint64_t(1) << 32) == 1);
  CHECK(rng::bounded_int(0, -5, 10) == -5);
  CHECK(rng::bounded_int(~std::uint64_t(0), -5, 10) == 4);
  CHECK(rng::bounded_int(std::uint64_t(1) << 63, 0, 10) == 5);
  // The whole int64 span: range 2^64 - 1.
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::uint64_t full = ~std::uint64_t(0);
  CHECK(rng::bounded_int(0, lo, full) == lo);
  CHECK(rng::bounded_int(~std::uint64_t(0), lo, full) ==
        std::numeric_limits<std::int64_t>::max() - 1);
}
