// The CUDA indexing and random kernels against the CPU kernels on the same inputs: OneHot, Take
// and ScatterAdd for every registered dtype and index dtype, strided operands, negative and
// repeated indices, and the CPU's Error for an out-of-range index (raised before the output is
// touched); random numbers for the same key, dense and strided outputs. Take, OneHot,
// ScatterAdd (ordered adds, no atomics), uniform and integer draws must match bit for bit;
// normal and truncated normal go through transcendentals the two devices round differently now
// and then, so they must agree to a few ulp. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cuda/cuda_vs_cpu.hpp"
#include "rng_kernel_args.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

// An index (or label) operand of `dtype` with values uniform in [lo, hi], laid out as `l`.
Pair make_indices(DType dtype, const OperandLayout& l, std::int64_t lo, std::int64_t hi,
                  std::uint32_t seed) {
  const std::int64_t n = storage_size(l);
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<std::int64_t> dist(lo, hi);
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (auto& v : values) v = dist(gen);
  auto typed = [&](auto tag) {
    using T = decltype(tag);
    std::vector<T> cast(values.begin(), values.end());
    return pair_view(cast, l.shape, l.strides, l.offset);
  };
  switch (dtype) {
    case DType::bool_: {
      std::vector<std::uint8_t> bytes(values.begin(), values.end());
      for (auto& b : bytes) b = b & 1;
      return pair_bools(bytes, l.shape, l.strides, l.offset);
    }
    case DType::u8:
      return typed(std::uint8_t{});
    case DType::i32:
      return typed(std::int32_t{});
    default:
      return typed(std::int64_t{});
  }
}

// x.shape[:axis] + indices.shape + x.shape[axis+1:]
Shape gathered_shape(const Shape& x, const Shape& indices, int axis) {
  Shape out;
  for (int i = 0; i < axis; ++i) out.push_back(x[i]);
  for (std::int64_t d : indices) out.push_back(d);
  for (int i = axis + 1; i < x.size(); ++i) out.push_back(x[i]);
  return out;
}

// Compares two outputs of `dtype` exactly (bools as bytes).
void compare_exact(const Outputs& o, DType dtype, const std::string& what) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>)
      check_identical(bool_bytes(o.gpu), bool_bytes(o.cpu), what);
    else
      check_identical(o.gpu.template to_vector<T>(), o.cpu.template to_vector<T>(), what);
  });
}

constexpr DType kAllDTypes[] = {DType::bool_, DType::u8,  DType::i32,
                                DType::i64,   DType::f32, DType::f64};

// ---------------------------------------------------------------- OneHot

void check_one_hot() {
  const struct {
    const char* name;
    OperandLayout labels;
    std::int64_t depth;
  } cases[] = {
      {"[1000], depth 10", {Shape{1000}, Strides{1}}, 10},
      {"[29,37] transposed, depth 7", {Shape{29, 37}, Strides{1, 29}}, 7},
      {"every other of [300], depth 300", {Shape{300}, Strides{2}, 1}, 300},
      {"[], depth 5", {Shape{}, Strides{}}, 5},
      {"[4], depth 0", {Shape{4}, Strides{1}}, 0},
  };
  std::uint32_t seed = 1300;
  for (const auto& c : cases) {
    for (const DType label_dtype : {DType::bool_, DType::u8, DType::i32, DType::i64}) {
      // Labels below 0 and at or past depth give zero rows.
      const std::int64_t lo = label_dtype == DType::u8 ? 0 : -2;
      const Pair labels = make_indices(label_dtype, c.labels, lo, c.depth + 1, seed++);
      Shape out_shape = c.labels.shape;
      out_shape.push_back(c.depth);
      for (const DType out_dtype : kAllDTypes) {
        Call call;
        call.op = Op::OneHot;
        call.key = out_dtype;
        call.ints[0] = c.depth;
        const Outputs o = run_both(call, out_shape, out_dtype, {labels});
        compare_exact(o, out_dtype,
                      std::string("one_hot ") + c.name + " labels " +
                          std::string(name(label_dtype)) + " -> " + std::string(name(out_dtype)));
      }
    }
  }
}

// ---------------------------------------------------------------- Take

struct GatherCase {
  const char* name;
  OperandLayout x;
  OperandLayout indices;
  int axis;
};

std::vector<GatherCase> gather_cases() {
  return {
      {"[7,5] axis 0", {Shape{7, 5}, Strides{5, 1}}, {Shape{9}, Strides{1}}, 0},
      {"[7,5] axis 1", {Shape{7, 5}, Strides{5, 1}}, {Shape{6}, Strides{1}}, 1},
      {"x^T [5,7] axis 1", {Shape{5, 7}, Strides{1, 5}}, {Shape{3, 4}, Strides{4, 1}}, 1},
      {"[4,6,5] axis 1, [2,3] indices",
       {Shape{4, 6, 5}, Strides{30, 5, 1}},
       {Shape{2, 3}, Strides{3, 1}},
       1},
      {"[4,6,5] axis 2, strided indices",
       {Shape{4, 6, 5}, Strides{30, 5, 1}},
       {Shape{8}, Strides{3}, 2},
       2},
      {"offset, every other column, axis 0",
       {Shape{10, 12}, Strides{30, 2}, 3},
       {Shape{15}, Strides{1}},
       0},
      {"[1000,64] embedding rows",
       {Shape{1000, 64}, Strides{64, 1}},
       {Shape{50, 100}, Strides{100, 1}},
       0},
      {"[33] axis 0, scalar index", {Shape{33}, Strides{1}}, {Shape{}, Strides{}}, 0},
  };
}

// Index values in [-n, n) (u8: [0, n)), so negative ones count from the end.
std::int64_t lowest_index(DType dtype, std::int64_t n) {
  return dtype == DType::u8 ? 0 : -n;
}

void check_take() {
  std::uint32_t seed = 1500;
  for (const GatherCase& c : gather_cases()) {
    const std::int64_t n = c.x.shape[c.axis];
    for (const DType index_dtype : {DType::u8, DType::i32, DType::i64}) {
      const Pair idx =
          make_indices(index_dtype, c.indices, lowest_index(index_dtype, n), n - 1, seed++);
      for (const DType dtype : kAllDTypes) {
        const Pair x = visit_dtype(dtype, [&](auto tag) {
          using T =
              std::conditional_t<std::is_same_v<decltype(tag), bool>, std::uint8_t, decltype(tag)>;
          return make_operand<T>(dtype, c.x, seed, Values::general);
        });
        Call call;
        call.op = Op::Take;
        call.key = dtype;
        call.ints[0] = c.axis;
        const Outputs o =
            run_both(call, gathered_shape(c.x.shape, c.indices.shape, c.axis), dtype, {x, idx});
        compare_exact(o, dtype,
                      std::string("take ") + c.name + " " + std::string(name(dtype)) + " indices " +
                          std::string(name(index_dtype)));
      }
    }
  }
}

// ---------------------------------------------------------------- ScatterAdd

// index_add's kernel on both devices: out starts as `base` (dense x-shaped), `updates` dense of
// the gathered shape.
template <class T>
Outputs run_scatter_add(const std::vector<T>& base, const Shape& x_shape, const Pair& updates,
                        const Pair& indices, int axis) {
  Outputs o{Tensor::from_vector(base, x_shape), Tensor::from_vector(base, x_shape, kGpu)};
  for (const bool on_gpu : {false, true}) {
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(on_gpu ? o.gpu : o.cpu);
    args.in[0] = autodiff::buffer_view(on_gpu ? updates.gpu : updates.cpu);
    args.in[1] = autodiff::buffer_view(on_gpu ? indices.gpu : indices.cpu);
    args.num_inputs = 2;
    args.ints[0] = axis;
    args.device = args.in_device = on_gpu ? kGpu : Device::cpu();
    kernels::run("index_add", Op::ScatterAdd, dtype_of<T>(), args);
  }
  return o;
}

struct ScatterCase {
  const char* name;
  Shape x;
  OperandLayout indices;
  int axis;
};

template <class T>
void check_scatter_add() {
  // Few positions and many indices: most positions receive many updates, whose order decides
  // the float rounding; the GPU must add them in the CPU's order (increasing index).
  const ScatterCase cases[] = {
      {"[7,5] axis 0", Shape{7, 5}, {Shape{40}, Strides{1}}, 0},
      {"[7,5] axis 1", Shape{7, 5}, {Shape{3, 4}, Strides{4, 1}}, 1},
      {"[4,6,5] axis 1, strided indices", Shape{4, 6, 5}, {Shape{9}, Strides{2}, 1}, 1},
      {"[1000,64] embedding gradient", Shape{1000, 64}, {Shape{20000}, Strides{1}}, 0},
      {"[3,9] axis 0, one index", Shape{3, 9}, {Shape{}, Strides{}}, 0},
  };
  std::uint32_t seed = 1700;
  for (const ScatterCase& c : cases) {
    const std::int64_t n = c.x[c.axis];
    for (const DType index_dtype : {DType::u8, DType::i32, DType::i64}) {
      const Pair idx =
          make_indices(index_dtype, c.indices, lowest_index(index_dtype, n), n - 1, seed++);
      const Shape upd_shape = gathered_shape(c.x, c.indices.shape, c.axis);
      const std::vector<T> base = make_values<T>(c.x.numel(), seed++, Values::general, 0);
      const Pair upd =
          pair_dense(make_values<T>(upd_shape.numel(), seed++, Values::general, 0), upd_shape);
      const Outputs o = run_scatter_add(base, c.x, upd, idx, c.axis);
      check_identical(o.gpu.to_vector<T>(), o.cpu.to_vector<T>(),
                      std::string("index_add ") + c.name + " " + std::string(name(dtype_of<T>())) +
                          " indices " + std::string(name(index_dtype)));
    }
  }
}

// The Error of an out-of-range index: the CPU's text, and the output left as it was.
void check_index_errors() {
  const std::vector<float> x_values = make_values<float>(35, 1, Values::general, 0);
  const Pair x = pair_dense(x_values, Shape{7, 5});
  // Index 2 of these is the first out of range (-8 < -7); 9 comes later.
  const Pair bad = pair_dense(std::vector<std::int32_t>{1, -7, -8, 9}, Shape{4});
  std::string messages[2];
  for (const bool on_gpu : {false, true}) {
    Tensor out = on_gpu ? poisoned(Shape{4, 5}, DType::f32) : Tensor::empty(Shape{4, 5});
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(out);
    args.in[0] = autodiff::buffer_view(on_gpu ? x.gpu : x.cpu);
    args.in[1] = autodiff::buffer_view(on_gpu ? bad.gpu : bad.cpu);
    args.num_inputs = 2;
    args.device = args.in_device = on_gpu ? kGpu : Device::cpu();
    messages[on_gpu] = error_message([&] { kernels::run("take", Op::Take, DType::f32, args); });
    if (on_gpu) {
      for (const float v : out.to_vector<float>()) CHECK(std::isnan(v));  // untouched
    }
  }
  CHECK(messages[1] == messages[0]);
  CHECK(contains(messages[1], "take: index -8 is out of range for axis 0 of size 7"));

  for (const bool on_gpu : {false, true}) {
    const Tensor out = on_gpu ? Tensor::from_vector(x_values, Shape{7, 5}, kGpu)
                              : Tensor::from_vector(x_values, Shape{7, 5});
    const Pair upd = pair_dense(std::vector<float>(20, 1.0f), Shape{4, 5});
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(out);
    args.in[0] = autodiff::buffer_view(on_gpu ? upd.gpu : upd.cpu);
    args.in[1] = autodiff::buffer_view(on_gpu ? bad.gpu : bad.cpu);
    args.num_inputs = 2;
    args.device = args.in_device = on_gpu ? kGpu : Device::cpu();
    messages[on_gpu] =
        error_message([&] { kernels::run("index_add", Op::ScatterAdd, DType::f32, args); });
    check_identical(out.to_vector<float>(), x_values, "index_add leaves out untouched");
  }
  CHECK(messages[1] == messages[0]);
  CHECK(contains(messages[1], "index_add: index -8 is out of range for axis 0 of size 7"));
}

// ---------------------------------------------------------------- random

// Output layouts: dense sizes around the 4- and 2-element Philox blocks, a transposed view and
// every other element of a buffer (the skipped elements must stay poisoned).
struct RandomLayout {
  const char* name;
  Shape buffer;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;
};

std::vector<RandomLayout> random_layouts() {
  std::vector<RandomLayout> cases;
  for (std::int64_t n : {1, 3, 4, 5, 7, 8, 9, 1001, 65537})
    cases.push_back({"dense", Shape{n}, Shape{n}, Strides{1}});
  cases.push_back({"transposed [9,7]", Shape{63}, Shape{9, 7}, Strides{1, 9}});
  cases.push_back({"every other element", Shape{2003}, Shape{1001}, Strides{2}, 1});
  return cases;
}

struct RandomCall {
  const char* name;
  Op op;
  double scalar[2];
  std::int64_t ints[2];
};

// Runs `rc` for `dtype` on both devices into views laid out as `l` of a buffer (poisoned on
// the GPU) and returns the two views; checks that the GPU kernel left every element of its
// buffer outside the view alone.
Outputs run_random(const RandomCall& rc, DType dtype, const RandomLayout& l, const Key& key) {
  Outputs o;
  for (const bool on_gpu : {false, true}) {
    const Tensor buffer = on_gpu ? poisoned_any(l.buffer, dtype) : Tensor::empty(l.buffer, dtype);
    const Tensor out = view(buffer, l.shape, l.strides, l.offset);
    kernels::KernelArgs args;
    args.out = autodiff::buffer_view(out);
    args.scalar[0] = rc.scalar[0];
    args.scalar[1] = rc.scalar[1];
    args.ints[0] = rc.ints[0];
    args.ints[1] = rc.ints[1];
    args.key[0] = key.words()[0];
    args.key[1] = key.words()[1];
    args.device = args.in_device = on_gpu ? kGpu : Device::cpu();
    kernels::run(rc.name, rc.op, dtype, args);
    (on_gpu ? o.gpu : o.cpu) = out;
    if (!on_gpu) continue;
    // Elements of the buffer the view does not cover.
    std::vector<bool> covered(static_cast<std::size_t>(l.buffer.numel()), false);
    for (std::int64_t i = 0; i < l.shape.numel(); ++i) {
      std::int64_t rest = i, at = l.offset;
      for (int d = l.shape.size() - 1; d >= 0; --d) {
        at += (rest % l.shape[d]) * l.strides[d];
        rest /= l.shape[d];
      }
      covered[std::size_t(at)] = true;
    }
    const std::vector<double> all =
        Tensor::view_of(buffer.storage(), l.buffer, contiguous_strides(l.buffer), 0, dtype)
            .to_vector<double>();
    std::size_t touched = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (covered[i]) continue;
      const bool poison = is_floating(dtype)   ? std::isnan(all[i])
                          : dtype == DType::u8 ? all[i] == 0xAB
                                               : all[i] == kIntPoison;
      touched += !poison;
    }
    INFO(rc.name, " ", name(dtype), " ", l.name, ": ", touched,
         " elements outside the view written");
    CHECK(touched == 0);
  }
  return o;
}

const Key kKeys[] = {Key(1234), Key::from_words(0xDEADBEEFu, 7u)};

template <class T>
void check_uniform_exact() {
  const double bounds[][2] = {{0.0, 1.0}, {-1.0, 3.0}, {1e-3, 1e3}, {-2.5, 7.25}};
  for (const Key& key : kKeys) {
    for (const auto& b : bounds) {
      const RandomCall rc{"uniform", Op::RandomUniform, {b[0], b[1]}, {0, 0}};
      for (const RandomLayout& l : random_layouts()) {
        const Outputs o = run_random(rc, dtype_of<T>(), l, key);
        const std::vector<T> got = o.gpu.to_vector<T>();
        check_identical(got, o.cpu.to_vector<T>(),
                        "uniform " + std::string(name(dtype_of<T>())) + " [" +
                            std::to_string(b[0]) + ", " + std::to_string(b[1]) + ") " + l.name);
        for (const T v : got) {
          CHECK(v >= T(b[0]));
          CHECK(v < T(b[1]));
        }
      }
    }
  }
}

template <class T>
void check_randint_exact() {
  std::vector<std::array<std::int64_t, 2>> ranges = {{0, 2}, {3, 17}};
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    ranges.push_back({0, 256});
  } else {
    ranges.push_back({-1000, 1000});
    ranges.push_back({std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max()});
  }
  for (const Key& key : kKeys) {
    for (const auto& range : ranges) {
      const RandomCall rc{"randint", Op::RandomBits, {0.0, 0.0}, {range[0], range[1]}};
      for (const RandomLayout& l : random_layouts()) {
        const Outputs o = run_random(rc, dtype_of<T>(), l, key);
        check_identical(o.gpu.to_vector<T>(), o.cpu.to_vector<T>(),
                        "randint " + std::string(name(dtype_of<T>())) + " [" +
                            std::to_string(range[0]) + ", " + std::to_string(range[1]) + ") " +
                            l.name);
      }
    }
  }
}

// Box-Muller and the inverse CDF call log, sin, cos, erfc and exp: CUDA's and the host libm's
// results differ in the last bit now and then, so a few ulp of slack (relative, plus an
// absolute floor for values near 0).
template <class T>
void check_normals_close() {
  constexpr bool kF32 = std::is_same_v<T, float>;
  const double rtol = kF32 ? 2e-6 : 1e-13, atol = kF32 ? 1e-6 : 1e-14;
  const double intervals[][2] = {{-1.5, 2.0}, {-0.1, 0.1}, {5.0, 6.0}, {-6.0, -5.0}, {-2.0, 30.0}};
  for (const Key& key : kKeys) {
    for (const RandomLayout& l : random_layouts()) {
      const RandomCall normal{"normal", Op::RandomNormal, {0.0, 0.0}, {0, 0}};
      const Outputs o = run_random(normal, dtype_of<T>(), l, key);
      check_matches(o.gpu.to_vector<T>(), o.cpu.to_vector<T>(), rtol, atol,
                    "normal " + std::string(name(dtype_of<T>())) + " " + l.name);
      for (const auto& iv : intervals) {
        const RandomCall rc{"truncated_normal", Op::RandomTruncatedNormal, {iv[0], iv[1]}, {0, 0}};
        const Outputs t = run_random(rc, dtype_of<T>(), l, key);
        const std::vector<T> got = t.gpu.to_vector<T>();
        check_matches(got, t.cpu.to_vector<T>(), rtol, atol,
                      "truncated_normal " + std::string(name(dtype_of<T>())) + " [" +
                          std::to_string(iv[0]) + ", " + std::to_string(iv[1]) + "] " + l.name);
        for (const T v : got) {
          CHECK(double(v) >= iv[0]);
          CHECK(double(v) <= iv[1]);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("cuda: one_hot matches the CPU for every label and output dtype" *
          doctest::skip(kNoGpu)) {
  check_one_hot();
}

TEST_CASE("cuda: take matches the CPU bit for bit, negative and strided indices included" *
          doctest::skip(kNoGpu)) {
  check_take();
}

TEST_CASE("cuda: index_add adds in the CPU's order, so floats match bit for bit" *
          doctest::skip(kNoGpu)) {
  check_scatter_add<float>();
  check_scatter_add<double>();
  check_scatter_add<std::int32_t>();
  check_scatter_add<std::int64_t>();
  check_scatter_add<std::uint8_t>();
}

TEST_CASE("cuda: out-of-range indices raise the CPU's Error before the output is touched" *
          doctest::skip(kNoGpu)) {
  check_index_errors();
}

TEST_CASE("cuda: uniform draws are the CPU's bits, dense and strided" * doctest::skip(kNoGpu)) {
  check_uniform_exact<float>();
  check_uniform_exact<double>();
}

TEST_CASE("cuda: randint draws are the CPU's integers, full int64 span included" *
          doctest::skip(kNoGpu)) {
  check_randint_exact<std::uint8_t>();
  check_randint_exact<std::int32_t>();
  check_randint_exact<std::int64_t>();
}

TEST_CASE("cuda: normal and truncated normal draws agree with the CPU's to a few ulp" *
          doctest::skip(kNoGpu)) {
  check_normals_close<float>();
  check_normals_close<double>();
}

TEST_CASE("cuda: the public random ops on the GPU give the CPU's numbers" * doctest::skip(kNoGpu)) {
  const Key key(42);
  const Shape shape{3, 333};
  check_identical(random::uniform(key, shape, DType::f32, -2.0, 5.0, kGpu).to_vector<float>(),
                  random::uniform(key, shape, DType::f32, -2.0, 5.0).to_vector<float>(),
                  "random::uniform");
  check_identical(random::randint(key, shape, -7, 300, DType::i64, kGpu).to_vector<std::int64_t>(),
                  random::randint(key, shape, -7, 300, DType::i64).to_vector<std::int64_t>(),
                  "random::randint");
  check_identical(bool_bytes(random::bernoulli(key, 0.3, shape, kGpu)),
                  bool_bytes(random::bernoulli(key, 0.3, shape)), "random::bernoulli");
  check_matches(random::normal(key, shape, DType::f64, kGpu).to_vector<double>(),
                random::normal(key, shape, DType::f64).to_vector<double>(), 1e-13, 1e-14,
                "random::normal");
}

TEST_CASE("cuda: index_add into a strided GPU x (its copy is device to device) matches the CPU" *
          doctest::skip(kNoGpu)) {
  // x is a transposed view: the op copies it into its output before adding.
  const Tensor x_cpu = transpose(random::normal(Key(5), Shape{6, 4}));  // [4, 6]
  const Tensor indices_cpu = Tensor::from_vector(std::vector<std::int32_t>{2, 0, 2}, Shape{3});
  const Tensor updates_cpu = random::normal(Key(6), Shape{3, 6});
  const Tensor on_gpu = index_add(transpose(random::normal(Key(5), Shape{6, 4}).to(kGpu)),
                                  indices_cpu.to(kGpu), updates_cpu.to(kGpu));
  const Tensor on_cpu = index_add(x_cpu, indices_cpu, updates_cpu);
  REQUIRE(on_gpu.device() == kGpu);
  check_identical(on_gpu.to(Device::cpu()).to_vector<float>(), on_cpu.to_vector<float>(),
                  "index_add of a transposed x");
}

TEST_CASE("cuda: RNG kernels read their key from device memory when key_words is set" *
          doctest::skip(kNoGpu)) {
  // What a replay with graphs does: the draws sit in a key table on the GPU, read when the
  // kernel runs. The numbers are the CPU's for the same key.
  const Key key(91);
  const Tensor table = Tensor::from_vector(std::vector<std::int32_t>{std::int32_t(key.words()[0]),
                                                                     std::int32_t(key.words()[1])},
                                           Shape{2})
                           .to(kGpu);
  const Tensor x = random::uniform(Key(5), {4099});
  for (const kernels::Op op : {kernels::Op::Dropout, kernels::Op::RandomNormal}) {
    CAPTURE(kernels::op_name(op));
    const auto run = [&](Device device) {
      const Tensor in = x.to(device);
      const Tensor out = Tensor::empty(x.shape(), DType::f32, device);
      kernels::KernelArgs args = testing::rng_kernel_args(op, in, out);
      if (device.is_cuda()) {
        args.key_words = static_cast<const std::uint32_t*>(table.address());
      } else {
        args.key[0] = key.words()[0];
        args.key[1] = key.words()[1];
      }
      kernels::run("test", op, DType::f32, args);
      return out.to(Device::cpu()).to_vector<float>();
    };
    const std::vector<float> cpu = run(Device::cpu()), gpu = run(kGpu);
    REQUIRE(cpu.size() == gpu.size());
    // Dropout's mask and scale have the CPU's bits; normals go through each device's libm.
    if (op == kernels::Op::Dropout)
      check_identical(gpu, cpu, "dropout from the key table");
    else
      for (std::size_t i = 0; i < cpu.size(); ++i)
        CHECK(gpu[i] == doctest::Approx(cpu[i]).epsilon(1e-6));
  }
}
