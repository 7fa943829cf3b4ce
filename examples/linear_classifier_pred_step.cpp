// The linear classifier with the model in pred_step: test_step calls it and adds the loss and
// logs, so predict works as well as fit and evaluate.
//
//   linear_classifier_pred_step [--epochs N] [--batch-size B] [--data DIR]
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

struct LinearClassifier : Model {
  using Model::Model;

  PredStep pred_step(const StepArgs& a) override {
    Tensor x = reshape(a.x.tensor(), {a.x.tensor().shape(0), -1}) / 255.0f;
    Tensor w, b;
    if (a.initializing) {
      RngSeq rng = a.states.rng();
      w = random::uniform(rng.next(), {x.shape(1), 10}, DType::f32, -0.05, 0.05).to(x.device());
      b = zeros({10}, DType::f32, x.device());
    } else {
      w = a.states.net_params()["w"];
      b = a.states.net_params()["b"];
    }
    return {matmul(x, w) + b, a.states.update("net_params", Tree{{"w", w}, {"b", b}})};
  }

  TestStep test_step(const StepArgs& a) override {
    PredStep p = pred_step(a);
    const Tensor logits = p.y_pred;
    const Tensor labels = a.y_true.tensor();
    Tensor loss = mean(-sum(one_hot(labels, 10) * log_softmax(logits, -1), -1));
    Tensor accuracy = mean(astype(argmax(logits, -1) == labels, DType::f32));
    return {loss, {{"accuracy", accuracy}, {"loss", loss}}, p.states};
  }
};

int main(int argc, char** argv) try {
  const examples::TrainFlags flags =
      examples::parse_train_flags("linear_classifier_pred_step", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  LinearClassifier model({.optimizer = optim::adam(1e-3), .device = flags.device});
  model.fit({.x = d.x_train,
             .y = d.y_train,
             .batch_size = flags.batch_size,
             .epochs = flags.epochs,
             .validation_data = {{d.x_test, d.y_test}}});
  // predict goes through pred_step alone.
  const Tensor logits = model.predict({.x = d.x_test, .batch_size = 256}).tensor();
  const float accuracy = mean(astype(argmax(logits, -1) == d.y_test, DType::f32)).item<float>();
  std::printf("test accuracy from predict: %.4f (%lld predictions)\n", accuracy,
              (long long)logits.shape(0));
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
