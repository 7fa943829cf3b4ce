// The CUDA pool, norm and dropout kernels against the CPU kernels on the same inputs: each
// kernel is run on both devices with the same arguments (the GPU's outputs start poisoned with
// NaN, so an unwritten element fails), on odd sizes, 1 to 3 spatial dims, row and column
// statistics, with and without parameters; then the public ops' forward passes on GPU tensors.
// Skipped (and reported as skipped) when no GPU is visible.
#include <doctest/doctest.h>

#include <elegy/kernels/pool_geometry.hpp>

#include "cuda/cuda_checks.hpp"

using namespace elegy;
using namespace elegy::cuda_test;
using kernels::Op;

namespace {

const bool kNoGpu = !cuda_available();

// One kernel call with its tensors on the CPU: slot 0 is out, slots 1..3 are in[0..2]
// (undefined = a null view; args.in[2] may instead carry a data-less pool window).
struct Call {
  Op op;
  DType dtype;
  Tensor slots[4];
  std::vector<int> written;  // slots the kernel writes
  kernels::KernelArgs args;  // ints, scalars, key, pool window
};

kernels::KernelArgs bind(const Call& c, const Tensor (&t)[4], Device device) {
  kernels::KernelArgs a = c.args;
  if (t[0].defined()) a.out = autodiff::buffer_view(t[0]);
  for (int k = 0; k < 3; ++k)
    if (t[k + 1].defined()) a.in[k] = autodiff::buffer_view(t[k + 1]);
  a.num_inputs = 3;
  a.device = device;
  a.in_device = device;
  return a;
}

// Runs c on both devices and compares every written slot.
void check_call(const Call& c, const std::string& what, double rtol) {
  Tensor cpu[4], gpu[4];
  for (int k = 0; k < 4; ++k) {
    if (!c.slots[k].defined()) continue;
    cpu[k] = c.slots[k].contiguous();
    const bool written = std::find(c.written.begin(), c.written.end(), k) != c.written.end();
    if (written && is_floating(c.slots[k].dtype())) {
      gpu[k] = poisoned(c.slots[k].shape(), c.slots[k].dtype());
      // A written slot that is also read (LayerNormBackward's work rows) keeps its input.
      if (k == 3) gpu[k] = c.slots[k].to(kGpu);
    } else {
      gpu[k] = c.slots[k].to(kGpu);
    }
  }
  kernels::run("cpu reference", c.op, c.dtype, bind(c, cpu, Device::cpu()));
  kernels::run("cuda test", c.op, c.dtype, bind(c, gpu, kGpu));
  for (int k : c.written) {
    const std::string label = what + " slot " + std::to_string(k);
    if (c.slots[k].dtype() == DType::i32) {
      CHECK_MESSAGE(gpu[k].to_vector<std::int32_t>() == cpu[k].to_vector<std::int32_t>(), label);
    } else {
      // The outputs are O(1) (normalised values, statistics of O(1) inputs): an absolute floor of
      // rtol / 10 covers values that cancel to near 0, such as (x - mean) * rstd, where the two
      // devices' means differ by an ulp (seen on an H200: 1e-6 off at -0.0071).
      check_close(gpu[k].to_vector<double>(), cpu[k].to_vector<double>(), rtol, label, rtol * 0.1);
    }
  }
}

Tensor random_tensor(const Shape& shape, DType dtype, std::uint32_t seed, double lo = -2.0,
                     double hi = 2.0) {
  return Tensor::from_vector(random_values<double>(shape.numel(), seed, lo, hi), shape)
      .astype(dtype);
}

double tol(DType t) {
  return t == DType::f32 ? 1e-5 : 1e-12;
}

struct PoolCase {
  Shape x;
  std::vector<std::int64_t> window, strides, pad_low, pad_high;
};

Shape pooled(const PoolCase& p) {
  Shape y = p.x;
  for (std::size_t d = 0; d < p.window.size(); ++d)
    y[int(d) + 1] =
        (p.x[int(d) + 1] + p.pad_low[d] + p.pad_high[d] - p.window[d]) / p.strides[d] + 1;
  return y;
}

kernels::KernelArgs window_args(const PoolCase& p) {
  kernels::KernelArgs a;
  a.in[2].rank = int(p.window.size());
  for (std::size_t d = 0; d < p.window.size(); ++d) {
    a.in[2].sizes[d] = p.window[d];
    a.in[2].strides[d] = p.strides[d];
    a.ints[d] = p.pad_low[d];
  }
  return a;
}

}  // namespace

TEST_CASE("cuda: pooling kernels match the CPU" * doctest::skip(kNoGpu)) {
  const std::vector<PoolCase> cases = {
      {{4, 9, 3}, {3}, {2}, {1}, {2}},
      {{64, 28, 28, 32}, {2, 2}, {2, 2}, {0, 0}, {0, 0}},
      {{2, 7, 5, 17}, {3, 3}, {2, 1}, {1, 0}, {1, 2}},
      {{2, 4, 5, 3, 2}, {2, 3, 2}, {1, 2, 2}, {0, 1, 1}, {1, 1, 0}},
  };
  std::uint32_t seed = 1;
  for (const PoolCase& p : cases) {
    for (DType t : {DType::f32, DType::f64}) {
      const std::string what = to_string(p.x) + " " + std::string(name(t));
      const Shape ys = pooled(p);
      const Tensor x = random_tensor(p.x, t, seed++);
      const Tensor g = random_tensor(ys, t, seed++);
      Call max{Op::MaxPool,
               t,
               {Tensor::empty(ys, t), x, Tensor::empty(ys, DType::i32), {}},
               {0, 2},
               window_args(p)};
      check_call(max, what + " max_pool", 0.0);
      check_call({Op::AvgPool, t, {Tensor::empty(ys, t), x, {}, {}}, {0}, window_args(p)},
                 what + " avg_pool", tol(t));
      // The argmax the CPU forward recorded drives both backward kernels.
      Tensor indices = Tensor::empty(ys, DType::i32);
      kernels::KernelArgs fwd = window_args(p);
      const Tensor y = Tensor::empty(ys, t);
      fwd.out = autodiff::buffer_view(y);
      fwd.in[0] = autodiff::buffer_view(x);
      fwd.in[1] = autodiff::buffer_view(indices);
      fwd.device = Device::cpu();
      kernels::run("cpu reference", Op::MaxPool, t, fwd);
      check_call(
          {Op::MaxPoolBackward, t, {Tensor::empty(p.x, t), g, indices, {}}, {0}, window_args(p)},
          what + " max_pool_backward", 0.0);
      check_call({Op::AvgPoolBackward, t, {Tensor::empty(p.x, t), g, {}, {}}, {0}, window_args(p)},
                 what + " avg_pool_backward", tol(t));
    }
  }
}

TEST_CASE("cuda: moments, LayerNorm and BatchNorm kernels match the CPU" * doctest::skip(kNoGpu)) {
  const std::vector<Shape> shapes = {{5, 1},     {33, 7},     {17, 1000},
                                     {1000, 37}, {1, 100003}, {50176, 32}};
  std::uint32_t seed = 100;
  for (const Shape& s : shapes) {
    for (DType t : {DType::f32, DType::f64}) {
      const std::string what = to_string(s) + " " + std::string(name(t));
      const std::int64_t R = s[0], C = s[1];
      const Tensor x = random_tensor(s, t, seed++, 3.0, 5.0);
      const Tensor g = random_tensor(s, t, seed++);
      for (int axis : {0, 1}) {
        const Shape stat{axis == 1 ? R : C};
        Call m{Op::Moments, t, {Tensor::empty(stat, t), x, Tensor::empty(stat, t), {}}, {0, 2}, {}};
        m.args.ints[0] = axis;
        check_call(m, what + " moments axis " + std::to_string(axis), tol(t) * 10);
      }
      const Tensor scale = random_tensor(Shape{C}, t, seed++);
      const Tensor offset = random_tensor(Shape{C}, t, seed++);
      for (bool params : {false, true}) {
        Call ln{Op::LayerNorm,
                t,
                {Tensor::empty(s, t), x, params ? scale : Tensor(), params ? offset : Tensor()},
                {0},
                {}};
        ln.args.scalar[0] = 1e-3;
        check_call(ln, what + " layer_norm", tol(t) * 10);
        Tensor work = zeros(Shape{3, C}, t);
        if (params) work = concatenate({reshape(scale, Shape{1, C}), zeros(Shape{2, C}, t)});
        Call back{Op::LayerNormBackward, t, {Tensor::empty(s, t), g, x, work}, {0, 3}, {}};
        back.args.ints[0] = params;
        back.args.ints[1] = params;
        back.args.ints[2] = params;
        back.args.scalar[0] = 1e-3;
        check_call(back, what + " layer_norm_backward", tol(t) * 100);
      }
      check_call({Op::ChannelAffine, t, {Tensor::empty(s, t), x, scale, offset}, {0}, {}},
                 what + " channel_affine", tol(t));
      check_call(
          {Op::BatchNormBackwardReduce, t, {Tensor::empty(Shape{2, C}, t), g, x, offset}, {0}, {}},
          what + " batch_norm_backward_reduce", tol(t) * 100);
      const Tensor k = random_tensor(Shape{3, C}, t, seed++);
      check_call({Op::BatchNormBackward, t, {Tensor::empty(s, t), g, x, k}, {0}, {}},
                 what + " batch_norm_backward", tol(t));
    }
  }
}

TEST_CASE("cuda: dropout draws the CPU's mask, dense and strided" * doctest::skip(kNoGpu)) {
  for (DType t : {DType::f32, DType::f64}) {
    for (const Shape& s : {Shape{1}, Shape{7}, Shape{1000, 1001}}) {
      const Tensor x = random_tensor(s, t, 7);
      for (double keep : {0.1, 0.5, 0.999}) {
        Call d{Op::Dropout, t, {Tensor::empty(s, t), x, {}, {}}, {0}, {}};
        d.args.scalar[0] = keep;
        d.args.key[0] = 12345;
        d.args.key[1] = 678;
        check_call(d, to_string(s) + " dropout", 0.0);
      }
    }
    // A transposed input: the op on both devices.
    const Tensor xt = transpose(random_tensor(Shape{300, 501}, t, 8));
    CHECK(dropout(Key(3), 0.4, xt.to(kGpu)).to_vector<double>() ==
          dropout(Key(3), 0.4, xt).to_vector<double>());
  }
}

TEST_CASE("cuda: the pool and norm ops' forward passes on GPU tensors match the CPU" *
          doctest::skip(kNoGpu)) {
  const Tensor x = random_tensor(Shape{8, 14, 14, 32}, DType::f32, 9);
  const Tensor xg = x.to(kGpu);
  const PoolOptions o{{3, 3}, {2, 2}, {{1, 1}, {1, 1}}};
  check_close(max_pool(xg, o).to_vector<float>(), max_pool(x, o).to_vector<float>(), 0.0,
              "max_pool");
  check_close(avg_pool(xg, o).to_vector<float>(), avg_pool(x, o).to_vector<float>(), 1e-6,
              "avg_pool");
  const Tensor scale = random_tensor(Shape{32}, DType::f32, 10);
  const Tensor offset = random_tensor(Shape{32}, DType::f32, 11);
  check_close(layer_norm(xg, -1, scale.to(kGpu), offset.to(kGpu)).to_vector<float>(),
              layer_norm(x, -1, scale, offset).to_vector<float>(), 1e-5, "layer_norm", 1e-6);
  const BatchNormResult a = batch_norm_train(xg, {0, 1, 2}, scale.to(kGpu), offset.to(kGpu));
  const BatchNormResult b = batch_norm_train(x, {0, 1, 2}, scale, offset);
  check_close(a.y.to_vector<float>(), b.y.to_vector<float>(), 1e-5, "batch_norm y");
  check_close(a.mean.to_vector<float>(), b.mean.to_vector<float>(), 1e-5, "batch_norm mean");
  check_close(a.var.to_vector<float>(), b.var.to_vector<float>(), 1e-5, "batch_norm var");
  const Moments m = moments(xg, {1, 2});  // a middle-axes transpose on the device
  check_close(m.var.to_vector<float>(), moments(x, {1, 2}).var.to_vector<float>(), 1e-5, "moments");
}
