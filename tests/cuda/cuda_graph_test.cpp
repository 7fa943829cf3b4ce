// CUDA graphs over a replayed step (core/stream_graph.hpp, StepRecording::use_graphs,
// ModelOptions::cuda_graphs): a graph launches the recorded kernels over the same buffers, so a
// replay with graphs gives the kernel-by-kernel replay's bits, for new inputs written into the
// recorded input buffers; launchers' temporaries (reductions' partial sums, normalisation
// statistics) are the graph's own; a capture that would wait on the host is refused and the work
// runs kernel by kernel. Skipped when no GPU is visible.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include <elegy/autodiff/step_recording.hpp>
#include <elegy/core/stream_graph.hpp>

#include "cuda/cuda_vs_cpu.hpp"

using namespace elegy;
using namespace elegy::cuda_test;

namespace {

const bool kNoGpu = !cuda_available();

std::vector<float> host_floats(const Tensor& t) {
  return t.to(Device::cpu()).astype(DType::f32).to_vector<float>();
}

Tensor gpu_normal(std::uint32_t seed, const Shape& shape) {
  return random::normal(Key(seed), shape).to(kGpu);
}

// matmul (cuBLAS), a bias add, layer norm (f64 temporaries of its own), a softmax, column sums
// large enough for partial sums in a scratch buffer, and batch statistics.
Tensor computation(const Tensor& x, const Tensor& w) {
  const Tensor h = relu(matmul(x, w) + 0.5);
  const Tensor n = layer_norm(h, {1}, Tensor(), Tensor());
  const Tensor s = softmax(n, -1);
  const Moments m = moments(h, {0});
  return concatenate({sum(s * n, {0}), reshape(m.mean, {-1}), reshape(m.var, {-1}),
                      reshape(sum(exp(x), {0}), {-1})},
                     0);
}

// Writes `src`'s values into `dst`'s buffer (same shape, both dense on the GPU).
void overwrite(const Tensor& dst, const Tensor& src) {
  kernels::KernelArgs args;
  args.out = autodiff::buffer_view(dst);
  args.in[0] = autodiff::buffer_view(src);
  args.num_inputs = 1;
  args.device = kGpu;
  args.in_device = kGpu;
  kernels::run("test", kernels::Op::Copy, dst.dtype(), args);
}

struct Mlp : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::relu(ctx, nn::Linear(64)(ctx, nn::Flatten()(ctx, x.astype(DType::f32))));
    h = nn::relu(ctx, nn::Linear(32)(ctx, h));
    return nn::Linear(5)(ctx, h);
  }
};

// BatchNorm's statistics, and two Dropout layers: their kernels take a key drawn at each step,
// which a replay with graphs writes into a key table on the GPU before launching them, so the
// graphs hold them and still draw each step's masks.
struct BatchNormDropoutCnn : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::BatchNorm()(ctx, nn::Conv2D(4, 3)(ctx, x));
    h = nn::MaxPool(2)(ctx, nn::relu(ctx, h));
    h = nn::Dropout(0.25)(ctx, nn::Flatten()(ctx, h));
    return nn::Linear(5)(ctx, nn::Dropout(0.5)(ctx, nn::relu(ctx, nn::Linear(8)(ctx, h))));
  }
};

Model model_of(nn::AnyModule module, bool graphs) {
  return Model({.module = std::move(module),
                .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
                         regularizers::GlobalL2(1e-4)},
                .metrics = {metrics::SparseCategoricalAccuracy()},
                .optimizer = optim::adam(1e-2),
                .device = kGpu,
                .cuda_graphs = graphs});
}

}  // namespace

TEST_CASE("cuda: a recorded computation replayed as graphs gives the kernel-by-kernel bits" *
          doctest::skip(kNoGpu)) {
  const Tensor x = gpu_normal(1, {512, 96}), w = gpu_normal(2, {96, 80});
  autodiff::StepRecording recording;
  recording.add_inputs(std::vector<Tensor>{x, w});
  const Tensor y = computation(x, w);
  recording.stop();
  REQUIRE(recording.replayable());
  const std::vector<float> recorded = host_floats(y);

  recording.use_graphs(true);
  for (std::uint32_t step = 0; step < 4; ++step) {
    CAPTURE(step);
    const Tensor next = gpu_normal(10 + step, {512, 96});
    overwrite(x, next);
    recording.replay();  // the first replay captures, then launches; the others launch
    const std::vector<float> with_graphs = host_floats(y);
    // The eager computation of the new input, on the same GPU: the same kernels.
    CHECK(host_floats(computation(next, w)) == with_graphs);
    CHECK(with_graphs != recorded);
  }
  const autodiff::StepRecording::GraphStatus status = recording.graph_status();
  CHECK(status.graphs >= 1);
  CHECK(status.refused == 0);
  CHECK(status.why_not == "");
  CHECK(status.kernels + 2 >= recording.num_kernels());  // (at most the copies in stay out)
  // Kernel by kernel again: the same bits.
  const std::vector<float> last = host_floats(y);
  recording.use_graphs(false);
  recording.replay();
  CHECK(host_floats(y) == last);
}

TEST_CASE("cuda: a copy to the host inside a replayed computation stays out of its graphs" *
          doctest::skip(kNoGpu)) {
  // The copy waits for the GPU: captured, it would refuse its whole run. It is left out when the
  // runs are planned, so both sides are graphs from the first replay and none is refused.
  const Tensor x = gpu_normal(5, {300, 40});
  autodiff::StepRecording recording;
  recording.add_inputs(std::vector<Tensor>{x});
  const Tensor y = exp(x) * 0.5 + 1.0;
  const Tensor on_host = y.to(Device::cpu());
  const Tensor z = relu(y - 1.25) * 3.0 + sum(y, {0});
  recording.stop();
  REQUIRE(recording.replayable());
  recording.use_graphs(true);
  const Tensor next = gpu_normal(6, {300, 40});
  overwrite(x, next);
  recording.replay();
  const autodiff::StepRecording::GraphStatus status = recording.graph_status();
  CHECK(status.refused == 0);
  CHECK(status.graphs == 2);
  CHECK(status.kernels + 1 == recording.num_kernels());  // all but the copy
  const Tensor y_next = exp(next) * 0.5 + 1.0;
  CHECK(on_host.to_vector<float>() == host_floats(y_next));
  CHECK(host_floats(z) == host_floats(relu(y_next - 1.25) * 3.0 + sum(y_next, {0})));
}

TEST_CASE("cuda: a capture that waits on the host is refused and runs nothing" *
          doctest::skip(kNoGpu)) {
  const Tensor x = gpu_normal(3, {1000});
  std::string why;
  float read = 0;
  const std::uint64_t waits = cuda_host_waits();
  const auto graph = StreamGraph::capture(
      kGpu, [&] { read = sum(x).item<float>(); }, why);
  CHECK(graph == nullptr);
  CHECK_FALSE(why.empty());
  CHECK(read == 0);                   // the read raised: nothing came back
  CHECK(cuda_host_waits() == waits);  // and the host did not wait
  MESSAGE("refused: " << why);
  // The device still works, and the sum is right once run the ordinary way.
  const std::vector<float> v = host_floats(x);
  double expected = 0;
  for (float f : v) expected += f;
  CHECK(sum(x).item<float>() == doctest::Approx(expected).epsilon(1e-4));
}

TEST_CASE("cuda: a capture that keeps a block it allocated is refused" * doctest::skip(kNoGpu)) {
  const Tensor x = gpu_normal(4, {256});
  Tensor kept;
  std::string why;
  const auto graph = StreamGraph::capture(
      kGpu, [&] { kept = exp(x); }, why);
  CHECK(graph == nullptr);
  CHECK(why.find("kept a block") != std::string::npos);
}

TEST_CASE("cuda: a constant first made while a graph is captured holds its value" *
          doctest::skip(kNoGpu)) {
  // A scalar operand on the GPU is a cached device constant, made once: made inside a capture,
  // it is still written at once, not by a graph that (refused here) never launches.
  const Tensor x = gpu_normal(7, {1000});
  constexpr double kFresh = 0.8125;  // used by no other test: first made in the capture
  Tensor kept;
  std::string why;
  const auto graph = StreamGraph::capture(
      kGpu, [&] { kept = x * kFresh; }, why);
  CHECK(graph == nullptr);  // (it kept its output)
  const std::vector<float> want = host_floats(x.to(Device::cpu()) * kFresh);
  check_identical(host_floats(x * kFresh), want, "x * a constant made during a capture");
}

TEST_CASE("cuda: a captured graph launches its kernels again over the same buffers" *
          doctest::skip(kNoGpu)) {
  const Tensor x = gpu_normal(5, {1 << 20});
  const Tensor out = zeros(Shape{1 << 20}, DType::f32, kGpu),
               total = zeros(Shape{1}, DType::f32, kGpu);
  Allocator& allocator = allocator_for(kGpu);
  const std::int64_t in_use = allocator.stats().bytes_in_use;
  std::string why;
  // Into buffers made before the capture: an elementwise kernel, and a full reduction (its
  // partial sums in a scratch block); exp's output and the sum's are temporaries of the capture.
  auto graph = StreamGraph::capture(
      kGpu,
      [&] {
        const Tensor e = exp(x);
        overwrite(out, e);
        const Tensor s = reshape(sum(e), {1});
        overwrite(total, s);
      },
      why);
  REQUIRE_MESSAGE(graph != nullptr, why);
  CHECK(graph->num_nodes() >= 3);
  // The graph keeps its temporaries while it lives.
  CHECK(allocator.stats().bytes_in_use >= in_use + (std::int64_t(4) << 20));
  CHECK(host_floats(out) == std::vector<float>(1 << 20, 0.0f));  // nothing ran yet
  for (std::uint32_t round = 0; round < 3; ++round) {
    CAPTURE(round);
    overwrite(x, gpu_normal(6 + round, {1 << 20}));
    graph->launch();
    const Tensor e = exp(x);
    CHECK(host_floats(out) == host_floats(e));
    CHECK(host_floats(total) == host_floats(reshape(sum(e), {1})));
  }
  graph.reset();
  CHECK(allocator.stats().bytes_in_use == in_use);
}

TEST_CASE("cuda: other threads' work during a capture runs, and is no part of the graph" *
          doctest::skip(kNoGpu)) {
  const Tensor x = gpu_normal(7, {4096}), out = zeros(Shape{4096}, DType::f32, kGpu);
  const Tensor y = gpu_normal(8, {4096});
  float other = 0;
  std::string why;
  auto graph = StreamGraph::capture(
      kGpu,
      [&] {
        // fit's helper thread gathering the next batch on the GPU meanwhile.
        std::thread helper([&] { other = sum(square(y)).item<float>(); });
        helper.join();
        const Tensor e = exp(x);
        overwrite(out, e);
      },
      why);
  REQUIRE_MESSAGE(graph != nullptr, why);
  double expected = 0;
  for (float v : host_floats(y)) expected += double(v) * v;
  CHECK(other == doctest::Approx(expected).epsilon(1e-4));
  graph->launch();
  CHECK(host_floats(out) == host_floats(exp(x)));
}

TEST_CASE("cuda: a compiled step with cuda_graphs trains bit for bit as without" *
          doctest::skip(kNoGpu)) {
  struct Case {
    const char* name;
    std::function<nn::AnyModule()> module;
    Shape x_shape;
  };
  const std::vector<Case> cases = {
      {"mlp", [] { return nn::AnyModule(Mlp()); }, Shape{32, 6, 6}},
      {"batchnorm + dropout cnn", [] { return nn::AnyModule(BatchNormDropoutCnn()); },
       Shape{16, 10, 10, 2}},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    Model graphs = model_of(c.module(), true), plain = model_of(c.module(), false);
    for (std::uint32_t step = 0; step < 7; ++step) {
      CAPTURE(step);
      const Tensor x = random::normal(Key(20 + step), c.x_shape);
      const Tensor y = random::randint(Key(40 + step), {c.x_shape[0]}, 0, 5, DType::i32);
      const std::uint64_t before = cuda_host_waits();
      const Logs lg = graphs.train_on_batch(x, y);
      const std::uint64_t waits = cuda_host_waits() - before;
      const std::uint64_t before_plain = cuda_host_waits();
      CHECK(lg == plain.train_on_batch(x, y));
      // A replay with graphs waits where the kernel-by-kernel one does.
      if (step >= 3) CHECK(waits == cuda_host_waits() - before_plain);
    }
    const auto a = graphs.states().leaves(), b = plain.states().leaves();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(host_floats(a[i]) == host_floats(b[i]));
    const CompiledStepStatus s = graphs.compiled_step_status();
    CHECK(s.replays == 5);
    CHECK(s.graphs >= 1);
    CHECK(s.graph_kernels > s.kernels / 2);
    MESSAGE(c.name << ": " << s.graphs << " graphs holding " << s.graph_kernels << " of "
                   << s.kernels << " kernels; " << s.why_no_graphs);
    CHECK(plain.compiled_step_status().graphs == 0);
    // Predictions through the compiled pred step, with graphs too.
    const Tensor x = random::normal(Key(99), c.x_shape);
    for (int i = 0; i < 3; ++i)
      CHECK(host_floats(graphs.predict_on_batch(x).tensor()) ==
            host_floats(plain.predict_on_batch(x).tensor()));
  }
}
