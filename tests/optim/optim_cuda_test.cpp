// The optimizers on CUDA params: the same code as on the CPU (public ops only), so the parabola's
// optax trajectories must come out the same. Counts stay on the host; moments live on the GPU.
// Uses only configurations whose ops have CUDA kernels today (fill, cast, copy, add/sub/mul/div,
// sqrt, and the fused optimizer kernels that adam, adamw, nadam(w) and sgd with momentum take by
// default). Skipped without a GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/optim/fused.hpp"
#include "optim/optax_problems.hpp"

namespace elegy {
namespace {

const bool kNoGpu = !cuda_available();

TEST_CASE("optim on cuda: parabola trajectories match optax, counts stay on the host" *
          doctest::skip(kNoGpu)) {
  const Device gpu = Device::cuda(0);
  const auto& p = optax_test::problem("parabola");
  int runs = 0;
  for (const auto& run : optax_reference::kRuns) {
    const std::string config = run.config;
    const bool on_gpu = config.starts_with("sgd") || config.starts_with("adam") ||
                        config.starts_with("nadam") || config.starts_with("rmsprop");
    if (std::string(run.problem) != "parabola" || !on_gpu || config == "sgd_cosine_onecycle" ||
        config.starts_with("adamax"))
      continue;
    const DType dtype = std::string(run.dtype) == "float32" ? DType::f32 : DType::f64;
    const double rtol = dtype == DType::f32 ? 1e-6 : 1e-12;
    INFO(config << " in " << std::string(run.dtype));
    const Tree k = optax_test::constants(p, dtype, gpu);
    Tree params = optax_test::initial_params(p, dtype, gpu);
    const auto opt = optax_test::make_optimizer(config, p);
    optim::OptState state = opt.init(params);
    double worst = 0.0;
    int row = 0;
    for (int step = 0; step < optax_reference::kSteps; ++step) {
      auto r = opt.update(optax_test::gradients("parabola", params, k), state, params);
      params = optim::apply_updates(params, r.updates);
      state = std::move(r.state);
      if (optax_reference::kRecordedSteps[row] != step + 1) continue;
      int i = 0;
      for (const Tensor& leaf : params.leaves()) {
        REQUIRE(leaf.device() == gpu);
        for (double got : leaf.to(Device::cpu()).to_vector<double>())
          worst = std::max(
              worst, optax_test::tolerance_units(got, run.steps[row * run.numel + i++], rtol, 0.5));
      }
      ++row;
    }
    CHECK(worst <= 1.0);
    for (const auto& [path, leaf] : state.flatten_with_paths()) {
      INFO(path);
      CHECK(leaf.device() == (path.ends_with("count") ? Device::cpu() : gpu));
    }
    ++runs;
  }
  CHECK(runs == 36);  // 18 configurations x 2 dtypes
}

// 30 leaves, more than one launch of the CUDA multi-tensor kernels (24 tensors each), of sizes
// around the block width, an empty one, and one spread over several hundred blocks.
Tree many_leaves(DType dtype, std::uint64_t seed) {
  Tree t;
  for (int i = 0; i < 30; ++i) {
    const std::int64_t n = i == 3 ? 0 : i == 17 ? 70001 : 1 + (i * 37) % 300;
    t["w" + std::to_string(100 + i)] =
        random::normal(Key(seed + std::uint64_t(i)), Shape{n}, dtype);
  }
  return t;
}

// Largest |a - b| / max(|b|, 1e-3) over two trees of one structure, `a` on the GPU.
double worst_difference(const Tree& a, const Tree& b) {
  REQUIRE(Tree::structure_difference(a, b) == "");
  const auto la = a.leaves(), lb = b.leaves();
  double worst = 0.0;
  for (std::size_t i = 0; i < la.size(); ++i) {
    const auto va = la[i].to(Device::cpu()).to_vector<double>(), vb = lb[i].to_vector<double>();
    REQUIRE(va.size() == vb.size());
    for (std::size_t j = 0; j < va.size(); ++j) {
      const double d = std::abs(va[j] - vb[j]) / std::max(std::abs(vb[j]), 1e-3);
      worst = std::max(worst, std::isnan(d) ? INFINITY : d);
    }
  }
  return worst;
}

TEST_CASE("optim on cuda: fused steps over 30 leaves equal the CPU's fused steps" *
          doctest::skip(kNoGpu)) {
  using namespace optim;
  const Device gpu = Device::cuda(0);
  struct Case {
    std::string name;
    GradientTransformation opt;
    double tolerance;  // 0: bit for bit
  };
  const auto odd_only = [](const Tree& p) {
    return p.map([](const Tensor& x) {
      return Tensor::from_vector(std::vector<std::uint8_t>{x.numel() % 2 == 1}, Shape{})
          .astype(DType::bool_);
    });
  };
  const std::vector<Case> cases = {
      {"adam", adam(1e-2), 0.0},
      {"nadam eps_root", nadam(1e-3, {.eps_root = 1e-6}), 0.0},
      {"adamw masked, scheduled",
       adamw(1e-2, {.weight_decay = linear_schedule(0.2, 0.0, 3), .mask = MaskFn(odd_only)}), 0.0},
      {"sgd nesterov", sgd(0.1, {.momentum = 0.9, .nesterov = true}), 0.0},
      // lamb sums its norms in another order on each device.
      {"lamb", lamb(1e-2, {.weight_decay = 0.01}), 1e-6},
  };
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Case& c : cases) {
      INFO(c.name << " in " << dtype);
      Tree on_cpu = many_leaves(dtype, 1);
      Tree on_gpu = on_cpu.map([&](const Tensor& x) { return x.to(gpu); });
      OptState s_cpu = c.opt.init(on_cpu), s_gpu = c.opt.init(on_gpu);
      for (int step = 0; step < 3; ++step) {
        const Tree grads = many_leaves(dtype, 100 + std::uint64_t(step) * 50);
        const Tree grads_gpu = grads.map([&](const Tensor& x) { return x.to(gpu); });
        const std::int64_t before = detail::fused_update_count();
        StepResult r_gpu = update_and_apply(c.opt, grads_gpu, s_gpu, on_gpu);
        CHECK(detail::fused_update_count() == before + 1);  // the fused path ran on the GPU
        StepResult r_cpu = update_and_apply(c.opt, grads, s_cpu, on_cpu);
        on_gpu = r_gpu.params;
        on_cpu = r_cpu.params;
        s_gpu = r_gpu.state;
        s_cpu = r_cpu.state;
        CHECK(worst_difference(on_gpu, on_cpu) <= c.tolerance);
        CHECK(worst_difference(s_gpu, s_cpu) <= c.tolerance);
      }
    }
  }
}

}  // namespace
}  // namespace elegy
