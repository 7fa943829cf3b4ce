// Elegy's elegy_mnist_vae example on the real Fashion-MNIST, through the low-level API: the
// test_step runs an encoder and a decoder (with the KL term added as an auxiliary loss), and
// pred_step *samples*: it decodes latent vectors drawn from the prior, so predict() generates
// images.
//
//   vae [--epochs N] [--batch-size B] [--data DIR]
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

constexpr std::int64_t kLatent = 16;

struct Encoder : nn::Module {
  // {mean, log_stddev} of q(z | x).
  Tree call_tree(nn::Context& ctx, const Tree& x) override {
    Tensor h = nn::Flatten()(ctx, x.tensor().astype(DType::f32) / 255.0);
    h = nn::Linear(256, {.activation = FusedActivation::relu})(ctx, h);
    return Tree{{"mean", nn::Linear(kLatent)(ctx, h)}, {"log_stddev", nn::Linear(kLatent)(ctx, h)}};
  }
};

struct Decoder : nn::Module {
  // Logits of each pixel being on, [N, 28, 28].
  Tensor call(nn::Context& ctx, const Tensor& z) override {
    Tensor h = nn::Linear(256, {.activation = FusedActivation::relu})(ctx, z);
    return reshape(nn::Linear(784)(ctx, h), {z.shape(0), 28, 28});
  }
};

struct VAE : Model {
  using Model::Model;

  TestStep test_step(const StepArgs& a) override {
    nn::Context ctx = nn::Context::for_step(a);
    const Tensor x = a.x.tensor().astype(DType::f32) / 255.0;
    const Tree q = Encoder()(ctx, a.x);
    const Tensor mean = q["mean"], log_stddev = q["log_stddev"];
    // Reparameterisation: z = mean + stddev * eps keeps z differentiable in the encoder.
    const Tensor eps = random::normal(ctx.next_key(), mean.shape()).to(mean.device());
    const Tensor z = mean + exp(log_stddev) * eps;
    const Tensor logits = Decoder()(ctx, z);
    // KL(q(z|x) || N(0, I)) per sample, averaged over the batch.
    const Tensor kl =
        elegy::mean(sum(0.5 * (square(mean) + exp(2.0 * log_stddev)) - log_stddev - 0.5, -1));
    ctx.add_loss("kl_divergence", kl);
    const Tensor bce =
        losses::BinaryCrossentropy({.from_logits = true})(flatten(x), flatten(logits));
    // BinaryCrossentropy averages over pixels; the ELBO sums them.
    const Tensor reconstruction = bce * 784.0;
    const Tensor loss = reconstruction + ctx.losses().at("kl_divergence_loss");
    const PredStep p = ctx.pred_step(Tree(logits), a.states);
    return {loss,
            {{"loss", loss}, {"reconstruction_loss", reconstruction}, {"kl_divergence_loss", kl}},
            p.states};
  }

  // Generation: decode latents drawn from the prior, one per input row.
  PredStep pred_step(const StepArgs& a) override {
    nn::Context ctx = nn::Context::for_step(a);
    const Tensor x = a.x.leaves().front();  // leaves() is a fresh vector: copy, not a reference
    const Tensor z = random::normal(ctx.next_key(), {x.shape(0), kLatent}).to(x.device());
    return ctx.pred_step(Tree(sigmoid(Decoder()(ctx, z))), a.states);
  }
};

int main(int argc, char** argv) try {
  const examples::TrainFlags flags = examples::parse_train_flags("vae", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  VAE model({.optimizer = optim::adam(1e-3), .device = flags.device});
  model.fit({.x = d.x_train,
             .batch_size = flags.batch_size,
             .epochs = flags.epochs,
             .validation_data = {{d.x_test, Tree()}}});
  const Logs logs = model.evaluate({.x = d.x_test, .verbose = 0});
  std::printf("test ELBO loss: %.2f (reconstruction %.2f, KL %.2f) per image\n", logs.at("loss"),
              logs.at("reconstruction_loss"), logs.at("kl_divergence_loss"));
  // Four generated images, drawn as ASCII art.
  const Tensor samples = model.predict({.x = d.x_test.slice(0, 4)}).tensor();
  const std::vector<float> px = samples.contiguous().to_vector<float>();
  const char* shades = " .:-=+*#%@";
  for (int row = 0; row < 28; row += 2) {
    for (int img = 0; img < 4; ++img) {
      for (int col = 0; col < 28; ++col) {
        const float v = px[std::size_t(img * 784 + row * 28 + col)];
        std::putchar(shades[std::min(9, int(v * 10.0f))]);
      }
      std::printf("   ");
    }
    std::printf("\n");
  }
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
