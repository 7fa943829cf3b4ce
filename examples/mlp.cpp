// Elegy's high-level API (its canonical elegy_mnist example) on the real Fashion-MNIST: a
// module, losses, metrics and an optimizer, and nothing overridden.
//
//   mlp [--epochs N] [--batch-size B] [--data DIR]
#include <chrono>
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

// The hidden layers' relu is their `activation` (Keras's activation="relu"): the bias add and
// the relu run as one pass forward and one backward, the same values as nn::relu(layer(h)).
struct MLP : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Flatten()(ctx, x.astype(DType::f32) / 255.0);
    h = nn::Linear(300, {.activation = FusedActivation::relu})(ctx, h);
    h = nn::Linear(100, {.activation = FusedActivation::relu})(ctx, h);
    return nn::Linear(10)(ctx, h);
  }
};

int main(int argc, char** argv) try {
  const examples::TrainFlags flags = examples::parse_train_flags("mlp", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  Model model({.module = MLP(),
               .loss = {losses::SparseCategoricalCrossentropy({.from_logits = true}),
                        regularizers::GlobalL2(1e-5)},
               .metrics = {metrics::SparseCategoricalAccuracy()},
               // Cosine decay to zero over the run: the last epochs refine instead of bouncing.
               .optimizer = optim::adamw(optim::cosine_decay_schedule(
                   1e-3, flags.epochs * ((60000 + flags.batch_size - 1) / flags.batch_size))),
               .device = flags.device});
  model.summary(d.x_train.slice(0, 64));

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
