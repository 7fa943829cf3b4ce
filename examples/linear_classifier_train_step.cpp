// The linear classifier overriding train_step: it differentiates its own loss with
// value_and_grad and runs the optimizer itself (Elegy's jax_linear_classifier_train_step).
//
//   linear_classifier_train_step [--epochs N] [--batch-size B] [--data DIR]
#include <cstdio>

#include <elegy/elegy.hpp>

#include "train_flags.hpp"

using namespace elegy;

struct LinearClassifier : Model {
  using Model::Model;
  optim::GradientTransformation optimizer = optim::adam(1e-3);

  static std::pair<Tensor, StepLogs> loss_and_logs(const Tree& params, const Tensor& x,
                                                   const Tensor& labels) {
    const Tensor logits = matmul(x, params["w"]) + params["b"].tensor();
    Tensor loss = mean(-sum(one_hot(labels, 10) * log_softmax(logits, -1), -1));
    Tensor accuracy = mean(astype(argmax(logits, -1) == labels, DType::f32));
    return {loss, {{"accuracy", accuracy}, {"loss", loss}}};
  }

  TrainStep train_step(const StepArgs& a) override {
    const Tensor x = reshape(a.x.tensor(), {a.x.tensor().shape(0), -1}) / 255.0f;
    const Tensor labels = a.y_true.tensor();
    if (a.initializing) {
      RngSeq rng = a.states.rng();
      Tree params{
          {"w",
           random::uniform(rng.next(), {x.shape(1), 10}, DType::f32, -0.05, 0.05).to(x.device())},
          {"b", zeros({10}, DType::f32, x.device())}};
      return {
          loss_and_logs(params, x, labels).second,
          a.states.update({{"net_params", params}, {"optimizer_states", optimizer.init(params)}})
              .update_rng(rng)};
    }
    auto [loss, logs, grads] = value_and_grad(
        [&](const Tree& p) { return loss_and_logs(p, x, labels); }, a.states.net_params());
    auto [updates, opt_states] =
        optimizer.update(grads, a.states.optimizer_states(), a.states.net_params());
    const Tree params = optim::apply_updates(a.states.net_params(), updates);
    return {logs, a.states.update({{"net_params", params}, {"optimizer_states", opt_states}})};
  }

  // evaluate uses test_step: the same loss without the update.
  TestStep test_step(const StepArgs& a) override {
    const Tensor x = reshape(a.x.tensor(), {a.x.tensor().shape(0), -1}) / 255.0f;
    auto [loss, logs] = loss_and_logs(a.states.net_params(), x, a.y_true.tensor());
    return {loss, logs, a.states};
  }
};

int main(int argc, char** argv) try {
  const examples::TrainFlags flags =
      examples::parse_train_flags("linear_classifier_train_step", argc, argv);
  const data::datasets::Split d = data::datasets::fashion_mnist(flags.data);

  LinearClassifier model({.device = flags.device});  // no optimizer: train_step brings its own
  model.fit({.x = d.x_train,
             .y = d.y_train,
             .batch_size = flags.batch_size,
             .epochs = flags.epochs,
             .validation_data = {{d.x_test, d.y_test}}});
  const Logs logs = model.evaluate({.x = d.x_test, .y = d.y_test, .verbose = 0});
  std::printf("test accuracy: %.4f (loss %.4f)\n", logs.at("accuracy"), logs.at("loss"));
  return 0;
} catch (const elegy::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
