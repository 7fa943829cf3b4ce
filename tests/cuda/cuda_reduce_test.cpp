// The CUDA reduction and softmax kernels against the CPU kernels on the same inputs: every
// registered dtype, reduced axes that are inner, outer, several, all, empty or of size 1,
// transposed and broadcast inputs, and sizes that take each of the kernels' paths (a thread, a
// warp or a block per output; the columns path; long reductions split into pieces). Outputs are
// poisoned first, so an unwritten element fails. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cuda_vs_cpu.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

// An input layout and what is reduced: the dims in `mask` (value reductions), or `axis`
// (ArgMax/ArgMin, softmax).
struct ReduceCase {
  std::string name;
  OperandLayout in;
  unsigned mask = 0;
  int axis = 0;
};

OperandLayout dense(const Shape& shape) {
  return {shape, contiguous_strides(shape)};
}

// The keepdims shape: size 1 on the reduced dims.
Shape kept_shape(const Shape& shape, unsigned mask) {
  Shape out = shape;
  for (int i = 0; i < shape.size(); ++i)
    if (mask & (1u << i)) out[i] = 1;
  return out;
}

// Reductions over dims: each grouping of threads the kernel has, with and without splitting.
std::vector<ReduceCase> mask_cases() {
  const OperandLayout t29x37{Shape{29, 37}, Strides{1, 29}};  // a transposed [37, 29] buffer
  return {
      {"[1000] all (a warp)", dense(Shape{1000}), 0b1},
      {"[1048579] all (pieces of a block each)", dense(Shape{(1 << 20) + 3}), 0b1},
      {"[37,29] axis 1 (a thread per output)", dense(Shape{37, 29}), 0b10},
      {"[37,29] axis 0 (columns)", dense(Shape{37, 29}), 0b01},
      {"[64,3000] axis 1 (a block per output)", dense(Shape{64, 3000}), 0b10},
      {"[64,3000] axis 0 (columns)", dense(Shape{64, 3000}), 0b01},
      {"[100000,5] axis 0 (columns in pieces)", dense(Shape{100000, 5}), 0b01},
      {"[100000,3] axis 1 (a thread per output)", dense(Shape{100000, 3}), 0b10},
      {"[513,40] axis 1 (a warp per output)", dense(Shape{513, 40}), 0b10},
      {"[3,4,5,6] axes 0,2 (unmerged)", dense(Shape{3, 4, 5, 6}), 0b0101},
      {"[3,4,5,6] axes 1,2 (merged)", dense(Shape{3, 4, 5, 6}), 0b0110},
      {"[3,4,5,6] axes 0,1,3", dense(Shape{3, 4, 5, 6}), 0b1011},
      {"transposed, axis 0 (contiguous run)", t29x37, 0b01},
      {"transposed, axis 1 (columns)", t29x37, 0b10},
      {"transposed, all", t29x37, 0b11},
      {"broadcast rows [50,40] axis 0", {Shape{50, 40}, Strides{0, 1}}, 0b01},
      {"offset and every other column", {Shape{20, 33}, Strides{70, 2}, 3}, 0b10},
      {"[7,1] axis 1 (size 1: a copy)", dense(Shape{7, 1}), 0b10},
      {"[0,5] axis 0 (empty: the identity)", dense(Shape{0, 5}), 0b01},
      {"[5,0] axis 1 (empty: the identity)", dense(Shape{5, 0}), 0b10},
  };
}

// Single-axis cases for ArgMax/ArgMin and softmax.
std::vector<ReduceCase> axis_cases() {
  const OperandLayout t29x37{Shape{29, 37}, Strides{1, 29}};
  return {
      {"[37,29] axis 1", dense(Shape{37, 29}), 0, 1},
      {"[37,29] axis 0", dense(Shape{37, 29}), 0, 0},
      {"[100,500] axis 1", dense(Shape{100, 500}), 0, 1},
      {"[64,3000] axis 1", dense(Shape{64, 3000}), 0, 1},
      {"[64,3000] axis 0", dense(Shape{64, 3000}), 0, 0},
      {"[65537] axis 0", dense(Shape{65537}), 0, 0},
      {"[100000,3] axis 1", dense(Shape{100000, 3}), 0, 1},
      {"[3,4,5,6] axis 1", dense(Shape{3, 4, 5, 6}), 0, 1},
      {"[3,4,5,6] axis 3", dense(Shape{3, 4, 5, 6}), 0, 3},
      {"[3,4,5,6] axis -2", dense(Shape{3, 4, 5, 6}), 0, -2},
      {"transposed axis 0", t29x37, 0, 0},
      {"transposed axis 1", t29x37, 0, 1},
      {"offset and every other column", {Shape{20, 33}, Strides{70, 2}, 3}, 0, 1},
      {"[9,1] axis 1 (size 1)", dense(Shape{9, 1}), 0, 1},
  };
}

// `op` over every mask case; T is the storage type of `dtype` (uint8_t for bool). Exact when
// rtol is 0 (NaN matches NaN and -0 matches 0: the order of a NaN-aware max decides which).
template <class T>
void check_mask_op(const char* name, Op op, DType dtype, Values kind, std::int64_t special_every,
                   double rtol, double atol = 0.0) {
  std::uint32_t seed = 700;
  for (const ReduceCase& c : mask_cases()) {
    const Pair in = make_operand<T>(dtype, c.in, seed++, kind, special_every);
    Call call;
    call.op = op;
    call.key = dtype;
    const Outputs o = run_both(call, kept_shape(c.in.shape, c.mask), dtype, {in});
    const std::string what =
        std::string(name) + " " + std::string(elegy::name(dtype)) + " " + c.name;
    if (dtype == DType::bool_)
      check_identical(bool_bytes(o.gpu), bool_bytes(o.cpu), what);
    else
      check_matches(o.gpu.to_vector<T>(), o.cpu.to_vector<T>(), rtol, atol, what);
  }
}

template <class T>
void check_float_reductions() {
  constexpr bool kF32 = std::is_same_v<T, float>;
  const DType dt = dtype_of<T>();
  // Sums of positive values: CPU (pairwise) and GPU (lane-wise, then trees) round differently,
  // each within a few ulp per level of the sum.
  check_mask_op<T>("sum", Op::Sum, dt, Values::positive, 0, kF32 ? 1e-5 : 1e-13);
  // Mixed signs: sums near 0 get an absolute slack of a few ulp of the sum of |x|.
  check_mask_op<T>("sum with specials", Op::Sum, dt, Values::general, 997, kF32 ? 1e-5 : 1e-13,
                   kF32 ? 1e-3 : 1e-11);
  check_mask_op<T>("prod", Op::Prod, dt, Values::near_one, 0, kF32 ? 1e-3 : 1e-11);
  check_mask_op<T>("max", Op::Max, dt, Values::general, 997, 0.0);
  check_mask_op<T>("min", Op::Min, dt, Values::general, 997, 0.0);
  check_mask_op<T>("max of small ints", Op::Max, dt, Values::small_ints, 0, 0.0);
  // logsumexp = max + log(sum exp(x - max)) cancels near 0: an absolute slack of a few ulp of
  // the max term (|x| <= 12 here), seen on an H200 as 5 of 100000 rows off by < 1e-6.
  check_mask_op<T>("logsumexp", Op::LogSumExp, dt, Values::general, 0, kF32 ? 1e-5 : 1e-13,
                   kF32 ? 4e-6 : 1e-14);
  check_mask_op<T>("logsumexp with specials", Op::LogSumExp, dt, Values::general, 389,
                   kF32 ? 1e-5 : 1e-13, kF32 ? 4e-6 : 1e-14);
}

// ScaledSum (a mean in one kernel): on each device, that device's Sum times the scale rounded
// once to T, bit for bit, over every grouping of threads the kernels have.
template <class T>
void check_scaled_sum(double scale) {
  const DType dt = dtype_of<T>();
  std::uint32_t seed = 900;
  for (const ReduceCase& c : mask_cases()) {
    const Pair in = make_operand<T>(dt, c.in, seed++, Values::general, 997);
    Call sum_call;
    sum_call.op = Op::Sum;
    sum_call.key = dt;
    Call scaled_call = sum_call;
    scaled_call.op = Op::ScaledSum;
    scaled_call.scalar[0] = scale;
    const Shape out = kept_shape(c.in.shape, c.mask);
    const Outputs plain = run_both(sum_call, out, dt, {in});
    const Outputs scaled = run_both(scaled_call, out, dt, {in});
    for (const bool gpu : {false, true}) {
      const std::vector<T> sums = (gpu ? plain.gpu : plain.cpu).template to_vector<T>();
      std::vector<T> want(sums.size());
      for (std::size_t i = 0; i < sums.size(); ++i) want[i] = sums[i] * T(scale);
      check_identical((gpu ? scaled.gpu : scaled.cpu).template to_vector<T>(), want,
                      std::string("scaled_sum ") + (gpu ? "cuda " : "cpu ") +
                          std::string(elegy::name(dt)) + " " + c.name);
    }
  }
}

// Integer sums and products wrap identically in any order: compared exactly.
template <class T>
void check_integer_reductions() {
  const DType dt = dtype_of<T>();
  check_mask_op<T>("sum", Op::Sum, dt, Values::general, 7, 0.0);
  check_mask_op<T>("prod", Op::Prod, dt, Values::pow_base, 0, 0.0);
  check_mask_op<T>("max", Op::Max, dt, Values::general, 7, 0.0);
  check_mask_op<T>("min", Op::Min, dt, Values::general, 7, 0.0);
}

// ArgMax/ArgMin over every axis case: the int32 indices must be identical (ties and NaNs: the
// first one wins on both).
template <class T>
void check_arg_ops(DType dtype, Values kind, std::int64_t special_every) {
  std::uint32_t seed = 900;
  for (const ReduceCase& c : axis_cases()) {
    const Pair in = make_operand<T>(dtype, c.in, seed++, kind, special_every);
    const int axis = c.axis < 0 ? c.axis + c.in.shape.size() : c.axis;
    for (const Op op : {Op::ArgMax, Op::ArgMin}) {
      Call call;
      call.op = op;
      call.key = dtype;
      call.ints[0] = c.axis;
      const Outputs o = run_both(call, kept_shape(c.in.shape, 1u << axis), DType::i32, {in});
      check_identical(o.gpu.to_vector<std::int32_t>(), o.cpu.to_vector<std::int32_t>(),
                      std::string(op == Op::ArgMax ? "argmax " : "argmin ") +
                          std::string(name(dtype)) + " " + c.name);
    }
  }
}

template <class T>
void check_softmax(Values kind, std::int64_t special_every) {
  constexpr bool kF32 = std::is_same_v<T, float>;
  std::uint32_t seed = 1100;
  for (const ReduceCase& c : axis_cases()) {
    const Pair in = make_operand<T>(dtype_of<T>(), c.in, seed++, kind, special_every);
    for (const Op op : {Op::Softmax, Op::LogSoftmax}) {
      Call call;
      call.op = op;
      call.key = dtype_of<T>();
      call.ints[0] = c.axis;
      const Outputs o = run_both(call, c.in.shape, dtype_of<T>(), {in});
      // log_softmax of a row's maximum is -log(s) with s near 1: an absolute tolerance.
      const double atol = op == Op::LogSoftmax ? (kF32 ? 1e-6 : 1e-14) : (kF32 ? 1e-30 : 1e-300);
      check_matches(o.gpu.to_vector<T>(), o.cpu.to_vector<T>(), kF32 ? 1e-5 : 1e-13, atol,
                    std::string(op == Op::Softmax ? "softmax " : "log_softmax ") +
                        std::string(name(dtype_of<T>())) + " " + c.name);
    }
  }
}

}  // namespace

TEST_CASE("cuda: float Sum/Prod/Max/Min/LogSumExp kernels match the CPU's" *
          doctest::skip(kNoGpu)) {
  check_float_reductions<float>();
  check_float_reductions<double>();
}

TEST_CASE("cuda: ScaledSum is the device's Sum times the scale, rounded once" *
          doctest::skip(kNoGpu)) {
  check_scaled_sum<float>(1.0 / 7.0);
  check_scaled_sum<double>(1.0 / 7.0);
  check_scaled_sum<float>(3e-5);
}

TEST_CASE("cuda: integer and bool reductions match the CPU's exactly" * doctest::skip(kNoGpu)) {
  check_integer_reductions<std::int32_t>();
  check_integer_reductions<std::int64_t>();
  for (const Op op : {Op::Max, Op::Min}) {
    const char* name = op == Op::Max ? "max" : "min";
    check_mask_op<std::uint8_t>(name, op, DType::u8, Values::general, 0, 0.0);
    check_mask_op<std::uint8_t>(name, op, DType::bool_, Values::small_ints, 0, 0.0);
  }
}

TEST_CASE("cuda: argmax and argmin pick the CPU's index, ties and NaN included" *
          doctest::skip(kNoGpu)) {
  check_arg_ops<float>(DType::f32, Values::small_ints, 0);
  check_arg_ops<float>(DType::f32, Values::general, 113);  // NaNs: the first one wins
  check_arg_ops<double>(DType::f64, Values::small_ints, 0);
  check_arg_ops<double>(DType::f64, Values::general, 113);
  check_arg_ops<std::int32_t>(DType::i32, Values::small_ints, 0);
  check_arg_ops<std::int64_t>(DType::i64, Values::general, 7);
  check_arg_ops<std::uint8_t>(DType::u8, Values::small_ints, 0);
  check_arg_ops<std::uint8_t>(DType::bool_, Values::small_ints, 0);
}

TEST_CASE("cuda: softmax and log_softmax kernels match the CPU's" * doctest::skip(kNoGpu)) {
  check_softmax<float>(Values::general, 0);
  check_softmax<double>(Values::general, 0);
  // Rows holding NaN or infinities take the IEEE formula on both devices.
  check_softmax<float>(Values::general, 401);
  check_softmax<double>(Values::general, 401);
}

TEST_CASE("cuda: hand-computed reductions" * doctest::skip(kNoGpu)) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // [[1, 5, 5, -2], [nan, 3, nan, 0], [-inf, -inf, -inf, -inf]]
  const Tensor x = Tensor::from_vector(
      std::vector<float>{1, 5, 5, -2, nan, 3, nan, 0, -inf, -inf, -inf, -inf}, Shape{3, 4}, kGpu);
  CHECK(argmax(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 0, 0});
  CHECK(argmin(x, 1).to_vector<std::int32_t>() == std::vector<std::int32_t>{3, 0, 0});
  const std::vector<float> m = max(x, Axes(1)).to_vector<float>();
  CHECK(m[0] == 5.0f);
  CHECK(std::isnan(m[1]));
  CHECK(m[2] == -inf);
  const std::vector<float> lse = logsumexp(x, Axes(1)).to_vector<float>();
  CHECK(lse[0] == doctest::Approx(5.0 + std::log(2.0 + std::exp(-4.0) + std::exp(-7.0))));
  CHECK(std::isnan(lse[1]));
  CHECK(lse[2] == -inf);
  const Tensor ints =
      Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3}, kGpu);
  CHECK(sum(ints, Axes(0)).to_vector<std::int32_t>() == std::vector<std::int32_t>{5, 7, 9});
  CHECK(prod(ints, Axes(1)).to_vector<std::int32_t>() == std::vector<std::int32_t>{6, 120});
  const std::vector<double> sm =
      softmax(Tensor::from_vector(std::vector<double>{0.0, std::log(3.0)}, kGpu), 0)
          .to_vector<double>();
  CHECK(sm[0] == doctest::Approx(0.25).epsilon(1e-15));
  CHECK(sm[1] == doctest::Approx(0.75).epsilon(1e-15));
}

TEST_CASE("cuda: sum_of_squares (SumSquares kernels) matches the CPU; hand-computed" *
          doctest::skip(kNoGpu)) {
  const Tensor small =
      Tensor::from_vector(std::vector<float>{1, -2, 3}, Shape{3}, kGpu);  // 1 + 4 + 9
  CHECK(sum_of_squares(std::vector<Tensor>{small}).to(Device::cpu()).item<float>() == 14.0f);
  // Sizes around the pieces and vector widths, a transposed view, float32 and float64.
  for (const std::int64_t n : {1, 7, 1000, 100003, 3000017}) {
    CAPTURE(n);
    const std::vector<float> v = make_values<float>(n, std::uint32_t(n), Values::general, 0);
    const Tensor cpu = Tensor::from_vector(v, Shape{n});
    const double want = sum_of_squares(std::vector<Tensor>{cpu.astype(DType::f64)}).item<double>();
    const double got =
        sum_of_squares(std::vector<Tensor>{cpu.to(kGpu)}).to(Device::cpu()).item<float>();
    CHECK(got == doctest::Approx(want).epsilon(1e-5));
    const double got64 = sum_of_squares(std::vector<Tensor>{cpu.astype(DType::f64).to(kGpu)})
                             .to(Device::cpu())
                             .item<double>();
    CHECK(got64 == doctest::Approx(want).epsilon(1e-12));
  }
  // A parameter tree in one SumSquaresMany: more tensors than one launch's table (64), empty
  // ones, sizes around the block and pack widths, views starting off 16-byte alignment.
  std::vector<Tensor> cpu_tree, gpu_tree;
  double tree_want = 0.0;
  for (int t = 0; t < 150; ++t) {
    const std::int64_t n = t % 10 == 3 ? 0 : (std::int64_t(t) * 7919) % 20000 + (t % 4);
    const std::vector<float> v =
        make_values<float>(n + 1, std::uint32_t(100 + t), Values::general, 0);
    const Tensor whole = Tensor::from_vector(v, Shape{n + 1});
    const std::int64_t start = t % 2;  // odd: the view starts 4 bytes into its block
    const Tensor cpu = whole.slice(start, start + n);
    cpu_tree.push_back(cpu);
    gpu_tree.push_back(whole.to(kGpu).slice(start, start + n));
    for (double x : cpu.to_vector<double>()) tree_want += x * x;
  }
  // One tensor past the per-tensor cap of 1024 blocks of 16384 elements (16.8M): its blocks
  // stride over it.
  gpu_tree.push_back(random::normal(Key(9), {17000003}).to(kGpu));
  cpu_tree.push_back(gpu_tree.back().to(Device::cpu()));
  for (double x : cpu_tree.back().to_vector<double>()) tree_want += x * x;
  const float tree_gpu = sum_of_squares(gpu_tree, 0.5).to(Device::cpu()).item<float>();
  CHECK(double(tree_gpu) == doctest::Approx(tree_want * 0.5).epsilon(1e-5));
  CHECK(tree_gpu == doctest::Approx(sum_of_squares(cpu_tree, 0.5).item<float>()).epsilon(1e-5));
  CHECK(sum_of_squares(gpu_tree, 0.5).to(Device::cpu()).item<float>() == tree_gpu);  // same bits
  const std::vector<Tensor> empties = {Tensor::empty(Shape{0}, DType::f32, kGpu),
                                       Tensor::empty(Shape{3, 0}, DType::f32, kGpu)};
  CHECK(sum_of_squares(empties, 2.0).to(Device::cpu()).item<float>() == 0.0f);
  const Tensor m = random::normal(Key(4), {33, 70});
  const double want = sum_of_squares(std::vector<Tensor>{transpose(m)}).item<float>();
  CHECK(
      sum_of_squares(std::vector<Tensor>{transpose(m.to(kGpu))}).to(Device::cpu()).item<float>() ==
      doctest::Approx(want).epsilon(1e-5));
}

TEST_CASE("cuda: argmax_matches (ArgMaxMatches) equals the CPU's: label dtypes, ties, NaN rows" *
          doctest::skip(kNoGpu)) {
  for (const std::int64_t classes : {1, 31, 32, 33, 100, 1000}) {
    for (const std::int64_t rows : {1, 37, 5000}) {
      CAPTURE(classes);
      CAPTURE(rows);
      std::vector<float> v =
          make_values<float>(rows * classes, std::uint32_t(classes + rows), Values::general, 0);
      for (std::int64_t c = 0; c < classes; ++c) v[std::size_t(c)] = 2.0f;  // a tied row
      if (rows > 3 && classes > 3)
        v[std::size_t(2 * classes + 1)] = std::numeric_limits<float>::quiet_NaN();
      const Tensor cpu = Tensor::from_vector(v, Shape{rows, classes});
      const std::vector<std::int64_t> best = argmax(cpu, -1).to_vector<std::int64_t>();
      std::vector<std::int64_t> labels(std::size_t(rows * 2));  // every other one is read
      for (std::int64_t r = 0; r < rows; ++r)  // hits on odd rows, some labels out of range
        labels[std::size_t(2 * r)] = r % 2 ? best[std::size_t(r)] : (r * 7) % (classes + 2) - 1;
      const Tensor strided = Tensor::from_vector(labels, Shape{rows, 2}).slice(0, rows);
      const Tensor lab = reshape(transpose(strided).slice(0, 1), Shape{rows});
      for (const DType ldt : {DType::i64, DType::i32, DType::u8}) {
        for (const DType sdt : {DType::f32, DType::f64}) {
          CAPTURE(ldt);
          CAPTURE(sdt);
          const Tensor s = cpu.astype(sdt), l = lab.astype(ldt);
          const std::vector<float> want = argmax_matches(s, l).to_vector<float>();
          const std::vector<float> got =
              argmax_matches(s.to(kGpu), l.to(kGpu)).to(Device::cpu()).to_vector<float>();
          CHECK(got == want);
          // ArgMaxMatchCount: one block up to 32768 scores, else blocks and a second launch.
          CHECK(argmax_match_count(s.to(kGpu), l.to(kGpu)).to(Device::cpu()).item<float>() ==
                argmax_match_count(s, l).item<float>());
        }
      }
    }
  }
}

TEST_CASE("cuda: argmax_match_count (ArgMaxMatchCount) over many blocks, and no rows" *
          doctest::skip(kNoGpu)) {
  // 300,001 rows of 7: 65 blocks' counts added by a second launch; the count (about half the
  // rows hit) is exact.
  const std::int64_t rows = 300001;
  const Tensor scores = random::normal(Key(21), {rows, 7});
  std::vector<std::int32_t> labels =
      random::randint(Key(22), {rows}, 0, 7, DType::i32).to_vector<std::int32_t>();
  const std::vector<std::int32_t> best = argmax(scores, -1).to_vector<std::int32_t>();
  for (std::size_t r = 0; r < labels.size(); r += 2) labels[r] = best[r];
  const Tensor l = Tensor::from_vector(labels, Shape{rows});
  const float want = argmax_match_count(scores, l).item<float>();
  CHECK(want >= float(rows / 2));
  CHECK(argmax_match_count(scores.to(kGpu), l.to(kGpu)).to(Device::cpu()).item<float>() == want);
  const Tensor none = argmax_match_count(Tensor::empty({0, 3}, DType::f32, kGpu),
                                         Tensor::empty({0}, DType::i32, kGpu));
  CHECK(none.to(Device::cpu()).item<float>() == 0.0f);
}
