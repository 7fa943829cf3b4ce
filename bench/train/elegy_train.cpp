// elegy's training steps for issue 8, two ways, from the weights and batches gen_data.py wrote:
//   elegy_model     Model::train_on_batch with nn modules, SparseCategoricalCrossentropy(from
//                   logits) and optim::adam(1e-3): what a user of the high-level API runs.
//                   Forward only: Model::predict_on_batch.
//   elegy_lowlevel  value_and_grad of a plain function of a params Tree, optim::adam(1e-3)
//                   update, optim::apply_updates: the eager core without the Model machinery.
//                   Forward only: the same function under NoGrad.
// Cases per workload (mlp_b32, mlp_b128, mlp_b512, cnn_b64; --workloads gpu adds mlp_b1024):
// <w>_train and <w>_infer; the low-level path also reports its phases (<w>_train:vg =
// value_and_grad, :update, :apply) and <w>_train:fwd_tape (forward + loss recorded on a tape, no
// backward), so the backward pass is :vg - :fwd_tape. The Model path also reports fit's own
// cost per step: <w>_train:fit_shuffled and :fit_ordered (one silent epoch of Model::fit over a
// dataset of the batches repeated) and <w>_train:loop (train_on_batch over views of its rows),
// as medians of their per-step means over interleaved repeats.
//
// --device cuda puts the batches and the initial parameters on the GPU (the Model path through
// ModelOptions::device) and waits for the GPU at the end of every timed step, so a step's time
// includes its kernels, not only their launches. The phase times of the low-level path are then
// launch times only (the GPU is not waited for between phases).
//
// bench_train_elegy [--threads N] [--data DIR] [--losses FILE] [--filter SUBSTR]
//                   [--path model|lowlevel] [--device cpu|cuda] [--workloads cpu|gpu] ...
// Exits nonzero when anything throws (a missing op, a mismatched parameter file, --device cuda
// in a build without the CUDA backend or on a machine without a GPU).
#include <algorithm>
#include <cstdio>
#include <elegy/elegy.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "modules.hpp"
#ifdef ELEGY_WITH_CUDA
#include "elegy/core/cuda/cuda_runtime.hpp"
#endif

namespace {

using namespace elegy;
namespace bt = elegy::bench::train;

// The two networks as modules (the Model path): modules.hpp.
using bt::CnnModule;
using bt::kRelu;
using bt::MlpModule;

// ---- the same networks as functions of a params Tree (the low-level path) ---------------------

// act(x @ w + b) and act(conv(x, w) + b) through the fused epilogue ops.
Tensor dense(const Tree& p, const char* layer, const Tensor& x,
             FusedActivation act = FusedActivation::none) {
  return bias_act(matmul(x, p[layer]["w"]), p[layer]["b"], act);
}

Tensor conv3x3_same_relu(const Tree& p, const char* layer, const Tensor& x) {
  ConvOptions o;
  o.padding = {{1, 1}, {1, 1}};
  return conv_bias_act(x, p[layer]["w"], p[layer]["b"], o, kRelu);
}

Tensor forward(bt::Net net, const Tree& p, const Tensor& x) {
  if (net == bt::Net::mlp) {
    Tensor h = dense(p, "linear", x, kRelu);
    h = dense(p, "linear_1", h, kRelu);
    return dense(p, "linear_2", h);
  }
  const PoolOptions pool{.window = {2, 2}};
  Tensor h = max_pool(conv3x3_same_relu(p, "conv2_d", x), pool);
  h = max_pool(conv3x3_same_relu(p, "conv2_d_1", h), pool);
  h = dense(p, "linear", flatten(h), kRelu);
  return dense(p, "linear_1", h);
}

// Mean softmax cross-entropy from logits. Bounds checking off: the labels are known good, and
// the check costs two reductions read back to the host per step.
Tensor loss_of(bt::Net net, const Tree& p, const Tensor& x, const Tensor& y) {
  return mean(losses::sparse_categorical_crossentropy(y, forward(net, p, x), /*from_logits=*/true,
                                                      /*check_bounds=*/false));
}

// ---- the device -------------------------------------------------------------------------------

// The device --device names, checked to be usable here.
Device bench_device(const bt::Args& args) {
  if (args.device == "cpu") return Device::cpu();
  ELEGY_CHECK(cuda_compiled(), "--device cuda",
              "this build has no CUDA backend (configure with -DELEGY_ENABLE_CUDA=ON on a "
              "machine with nvcc)");
  ELEGY_CHECK(cuda_available(), "--device cuda", "the CUDA backend is built but no GPU is visible");
  return Device::cuda();
}

// Blocks until `device` has run everything queued on it, so a timed step ends when its last
// kernel does. Nothing to wait for on the CPU, whose ops return when their work is done.
void wait_for(Device device) {
#ifdef ELEGY_WITH_CUDA
  if (device.is_cuda()) cuda::synchronize(device.index);
#else
  (void)device;
#endif
}

// ---- inputs -----------------------------------------------------------------------------------

struct Batch {
  Tensor x, y;
};

// The batches on `device`, copied there once before any step.
std::vector<Batch> device_batches(const bt::Args& args, const bt::Workload& w, Device device) {
  std::vector<Batch> out;
  for (const bt::HostBatch& hb : bt::read_batches(args.data, w.batch)) {
    const Shape shape =
        w.net == bt::Net::mlp ? Shape{w.batch, bt::kImage} : Shape{w.batch, 28, 28, 1};  // NHWC
    out.push_back(
        {Tensor::from_vector(hb.x, shape).to(device), Tensor::from_vector(hb.y).to(device)});
  }
  return out;
}

Tree initial_params(const bt::Args& args, bt::Net net, Device device) {
  Tree params;
  for (const bt::Param& p : bt::read_params(args.data, net))
    params[p.path] = Tensor::from_vector(p.values, Shape(p.shape)).to(device);
  return params;
}

// Every leaf of `a` has the path and shape of the matching leaf of `b`; else an Error, so a
// renamed module cannot silently train from its own random init.
void check_same_params(const Tree& model_params, const Tree& file_params) {
  const std::string diff = Tree::structure_difference(model_params, file_params);
  ELEGY_CHECK(diff.empty(), "bench_train_elegy",
              "the model's parameters differ from the weight files: ", diff);
  const auto a = model_params.flatten_with_paths(), b = file_params.flatten_with_paths();
  for (std::size_t i = 0; i < a.size(); ++i)
    ELEGY_CHECK(a[i].second.shape() == b[i].second.shape(), "bench_train_elegy", a[i].first,
                ": model ", describe(a[i].second), " vs file ", describe(b[i].second));
}

// ---- fit's own cost ---------------------------------------------------------------------------

// What Model::fit adds to train_on_batch per step: one silent epoch of `steps` steps through
// fit, shuffled (Keras' default: each batch's rows gathered from across the dataset) and in
// order (each batch a view of the dataset's rows), against a loop of train_on_batch over the
// same views. The dataset repeats the benchmark's batches to a few MB, so every path reads its
// rows from memory, not from cache, as a real epoch does. Interleaved `kRepeats` times; the
// medians of the per-step means are printed as <name>_train:fit_shuffled, :fit_ordered and
// :loop.
void time_fit_per_step(const bt::Args& args, Model& model, const std::vector<Batch>& data,
                       Device device, double step_us, const std::string& name) {
  constexpr int kRepeats = 5;
  // About a quarter of a second per epoch: long enough that the epoch's own start and end
  // (callbacks, reshuffling) are a small part, as in a real epoch of hundreds of steps.
  const int steps = int(std::clamp(250e3 / step_us, 20.0, 400.0));
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < steps; ++i) {
    xs.push_back(data[std::size_t(i % bt::kNumBatches)].x);
    ys.push_back(data[std::size_t(i % bt::kNumBatches)].y);
  }
  const Tensor x = concatenate(xs), y = concatenate(ys);
  const std::int64_t batch = data[0].x.shape(0);
  const auto per_step_us = [steps](bt::Clock::time_point start) {
    return bt::us_between(start, bt::Clock::now()) / steps;
  };
  std::vector<double> shuffled_us, ordered_us, loop_us;
  for (int r = 0; r < kRepeats; ++r) {
    for (const bool shuffle : {true, false}) {
      const auto start = bt::Clock::now();
      model.fit(
          {.x = x, .y = y, .batch_size = batch, .epochs = 1, .verbose = 0, .shuffle = shuffle});
      wait_for(device);
      (shuffle ? shuffled_us : ordered_us).push_back(per_step_us(start));
    }
    model.reset_metrics();
    const auto start = bt::Clock::now();
    for (std::int64_t i = 0; i < steps; ++i)
      model.train_on_batch(slice(x, i * batch, (i + 1) * batch),
                           slice(y, i * batch, (i + 1) * batch));
    wait_for(device);
    loop_us.push_back(per_step_us(start));
  }
  bt::print_row("elegy_model", name + "_train:fit_shuffled", args.threads, bt::median(shuffled_us));
  bt::print_row("elegy_model", name + "_train:fit_ordered", args.threads, bt::median(ordered_us));
  bt::print_row("elegy_model", name + "_train:loop", args.threads, bt::median(loop_us));
}

// ---- the two paths ----------------------------------------------------------------------------

void run_model_path(const bt::Args& args, const bt::Workload& w, const std::vector<Batch>& data,
                    Device device) {
  const std::string name = w.name();
  nn::AnyModule module =
      w.net == bt::Net::mlp ? nn::AnyModule(MlpModule()) : nn::AnyModule(CnnModule());
  // On the CPU the device stays unset, as a CPU user writes it (and as the CPU tables measured).
  Model model({.module = module,
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
               .optimizer = optim::adam(1e-3),
               .device = device.is_cpu() ? std::nullopt : std::optional<Device>(device)});
  model.init_on_batch(data[0].x, data[0].y);
  const Tree params = initial_params(args, w.net, device);
  check_same_params(model.states().net_params(), params);
  model.set_states(model.states().update("net_params", params));

  // "loss" in the logs is the running mean over the epoch: reset it so each log is its step's.
  std::vector<double> losses;
  for (int i = 0; i < bt::kNumBatches; ++i) {
    model.reset_metrics();
    losses.push_back(model.train_on_batch(data[i].x, data[i].y).at("loss"));
  }
  bt::write_losses(args, "elegy_model", name, losses);

  // train_on_batch reads the loss back to the host; the wait also covers the optimizer's
  // kernels queued behind it.
  const double train = bt::median_step_us(args, [&](long i) {
    const Batch& b = data[std::size_t(i % bt::kNumBatches)];
    model.train_on_batch(b.x, b.y);
    wait_for(device);
  });
  bt::print_row("elegy_model", name + "_train", args.threads, train);
  // How the step ran (stderr, beside the rows): replayed or eager, and with CUDA graphs or not.
  const CompiledStepStatus status = model.compiled_step_status();
  std::fprintf(stderr,
               "bench_train_elegy: %s train step: %s, %zu kernels, %zu CUDA graphs holding %zu "
               "of them%s%s\n",
               name.c_str(), status.compiled ? "replayed" : ("eager: " + status.why_eager).c_str(),
               status.kernels, status.graphs, status.graph_kernels,
               status.why_no_graphs.empty() ? "" : "; not graphs: ", status.why_no_graphs.c_str());
  time_fit_per_step(args, model, data, device, train, name);
  const double infer = bt::median_step_us(args, [&](long i) {
    const Batch& b = data[std::size_t(i % bt::kNumBatches)];
    const Tree out = model.predict_on_batch(b.x);
    wait_for(device);
  });
  bt::print_row("elegy_model", name + "_infer", args.threads, infer);
}

void run_lowlevel_path(const bt::Args& args, const bt::Workload& w, const std::vector<Batch>& data,
                       Device device) {
  const std::string name = w.name();
  const optim::GradientTransformation adam = optim::adam(1e-3);
  Tree params = initial_params(args, w.net, device);
  optim::OptState opt_state = adam.init(params);

  bt::Laps laps({"vg", "update", "apply"});
  auto step = [&](const Batch& b) {
    laps.start();
    auto [loss, grads] =
        value_and_grad([&](const Tree& p) { return loss_of(w.net, p, b.x, b.y); }, params);
    laps.lap(0);
    optim::UpdateResult r = adam.update(grads, opt_state, params);
    laps.lap(1);
    params = optim::apply_updates(params, r.updates);
    opt_state = std::move(r.state);
    laps.lap(2);
    return loss;
  };

  std::vector<double> losses;
  for (int i = 0; i < bt::kNumBatches; ++i) losses.push_back(step(data[i]).item<float>());
  bt::write_losses(args, "elegy_lowlevel", name, losses);

  const double train = bt::median_step_us(
      args,
      [&](long i) {
        step(data[std::size_t(i % bt::kNumBatches)]);
        wait_for(device);
      },
      &laps);
  bt::print_row("elegy_lowlevel", name + "_train", args.threads, train);
  for (std::size_t k = 0; k < laps.names().size(); ++k)
    bt::print_row("elegy_lowlevel", name + "_train:" + laps.names()[k], args.threads,
                  laps.median_us(k));

  // Forward + loss with the tape recording, and no backward: what recording adds to inference.
  const double fwd_tape = bt::median_step_us(args, [&](long i) {
    const Batch& b = data[std::size_t(i % bt::kNumBatches)];
    autodiff::TapeScope scope;
    std::vector<Tensor> vars;
    for (const Tensor& leaf : params.leaves()) vars.push_back(autodiff::make_variable(leaf));
    const Tensor loss = loss_of(w.net, params.unflatten(vars), b.x, b.y);
    wait_for(device);
  });
  bt::print_row("elegy_lowlevel", name + "_train:fwd_tape", args.threads, fwd_tape);

  const double infer = bt::median_step_us(args, [&](long i) {
    NoGrad no_grad;
    const Tensor logits = forward(w.net, params, data[std::size_t(i % bt::kNumBatches)].x);
    wait_for(device);
  });
  bt::print_row("elegy_lowlevel", name + "_infer", args.threads, infer);
}

}  // namespace

int main(int argc, char** argv) try {
  const bt::Args args = bt::parse_args(argc, argv);
  const Device device = bench_device(args);
  elegy::set_num_threads(args.threads);
  for (const bt::Workload& w : bt::workloads(args.workload_set)) {
    if (!args.wants(w.name())) continue;
    const std::vector<Batch> data = device_batches(args, w, device);
    if (args.path.empty() || args.path == "model") run_model_path(args, w, data, device);
    if (args.path.empty() || args.path == "lowlevel") run_lowlevel_path(args, w, data, device);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train_elegy: %s\n", e.what());
  return 1;
}
