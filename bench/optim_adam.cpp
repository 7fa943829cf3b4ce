// One Adam step over a ~10M-parameter tree of realistic layer shapes (an embedding, six MLP
// blocks with biases and layer norms, an output head), elegy against libtorch's
// torch::optim::Adam in the same process on the same shapes. elegy's step is
// optim::adam(...).update (its fused path, the default) plus apply_updates; torch's is
// optimizer.step() with the gradients already in place. Median of repeats, as bench/peers.
// Usage: bench_optim_adam [--threads N]; CSV on stdout (impl,case,threads,median_us), the
// ratio and per-step milliseconds on stderr.
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

#include "elegy/optim/fused.hpp"
#include "peers/timing.hpp"

extern "C" void openblas_set_num_threads(int num_threads);

namespace {

using elegy::bench::median_us;
using elegy::bench::print_row;

// name -> shape; 10.0M parameters in all.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> layer_shapes() {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out{
      {"embedding", {10000, 256}}, {"proj/w", {256, 512}}, {"proj/b", {512}}};
  for (int i = 0; i < 6; ++i) {
    const std::string b = "block" + std::to_string(i) + "/";
    out.push_back({b + "ln/scale", {512}});
    out.push_back({b + "ln/offset", {512}});
    out.push_back({b + "up/w", {512, 1024}});
    out.push_back({b + "up/b", {1024}});
    out.push_back({b + "down/w", {1024, 512}});
    out.push_back({b + "down/b", {512}});
  }
  out.push_back({"head/w", {512, 1950}});
  out.push_back({"head/b", {1950}});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = elegy::bench::parse_args(argc, argv);
  elegy::set_num_threads(args.threads);
  torch::set_num_threads(args.threads);
  openblas_set_num_threads(args.threads);
  const auto shapes = layer_shapes();
  std::int64_t total = 0;
  for (const auto& [name, s] : shapes) {
    std::int64_t n = 1;
    for (std::int64_t d : s) n *= d;
    total += n;
  }
  const std::string case_name = "adam_step_10M";

  // elegy: params and grads as Trees, the state threaded through each step.
  elegy::Tree params, grads;
  std::uint64_t seed = 0;
  for (const auto& [name, s] : shapes) {
    const elegy::Shape shape(s);
    params[name] = elegy::random::normal(elegy::Key(++seed), shape);
    grads[name] = elegy::random::normal(elegy::Key(++seed), shape) * 1e-2;
  }
  const auto opt = elegy::optim::adam(1e-3);
  elegy::optim::OptState state = opt.init(params);
  const std::int64_t fused_before = elegy::optim::detail::fused_update_count();
  const double elegy_us = median_us([&] {
    auto r = opt.update(grads, state, params);
    params = elegy::optim::apply_updates(params, r.updates);
    state = std::move(r.state);
  });
  const bool fused = elegy::optim::detail::fused_update_count() > fused_before;

  // torch: the same shapes, torch::optim::Adam (the C++ frontend's implementation).
  std::vector<torch::Tensor> tparams;
  for (const auto& [name, s] : shapes) {
    auto p = torch::randn(s, torch::TensorOptions().dtype(torch::kFloat32).requires_grad(true));
    p.mutable_grad() = torch::randn(s) * 1e-2;
    tparams.push_back(p);
  }
  torch::optim::Adam topt(tparams, torch::optim::AdamOptions(1e-3));
  const double torch_us = median_us([&] {
    torch::NoGradGuard no_grad;
    topt.step();
  });

  print_row("elegy", case_name, args.threads, elegy_us);
  print_row("torch", case_name, args.threads, torch_us);
  std::fprintf(stderr,
               "  %lld params, %zu tensors, %d thread(s): elegy %.2f ms/step (%s path), torch "
               "%.2f ms/step, elegy is %.2fx torch's speed\n",
               static_cast<long long>(total), shapes.size(), args.threads, elegy_us / 1e3,
               fused ? "fused" : "composed", torch_us / 1e3, torch_us / elegy_us);
  return 0;
}
