// Elegy's low-level API example: a linear classifier that overrides only test_step, trained with
// fit/evaluate on the real Fashion-MNIST.
//
//   linear_classifier [--epochs N] [--batch-size B] [--data DIR]
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

struct LinearClassifier : Model {
  using Model::Model;
  TestStep test_step(const StepArgs& a) override {
    Tensor x = reshape(a.x.tensor(), {a.x.tensor().shape(0), -1}) / 255.0f;
    Tensor w, b;
    if (a.initializing) {
      w = random::uniform(Key(42), {x.shape(1), 10}).to(x.device());
      b = random::uniform(Key(69), {1}).to(x.device());
    } else {
      w = a.states.net_params()["w"];
      b = a.states.net_params()["b"];
    }
    Tensor logits = matmul(x, w) + b;
    Tensor loss = mean(-sum(one_hot(a.y_true.tensor(), 10) * log_softmax(logits, -1), -1));
    Tensor accuracy = mean(astype(argmax(logits, -1) == a.y_true.tensor(), DType::f32));
    return {loss,
            {{"accuracy", accuracy}, {"loss", loss}},
            a.states.update("net_params", Tree{{"w", w}, {"b", b}})};
  }
};

int main(int argc, char** argv) try {
  const examples::TrainFlags flags = examples::parse_train_flags("linear_classifier", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  LinearClassifier model({.optimizer = optim::adam(1e-3), .device = flags.device});
  History h = model.fit({.x = d.x_train,
                         .y = d.y_train,
                         .batch_size = flags.batch_size,
                         .epochs = flags.epochs,
                         .validation_data = {{d.x_test, d.y_test}}});
  Logs logs = model.evaluate({.x = d.x_test, .y = d.y_test, .verbose = 0});
  std::printf("test accuracy: %.4f (loss %.4f) after %zu epochs\n", logs.at("accuracy"),
              logs.at("loss"), h.epoch.size());
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
