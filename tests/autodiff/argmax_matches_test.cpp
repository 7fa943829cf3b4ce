// argmax_matches (one ArgMaxMatches kernel): against argmax == labels for every label dtype,
// rows short and long (the SIMD search), ties, NaN rows, labels out of range, strided labels,
// rank-3 scores, empty rows and bad input. argmax_match_count (one ArgMaxMatchCount kernel):
// the bits of sum(argmax_matches) for the same cases, at 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <elegy/elegy.hpp>

#include "../core/thread_count.hpp"
#include "../kernel_log.hpp"

using namespace elegy;

namespace {

// What argmax_matches must equal: 1 where argmax(y_pred, -1) == labels, composed of the ops it
// replaces (compared in int64, which holds every label).
std::vector<float> composed(const Tensor& y_pred, const Tensor& labels) {
  return (argmax(y_pred, -1).astype(DType::i64) == labels.astype(DType::i64))
      .astype(DType::f32)
      .to_vector<float>();
}

}  // namespace

TEST_CASE("argmax_matches is argmax == labels as float hits, for every label dtype") {
  for (const std::int64_t classes : {1, 3, 10, 63, 64, 200}) {  // (64+: the SIMD search)
    CAPTURE(classes);
    Tensor scores = random::normal(Key(std::uint64_t(classes)), {37, classes});
    // Ties (the first maximum wins): whole rows of one value and repeated maxima.
    std::vector<float> v = scores.to_vector<float>();
    for (std::int64_t c = 0; c < classes; ++c) v[std::size_t(c)] = 1.0f;  // row 0: all tied
    if (classes > 2) v[std::size_t(classes + 1)] = v[std::size_t(classes + 2)] = 50.0f;
    if (classes > 4) v[std::size_t(2 * classes + 3)] = std::numeric_limits<float>::quiet_NaN();
    scores = Tensor::from_vector(v, Shape{37, classes});
    const Tensor picks = random::randint(Key(7), {37}, 0, classes, DType::i32);
    // Labels that hit: the argmax itself on every third row (ties and NaN rows included).
    std::vector<std::int32_t> labels = picks.to_vector<std::int32_t>();
    const std::vector<std::int32_t> best = argmax(scores, -1).to_vector<std::int32_t>();
    for (std::size_t r = 0; r < labels.size(); r += 3) labels[r] = best[r];
    labels[1] = -1;                         // out of range: never a hit
    labels[4] = std::int32_t(classes) + 5;  // out of range
    const Tensor i32 = Tensor::from_vector(labels, Shape{37});
    for (const DType dt : {DType::i32, DType::i64}) {
      const Tensor l = i32.astype(dt);
      const Tensor hits = argmax_matches(scores, l);
      CHECK(hits.dtype() == DType::f32);
      CHECK(hits.shape() == Shape{37});
      CHECK(hits.to_vector<float>() == composed(scores, l));
      CHECK(hits.to_vector<float>()[0] == float(labels[0] == 0));
    }
    std::vector<std::uint8_t> small(labels.size());
    for (std::size_t r = 0; r < labels.size(); ++r) small[r] = std::uint8_t(labels[r] & 0xff);
    const Tensor u8 = Tensor::from_vector(small, Shape{37});
    CHECK(argmax_matches(scores, u8).to_vector<float>() == composed(scores, u8));
    // float64 scores.
    const Tensor f64 = scores.astype(DType::f64);
    CHECK(argmax_matches(f64, i32).to_vector<float>() == composed(f64, i32));
  }
}

TEST_CASE("argmax_matches: strided labels, rank-3 scores, transposed scores, empty rows") {
  const Tensor scores = random::normal(Key(3), {2, 5, 7});
  const Tensor wide = random::randint(Key(4), {5, 4}, 0, 7, DType::i64);
  const Tensor labels = reshape(transpose(wide).slice(0, 2), Shape{2, 5});  // (a copy)
  CHECK(argmax_matches(scores, labels).shape() == Shape{2, 5});
  CHECK(argmax_matches(scores, labels).to_vector<float>() == composed(scores, labels));
  const Tensor column = transpose(wide).slice(1, 2);  // [1, 5], stride 4 between labels
  const Tensor row_scores = random::normal(Key(5), {5, 7});
  CHECK(argmax_matches(row_scores, reshape(column, Shape{5})).to_vector<float>() ==
        composed(row_scores, reshape(column, Shape{5})));
  const Tensor t = transpose(random::normal(Key(6), {7, 9}));  // [9, 7], not dense
  const Tensor tl = random::randint(Key(8), {9}, 0, 7, DType::i32);
  CHECK(argmax_matches(t, tl).to_vector<float>() == composed(t, tl));
  const Tensor none = argmax_matches(Tensor::empty({0, 4}), Tensor::empty({0}, DType::i32));
  CHECK(none.shape() == Shape{0});
}

TEST_CASE("argmax_matches is one kernel for dense int32 labels") {
  const Tensor scores = random::normal(Key(9), {64, 10});
  const Tensor labels = random::randint(Key(10), {64}, 0, 10, DType::i32);
  testing::KernelLog k;
  const Tensor hits = argmax_matches(scores, labels);
  CHECK(k.count(kernels::Op::ArgMaxMatches) == 1);
  CHECK(k.total() == 1);
}

TEST_CASE("argmax_matches rejects integer scores, float labels, mismatched shapes, no classes") {
  const Tensor scores = random::normal(Key(11), {4, 3});
  const Tensor labels = Tensor::from_vector(std::vector<std::int32_t>{0, 1, 2, 0}, Shape{4});
  const Tensor int_scores = Tensor::from_vector(std::vector<std::int32_t>(12, 1), Shape{4, 3});
  CHECK_THROWS_WITH_AS(argmax_matches(int_scores, labels),
                       doctest::Contains("y_pred must be a float tensor"), Error);
  CHECK_THROWS_WITH_AS(argmax_matches(scores, labels.astype(DType::f32)),
                       doctest::Contains("labels must be int32, int64 or uint8"), Error);
  CHECK_THROWS_WITH_AS(argmax_matches(scores, labels.slice(0, 3)),
                       doctest::Contains("without its last axis"), Error);
  CHECK_THROWS_WITH_AS(argmax_matches(Tensor::empty({4, 0}), labels),
                       doctest::Contains("has no classes"), Error);
  CHECK_THROWS_WITH_AS(argmax_matches(scores, labels.to(Device::meta())),
                       doctest::Contains("argmax_matches"), Error);
}

TEST_CASE("argmax_match_count is the bits of sum(argmax_matches), at 1 and 2 threads") {
  testing::ThreadCountGuard restore;
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    // 1 row; a batch; enough rows that the count is split between threads; rank-3 scores.
    for (const std::int64_t rows : {1, 64, 5000}) {
      CAPTURE(threads);
      CAPTURE(rows);
      std::vector<float> v =
          random::normal(Key(std::uint64_t(rows)), {rows, 10}).to_vector<float>();
      v[3] = std::numeric_limits<float>::quiet_NaN();  // row 0: a NaN row (the NaN is the max)
      const Tensor scores = Tensor::from_vector(v, Shape{rows, 10});
      // Half the labels are the argmax (hits), the rest random (a tenth of them hit).
      std::vector<std::int64_t> labels =
          random::randint(Key(3), {rows}, 0, 10, DType::i64).to_vector<std::int64_t>();
      const std::vector<std::int64_t> best =
          argmax(scores, -1).astype(DType::i64).to_vector<std::int64_t>();
      for (std::size_t r = 0; r < labels.size(); r += 2) labels[r] = best[r];
      for (const DType dt : {DType::i64, DType::i32, DType::u8}) {
        const Tensor l = Tensor::from_vector(labels, Shape{rows}).astype(dt);
        const Tensor count = argmax_match_count(scores, l);
        CHECK(count.dtype() == DType::f32);
        CHECK(count.ndim() == 0);
        CHECK(count.item<float>() == sum(argmax_matches(scores, l)).item<float>());
        CHECK(count.item<float>() >= float(rows / 2));
      }
      const Tensor f64 = scores.astype(DType::f64);
      const Tensor l = Tensor::from_vector(labels, Shape{rows});
      CHECK(argmax_match_count(f64, l).item<float>() == sum(argmax_matches(f64, l)).item<float>());
    }
  }
  const Tensor scores3 = random::normal(Key(12), {2, 5, 7});
  const Tensor labels3 = random::randint(Key(13), {2, 5}, 0, 7, DType::i32);
  CHECK(argmax_match_count(scores3, labels3).item<float>() ==
        sum(argmax_matches(scores3, labels3)).item<float>());
  const Tensor strided = transpose(random::randint(Key(14), {5, 4}, 0, 7, DType::i64)).slice(1, 2);
  const Tensor rows5 = random::normal(Key(15), {5, 7});
  CHECK(argmax_match_count(rows5, reshape(strided, Shape{5})).item<float>() ==
        sum(argmax_matches(rows5, reshape(strided, Shape{5}))).item<float>());
  CHECK(argmax_match_count(Tensor::empty({0, 4}), Tensor::empty({0}, DType::i32)).item<float>() ==
        0.0f);
  // Hand-counted: rows 0 and 2 hit.
  const Tensor hand = Tensor::from_vector(std::vector<float>{0, 9, 5, 1, 2, 8}, Shape{3, 2});
  const Tensor hand_labels = Tensor::from_vector(std::vector<std::int32_t>{1, 1, 1}, Shape{3});
  CHECK(argmax_match_count(hand, hand_labels).item<float>() == 2.0f);
}

TEST_CASE("argmax_match_count is one kernel and raises argmax_matches' Errors") {
  const Tensor scores = random::normal(Key(16), {64, 10});
  const Tensor labels = random::randint(Key(17), {64}, 0, 10, DType::i32);
  {
    testing::KernelLog k;
    const Tensor count = argmax_match_count(scores, labels);
    CHECK(k.count(kernels::Op::ArgMaxMatchCount) == 1);
    CHECK(k.total() == 1);
  }
  CHECK_THROWS_WITH_AS(argmax_match_count(scores, labels.astype(DType::f32)),
                       doctest::Contains("argmax_match_count: labels must be int32"), Error);
  CHECK_THROWS_WITH_AS(argmax_match_count(scores, labels.slice(0, 3)),
                       doctest::Contains("without its last axis"), Error);
  CHECK_THROWS_WITH_AS(argmax_match_count(Tensor::empty({64, 0}), labels),
                       doctest::Contains("has no classes"), Error);
}
