// Elegy's elegy_mnist_autoencoder example on the real Fashion-MNIST: an MLP autoencoder whose
// loss compares the reconstruction with the *input* — a custom loss reading `x` instead of
// `y_true`, which is all the high-level API needs (no step is overridden).
//
//   autoencoder [--epochs N] [--batch-size B] [--data DIR]
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

struct AutoEncoder : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Flatten()(ctx, x.astype(DType::f32) / 255.0);
    h = nn::relu(ctx, nn::Linear(256)(ctx, h));
    const Tensor code = nn::Linear(32)(ctx, h);  // the bottleneck
    h = nn::relu(ctx, nn::Linear(256)(ctx, code));
    h = nn::sigmoid(ctx, nn::Linear(784)(ctx, h));
    return reshape(h, x.shape());
  }
};

// Per-sample mean squared error between the scaled input and its reconstruction.
Tensor reconstruction_error(const LossArgs& a) {
  const Tensor target = a.x.tensor().astype(DType::f32) / 255.0;
  return mean(square(target - a.y_pred.tensor()), {1, 2});
}

int main(int argc, char** argv) try {
  const examples::TrainFlags flags = examples::parse_train_flags("autoencoder", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  Model model({.module = AutoEncoder(),
               .loss = {losses::Loss("mean_squared_error", reconstruction_error)},
               .optimizer = optim::rmsprop(1e-3),
               .device = flags.device});
  model.summary(d.x_train.slice(0, 64));
  // No labels: x is also what the loss compares against.
  model.fit({.x = d.x_train,
             .batch_size = flags.batch_size,
             .epochs = flags.epochs,
             .validation_data = {{d.x_test, Tree()}}});
  const Logs logs = model.evaluate({.x = d.x_test, .verbose = 0});
  std::printf("test reconstruction mse: %.5f\n", logs.at("loss"));
  // A few pixels of the first test image and its reconstruction.
  const Tensor rec = model.predict({.x = d.x_test.slice(0, 1)}).tensor();
  const std::vector<float> r = rec.to_vector<float>();
  const std::vector<std::uint8_t> o = d.x_test.slice(0, 1).contiguous().to_vector<std::uint8_t>();
  std::printf("pixels 400..404, original vs reconstruction:");
  for (int i = 400; i < 405; ++i)
    std::printf(" %.2f/%.2f", o[std::size_t(i)] / 255.0, r[std::size_t(i)]);
  std::printf("\n");
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
