// The optimizers on CUDA params: the same code as on the CPU (public ops only), so the parabola's
// optax trajectories must come out the same. Counts stay on the host; moments live on the GPU.
// Uses only configurations whose ops have CUDA kernels today (fill, cast, copy, add/sub/mul/div,
// sqrt, and the fused optimizer kernels that adam, adamw, nadam(w) and sgd with momentum take by
// default). Skipped without a GPU.
#include <doctest/doctest.h>

#include <string>

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

}  // namespace
}  // namespace elegy
