// What a compiled train step costs before it replays (issue 7): the first two train_on_batch
// calls of a batch signature run eagerly under a StepRecording (the first also packs the memory
// plan; the second records over it and is compared with the first), then every step replays.
// The peer is jax.jit's first call (trace + compile + run), timed by jax_compile_cost.py on the
// same networks; run.py-style lines: `elegy,case,phase,ms`.
//
//     bench_train_recording [--repeats N]
//
// Cases: the benchmark MLP (784-512-512-10, b128), CNN (b64) and deep MLPs of 400 and 1600
// Linear(16)+relu layers (b8): ~2.8k and ~11k kernels per step, where the recording's own
// bookkeeping (lifetimes, packing, the comparison) is what costs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <elegy/elegy.hpp>

#include "modules.hpp"

using namespace elegy;

namespace {

using bench::train::CnnModule;
using bench::train::MlpModule;

struct DeepMlp : nn::Module {
  int layers;
  explicit DeepMlp(int n) : layers(n) {}
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = x;
    for (int i = 0; i < layers; ++i) h = nn::relu(ctx, nn::Linear(16)(ctx, h));
    return nn::Linear(10)(ctx, h);
  }
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One fresh model per repeat (a recording happens once per model and signature).
void measure(const std::string& name, const std::function<nn::AnyModule()>& make,
             const Shape& x_shape, int repeats) {
  std::vector<double> first, second, replay;
  for (int r = 0; r < repeats; ++r) {
    Model m({.module = make(),
             .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
             .optimizer = optim::adam(1e-3)});
    const Tensor x = random::normal(Key(1), x_shape);
    const Tensor y = random::randint(Key(2), {x_shape[0]}, 0, 10, DType::i32);
    m.init_on_batch(x, y);
    auto t0 = std::chrono::steady_clock::now();
    m.train_on_batch(x, y);
    first.push_back(ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    m.train_on_batch(x, y);
    second.push_back(ms_since(t0));
    for (int i = 0; i < 5; ++i) {
      t0 = std::chrono::steady_clock::now();
      m.train_on_batch(x, y);
      replay.push_back(ms_since(t0));
    }
    if (!m.compiled_step_status().compiled) {
      std::fprintf(stderr, "%s: not compiled: %s\n", name.c_str(),
                   m.compiled_step_status().why_eager.c_str());
      std::exit(1);
    }
  }
  std::printf("elegy,%s,first_call,%.2f\n", name.c_str(), median(first));
  std::printf("elegy,%s,second_call,%.2f\n", name.c_str(), median(second));
  std::printf("elegy,%s,replay,%.3f\n", name.c_str(), median(replay));
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::max(1, std::atoi(argv[i + 1]));
  measure(
      "mlp_b128", [] { return nn::AnyModule(MlpModule()); }, Shape{128, 784}, repeats);
  measure(
      "cnn_b64", [] { return nn::AnyModule(CnnModule()); }, Shape{64, 28, 28, 1}, repeats);
  for (int layers : {400, 1600})
    measure(
        "deep" + std::to_string(layers) + "_b8",
        [layers] { return nn::AnyModule(DeepMlp(layers)); }, Shape{8, 16}, repeats);
}
