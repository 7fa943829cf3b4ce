// Elegy's elegy_mnist_conv example on the real Fashion-MNIST: Conv-BatchNorm-ReLU-MaxPool twice,
// Dropout, Linear. BatchNorm's moving averages live in net_states and Dropout draws its masks
// from the model's random sequence; both switch to evaluation mode in evaluate/predict.
//
//   cnn [--epochs N] [--batch-size B] [--data DIR]
#include <chrono>
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

struct ConvBlock : nn::Module {
  std::int64_t channels;
  explicit ConvBlock(std::int64_t c) : channels(c) {}
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Conv2D(channels, 3, {.with_bias = false})(ctx, x);
    h = nn::relu(ctx, nn::BatchNorm()(ctx, h));
    return nn::MaxPool(2)(ctx, h);
  }
};

struct CNN : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = x.astype(DType::f32) / 255.0;
    h = reshape(h, {h.shape(0), h.shape(1), h.shape(2), 1});  // NHWC, one channel
    h = ConvBlock(32)(ctx, h);                                // [N, 14, 14, 32]
    h = ConvBlock(64)(ctx, h);                                // [N, 7, 7, 64]
    h = nn::Dropout(0.5)(ctx, nn::Flatten()(ctx, h));
    return nn::Linear(10)(ctx, h);
  }
};

int main(int argc, char** argv) try {
  examples::TrainFlags flags = examples::parse_train_flags("cnn", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  Model model({.module = CNN(),
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true})},
               .metrics = {metrics::SparseCategoricalAccuracy()},
               // Cosine decay to zero over the run: the last epochs refine instead of bouncing.
               .optimizer = optim::adam(optim::cosine_decay_schedule(
                   1e-3, flags.epochs * ((60000 + flags.batch_size - 1) / flags.batch_size))),
               .device = flags.device});
  model.summary(d.x_train.slice(0, 64), /*depth=*/1);

  const auto start = std::chrono::steady_clock::now();
  History h = model.fit({.x = d.x_train,
                         .y = d.y_train,
                         .batch_size = flags.batch_size,
                         .epochs = flags.epochs,
                         .validation_data = {{d.x_test, d.y_test}}});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const Logs logs = model.evaluate({.x = d.x_test, .y = d.y_test, .verbose = 0});
  std::printf("test accuracy: %.4f (loss %.4f) after %zu epochs, %.2f s per epoch\n",
              logs.at("sparse_categorical_accuracy"), logs.at("loss"), h.epoch.size(),
              seconds / double(std::max<std::size_t>(h.epoch.size(), 1)));
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
