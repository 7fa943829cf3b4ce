// libtorch's training steps for issue 8: the same networks, initial weights and batches as
// elegy_train.cpp, written the way a libtorch user writes them (torch::nn modules,
// F::cross_entropy, torch::optim::Adam(1e-3), zero_grad / backward / step). Forward only: the
// forward pass under NoGradGuard.
//
// The weight files are in elegy's layouts and are converted once at load: Linear w [in, out] ->
// weight [out, in]; Conv2D w HWIO -> weight OIHW; and the CNN's first Linear has its input rows
// permuted from elegy's NHWC flatten order (h, w, c) to NCHW's (c, h, w), so both compute the
// same function. The input [N, 28, 28] is [N, 1, 28, 28] (NCHW) here and [N, 28, 28, 1] (NHWC) in
// elegy: with one channel the bytes are identical.
//
// Cases: <w>_train, <w>_infer and the step's phases <w>_train:fwd (forward + loss),
// :bwd (backward), :step (Adam step + zero_grad).
// bench_train_torch [--threads N] [--blas-threads N] [--data DIR] [--losses FILE] ...
// (torch::set_num_threads does not reach OpenBLAS in 1.13, hence --blas-threads.)
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"

extern "C" void openblas_set_num_threads(int num_threads);  // as bench/peers/torch_ops.cpp

namespace {

namespace bt = elegy::bench::train;
namespace F = torch::nn::functional;

struct MlpImpl : torch::nn::Module {
  torch::nn::Linear l0{nullptr}, l1{nullptr}, l2{nullptr};
  MlpImpl() {
    l0 = register_module("l0", torch::nn::Linear(784, 512));
    l1 = register_module("l1", torch::nn::Linear(512, 512));
    l2 = register_module("l2", torch::nn::Linear(512, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) { return l2(torch::relu(l1(torch::relu(l0(x))))); }
};
TORCH_MODULE(Mlp);

struct CnnImpl : torch::nn::Module {
  torch::nn::Conv2d c0{nullptr}, c1{nullptr};
  torch::nn::Linear l0{nullptr}, l1{nullptr};
  CnnImpl() {
    c0 = register_module("c0", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1)));
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
    l0 = register_module("l0", torch::nn::Linear(7 * 7 * 64, 128));
    l1 = register_module("l1", torch::nn::Linear(128, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = torch::max_pool2d(torch::relu(c0(x)), 2);
    h = torch::max_pool2d(torch::relu(c1(h)), 2);
    return l1(torch::relu(l0(h.flatten(1))));
  }
};
TORCH_MODULE(Cnn);

torch::Tensor to_torch(const bt::Param& p) {
  return torch::from_blob(const_cast<float*>(p.values.data()), p.shape, torch::kFloat32).clone();
}

// Copies the weight files into the module's parameters, converting layouts (see the header).
void load_params(const bt::Args& args, bt::Net net, const std::vector<torch::Tensor>& weights,
                 const std::vector<torch::Tensor>& biases) {
  const std::vector<bt::Param> params = bt::read_params(args.data, net);  // (w, b) per layer
  torch::NoGradGuard no_grad;
  for (std::size_t layer = 0; layer < weights.size(); ++layer) {
    torch::Tensor w = to_torch(params[2 * layer]);
    if (w.dim() == 4) {
      w = w.permute({3, 2, 0, 1});  // HWIO -> OIHW
    } else if (net == bt::Net::cnn && layer == 2) {
      w = w.view({7 * 7, 64, 128})
              .permute({2, 1, 0})
              .reshape({128, 7 * 7 * 64});  // (h,w,c)->(c,h,w)
    } else {
      w = w.t();  // [in, out] -> [out, in]
    }
    TORCH_CHECK(w.sizes() == weights[layer].sizes(), params[2 * layer].path, ": file ", w.sizes(),
                " vs module ", weights[layer].sizes());
    weights[layer].copy_(w);
    biases[layer].copy_(to_torch(params[2 * layer + 1]));
  }
}

struct Batch {
  torch::Tensor x, y;
};

template <class Net>
void run(const bt::Args& args, const bt::Workload& w, Net net,
         const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& biases) {
  const std::string name = w.name();
  load_params(args, w.net, weights, biases);
  std::vector<Batch> data;
  for (bt::HostBatch& hb : bt::read_batches(args.data, w.batch)) {
    const std::vector<int64_t> shape = w.net == bt::Net::mlp
                                           ? std::vector<int64_t>{w.batch, 784}
                                           : std::vector<int64_t>{w.batch, 1, 28, 28};
    data.push_back({torch::from_blob(hb.x.data(), shape, torch::kFloat32).clone(),
                    torch::from_blob(hb.y.data(), {w.batch}, torch::kInt64).clone()});
  }
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));

  bt::Laps laps({"fwd", "bwd", "step"});
  auto step = [&](const Batch& b) -> torch::Tensor {
    laps.start();
    torch::Tensor loss = F::cross_entropy(net->forward(b.x), b.y);
    laps.lap(0);
    loss.backward();
    laps.lap(1);
    adam.step();
    adam.zero_grad();
    laps.lap(2);
    return loss;
  };

  std::vector<double> losses;
  for (int i = 0; i < bt::kNumBatches; ++i) losses.push_back(step(data[i]).template item<float>());
  bt::write_losses(args, "torch", name, losses);

  const double train = bt::median_step_us(
      args, [&](long i) { step(data[std::size_t(i % bt::kNumBatches)]); }, &laps);
  bt::print_row("torch", name + "_train", args.threads, train);
  for (std::size_t k = 0; k < laps.names().size(); ++k)
    bt::print_row("torch", name + "_train:" + laps.names()[k], args.threads, laps.median_us(k));

  const double infer = bt::median_step_us(args, [&](long i) {
    torch::NoGradGuard no_grad;
    torch::Tensor logits = net->forward(data[std::size_t(i % bt::kNumBatches)].x);
  });
  bt::print_row("torch", name + "_infer", args.threads, infer);
}

}  // namespace

int main(int argc, char** argv) try {
  const bt::Args args = bt::parse_args(argc, argv);
  if (args.device != "cpu")
    throw std::runtime_error("--device " + args.device +
                             ": this is libtorch on the CPU; the GPU peer is "
                             "bench/train/torch_gpu_train.py");
  torch::set_num_threads(args.threads);
  openblas_set_num_threads(args.blas_threads);
  for (const bt::Workload& w : bt::workloads(args.workload_set)) {
    if (!args.wants(w.name())) continue;
    torch::manual_seed(0);  // the modules' own init is overwritten by the weight files
    if (w.net == bt::Net::mlp) {
      Mlp net;
      run(args, w, net, {net->l0->weight, net->l1->weight, net->l2->weight},
          {net->l0->bias, net->l1->bias, net->l2->bias});
    } else {
      Cnn net;
      run(args, w, net, {net->c0->weight, net->c1->weight, net->l0->weight, net->l1->weight},
          {net->c0->bias, net->c1->bias, net->l0->bias, net->l1->bias});
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_train_torch: %s\n", e.what());
  return 1;
}
