// libtorch twin of examples/cnn.cpp, so the README can set elegy's epoch time and test accuracy
// beside libtorch's for the same model and training: twice Conv2D(3x3, "same", no bias) ->
// BatchNorm (Haiku's, haiku_batch_norm.hpp) -> ReLU -> MaxPool(2), then Flatten, Dropout(0.5),
// Linear(10), with elegy's default init; cross-entropy from logits; Adam (b1 0.9, b2 0.999,
// eps 1e-8) with the learning rate cosine-decayed from 1e-3 to 0 over the run; shuffled batches
// of 64.
//
// Layout: NCHW here, NHWC in elegy. The flattened features reach the Linear in another order
// ((c, h, w) instead of (h, w, c)), which with independently drawn weights is the same model.
//
//   torch_cnn [--epochs N] [--batch-size B] [--data DIR] [--threads N]
#include <torch/torch.h>

#include "common.hpp"
#include "haiku_batch_norm.hpp"

namespace {

namespace mains = elegy::bench::mains;

struct ConvBlockImpl : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  mains::HaikuBatchNorm2d norm{nullptr};
  ConvBlockImpl(std::int64_t in_channels, std::int64_t channels) {
    conv = register_module(
        "conv", torch::nn::Conv2d(
                    torch::nn::Conv2dOptions(in_channels, channels, 3).padding(1).bias(false)));
    norm = register_module("norm", mains::HaikuBatchNorm2d(channels));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::max_pool2d(torch::relu(norm(conv(x))), 2);
  }
};
TORCH_MODULE(ConvBlock);

struct CnnImpl : torch::nn::Module {
  ConvBlock block1{nullptr}, block2{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear output{nullptr};
  CnnImpl() {
    block1 = register_module("block1", ConvBlock(1, 32));
    block2 = register_module("block2", ConvBlock(32, 64));
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    output = register_module("output", torch::nn::Linear(7 * 7 * 64, 10));
  }
  // x: uint8 images [N, 28, 28], scaled to [0, 1] here as elegy's CNN does.
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = x.to(torch::kFloat32).div(255.0).unsqueeze(1);  // [N, 1, 28, 28]
    h = block1(h);                                                    // [N, 32, 14, 14]
    h = block2(h);                                                    // [N, 64, 7, 7]
    return output(dropout(h.flatten(1)));
  }
};
TORCH_MODULE(Cnn);

void train(const mains::Flags& flags, const mains::Split& data) {
  Cnn net;
  mains::init_like_elegy(*net);
  torch::optim::Adam optimizer(net->parameters(),
                               torch::optim::AdamOptions(1e-3).betas({0.9, 0.999}).eps(1e-8));
  const mains::Loss loss{.params = net->parameters()};
  mains::fit_and_report(net, optimizer, loss, data, flags);
}

}  // namespace

int main(int argc, char** argv) {
  return mains::run_main("torch_cnn", argc, argv, train);
}
