// libtorch twin of examples/mlp.cpp, so the README can set elegy's epoch time and test accuracy
// beside libtorch's for the same model and training: Flatten, Linear(300), ReLU, Linear(100),
// ReLU, Linear(10) with elegy's default init; cross-entropy from logits plus GlobalL2(1e-5);
// AdamW (optax's defaults: b1 0.9, b2 0.999, eps 1e-8, weight decay 1e-4 on every parameter)
// with the learning rate cosine-decayed from 1e-3 to 0 over the run; shuffled batches of 64.
//
//   torch_mlp [--epochs N] [--batch-size B] [--data DIR] [--threads N]
#include <torch/torch.h>

#include "common.hpp"

namespace {

namespace mains = elegy::bench::mains;

struct MlpImpl : torch::nn::Module {
  torch::nn::Linear hidden1{nullptr}, hidden2{nullptr}, output{nullptr};
  MlpImpl() {
    hidden1 = register_module("hidden1", torch::nn::Linear(28 * 28, 300));
    hidden2 = register_module("hidden2", torch::nn::Linear(300, 100));
    output = register_module("output", torch::nn::Linear(100, 10));
  }
  // x: uint8 images [N, 28, 28], scaled to [0, 1] here as elegy's MLP does.
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = x.to(torch::kFloat32).div(255.0).flatten(1);
    h = torch::relu(hidden1(h));
    h = torch::relu(hidden2(h));
    return output(h);
  }
};
TORCH_MODULE(Mlp);

void train(const mains::Flags& flags, const mains::Split& data) {
  Mlp net;
  mains::init_like_elegy(*net);
  torch::optim::AdamW optimizer(
      net->parameters(),
      torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(1e-4));
  const mains::Loss loss{.params = net->parameters(), .l2 = 1e-5};
  mains::fit_and_report(net, optimizer, loss, data, flags);
}

}  // namespace

int main(int argc, char** argv) {
  return mains::run_main("torch_mlp", argc, argv, train);
}
