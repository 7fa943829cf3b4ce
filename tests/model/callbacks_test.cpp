// Callbacks: hook order and arguments through fit/evaluate/predict, each Keras callback's
// semantics on scripted logs, and fit's contract around them (stop_training, logs they add).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <elegy/elegy.hpp>

using namespace elegy;

namespace {

optim::GradientTransformation plain_sgd(double lr) {
  return {[](const Tree&) { return Tree(); },
          [lr](const Tree& g, const optim::OptState& s, const Tree&) {
            return optim::UpdateResult{g.map([lr](const Tensor& t) { return t * -lr; }), s};
          }};
}

// y = 3 x - 1 regression through hand-written pred_step and test_step.
struct Regression : Model {
  using Model::Model;
  PredStep pred_step(const StepArgs& a) override {
    const Tensor w = a.initializing ? zeros({1, 1}) : a.states.net_params()["w"].tensor();
    return {matmul(a.x.tensor(), w), a.states.update("net_params", Tree{{"w", w}})};
  }
  TestStep test_step(const StepArgs& a) override {
    PredStep p = pred_step(a);
    const Tensor loss = mean(square(p.y_pred.tensor() - a.y_true.tensor()));
    return {loss, {{"loss", loss}}, p.states};
  }
};

struct Recorder : callbacks::Callback {
  std::vector<std::string> events;
  void on_train_begin(Logs&) override { events.push_back("train_begin"); }
  void on_train_end(Logs& l) override { events.push_back("train_end:" + std::to_string(l.size())); }
  void on_epoch_begin(int e, Logs&) override {
    events.push_back("epoch_begin:" + std::to_string(e));
  }
  void on_epoch_end(int e, Logs& l) override {
    events.push_back("epoch_end:" + std::to_string(e) + (l.count("val_loss") ? ":val" : ""));
    l["added_by_callback"] = 7.0f;
  }
  void on_train_batch_begin(std::int64_t b, Logs&) override {
    events.push_back("batch_begin:" + std::to_string(b));
  }
  void on_train_batch_end(std::int64_t b, Logs& l) override {
    events.push_back("batch_end:" + std::to_string(b) + (l.count("loss") ? ":loss" : ""));
  }
  void on_test_begin(Logs&) override { events.push_back("test_begin"); }
  void on_test_end(Logs&) override { events.push_back("test_end"); }
  void on_predict_begin(Logs&) override { events.push_back("predict_begin"); }
  void on_predict_batch_end(std::int64_t b, Logs&) override {
    events.push_back("predict_batch_end:" + std::to_string(b));
  }
  void on_predict_end(Logs&) override { events.push_back("predict_end"); }
};

struct Data {
  Tensor x = random::uniform(Key(3), {10, 1}, DType::f32, -1.0, 1.0);
  Tensor y = x * 3.0 - 1.0;
};

}  // namespace

TEST_CASE("callbacks: fit calls every hook in Keras' order and records what callbacks add") {
  Data d;
  Regression model({.optimizer = plain_sgd(0.1)});
  auto rec = std::make_shared<Recorder>();
  const History h = model.fit({.x = d.x,
                               .y = d.y,
                               .batch_size = 4,
                               .epochs = 2,
                               .verbose = 0,
                               .callbacks = {rec},
                               .validation_data = {{d.x, d.y}}});
  const std::vector<std::string> expected = {
      "train_begin",      "epoch_begin:0", "batch_begin:0",    "batch_end:0:loss", "batch_begin:1",
      "batch_end:1:loss", "batch_begin:2", "batch_end:2:loss", "test_begin",       "test_end",
      "epoch_end:0:val",  "epoch_begin:1", "batch_begin:0",    "batch_end:0:loss", "batch_begin:1",
      "batch_end:1:loss", "batch_begin:2", "batch_end:2:loss", "test_begin",       "test_end",
      "epoch_end:1:val",  "train_end:3"};
  CHECK(rec->events == expected);
  CHECK(rec->model == &model);
  CHECK(rec->params.epochs == 2);
  CHECK(rec->params.steps == 3);
  // What a callback adds to the epoch logs reaches the History.
  CHECK(h.history.at("added_by_callback") == std::vector<float>{7.0f, 7.0f});
  CHECK(h.history.at("val_loss").size() == 2);

  rec->events.clear();
  model.predict({.x = d.x, .batch_size = 5, .callbacks = {rec}});
  CHECK(rec->events == std::vector<std::string>{"predict_begin", "predict_batch_end:0",
                                                "predict_batch_end:1", "predict_end"});
}

TEST_CASE("callbacks: stop_training set by a callback ends fit after that batch") {
  Data d;
  Regression model({.optimizer = plain_sgd(0.1)});
  int batches = 0;
  auto stopper = callbacks::LambdaCallback({.on_train_batch_end = [&](std::int64_t b, Logs&) {
    ++batches;
    if (b == 1) model.stop_training = true;
  }});
  const History h = model.fit(
      {.x = d.x, .y = d.y, .batch_size = 2, .epochs = 5, .verbose = 0, .callbacks = {stopper}});
  CHECK(batches == 2);
  CHECK(h.epoch == std::vector<int>{0});
}

TEST_CASE("EarlyStopping: patience, min_delta, mode, baseline and restore_best_weights") {
  Regression model;
  auto run = [&](callbacks::EarlyStopping& es, std::vector<float> values, bool states = false) {
    es.model = &model;
    model.stop_training = false;
    Logs l;
    es.on_train_begin(l);
    int epochs = 0;
    for (std::size_t e = 0; e < values.size() && !model.stop_training; ++e) {
      if (states) model.set_states(States{{"net_params", Tree(full({1}, double(e)))}});
      Logs logs{{"val_loss", values[e]}, {"val_accuracy", -values[e]}};
      es.on_epoch_end(int(e), logs);
      ++epochs;
    }
    es.on_train_end(l);
    return epochs;
  };
  callbacks::EarlyStopping es({.patience = 2});
  CHECK(run(es, {1.0f, 0.9f, 0.95f, 0.91f, 0.5f}) == 4);  // no improvement at epochs 2, 3
  CHECK(es.stopped_epoch == 3);
  CHECK(es.best_epoch == 1);
  CHECK(es.best == doctest::Approx(0.9));

  callbacks::EarlyStopping delta({.min_delta = 0.2, .patience = 1});
  CHECK(run(delta, {1.0f, 0.85f, 0.7f, 0.4f}) == 2);  // 0.85 is not 0.2 better than 1.0

  // auto -> max for accuracies: val_accuracy = -val_loss improves at epoch 1 only.
  callbacks::EarlyStopping acc({.monitor = "val_accuracy", .patience = 1});
  CHECK(run(acc, {1.0f, 0.5f, 0.7f, 0.6f}) == 3);
  CHECK(acc.best_epoch == 1);

  callbacks::EarlyStopping base({.patience = 2, .baseline = 0.5});
  CHECK(run(base, {0.9f, 0.8f, 0.7f, 0.6f}) == 2);  // never beats the baseline

  callbacks::EarlyStopping restore({.patience = 1, .restore_best_weights = true});
  CHECK(run(restore, {1.0f, 0.3f, 0.6f, 0.7f}, true) == 3);
  // States of epoch 1 (the best) are back.
  CHECK(model.states().net_params().tensor().item<float>() == 1.0f);
}

TEST_CASE("CSVLogger writes a header and one row per epoch, appending when asked") {
  const std::string path = "elegy_test_csv_logger.csv";
  Data d;
  Regression model({.optimizer = plain_sgd(0.1)});
  model.fit({.x = d.x,
             .y = d.y,
             .batch_size = 5,
             .epochs = 2,
             .verbose = 0,
             .callbacks = {callbacks::CSVLogger(path)}});
  model.fit({.x = d.x,
             .y = d.y,
             .batch_size = 5,
             .epochs = 1,
             .verbose = 0,
             .callbacks = {callbacks::CSVLogger(path, ';', /*append=*/true)}});
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "epoch,loss");
  CHECK(lines[1].rfind("0,", 0) == 0);
  CHECK(lines[2].rfind("1,", 0) == 0);
  CHECK(lines[3].rfind("0;", 0) == 0);
  // The logged value is the epoch loss fit returned.
  const History h = model.history();
  CHECK(std::stof(lines[3].substr(2)) == doctest::Approx(h.history.at("loss")[0]));
  std::remove(path.c_str());
}

TEST_CASE("TerminateOnNaN stops at the first non-finite loss") {
  struct Diverging : Model {
    using Model::Model;
    TestStep test_step(const StepArgs& a) override {
      const Tensor w = a.initializing ? ones({1}) : a.states.net_params()["w"].tensor();
      const Tensor loss = sum(exp(w * 400.0));  // overflows after a step or two
      return {loss, {{"loss", loss}}, a.states.update("net_params", Tree{{"w", w}})};
    }
  };
  Diverging model({.optimizer = plain_sgd(-1.0)});
  auto nan = std::make_shared<callbacks::TerminateOnNaN>();
  const Tensor x = zeros({8, 1});
  model.fit({.x = x, .batch_size = 1, .epochs = 3, .verbose = 0, .callbacks = {nan}});
  REQUIRE(nan->terminated_at_batch.has_value());
  CHECK(*nan->terminated_at_batch < 8);
  CHECK(model.history().epoch.size() == 1);
}

TEST_CASE("ModelCheckpoint's path template") {
  const Logs logs{{"epoch", 3.0f}, {"val_loss", 0.12345f}, {"loss", 1.5f}};
  CHECK(callbacks::format_path("ckpt/e{epoch:02d}-{val_loss:.3f}", logs) == "ckpt/e03-0.123");
  CHECK(callbacks::format_path("m{epoch}_{loss}", logs) == "m3_1.5");
  CHECK_THROWS_WITH_AS(callbacks::format_path("{acc}", logs),
                       doctest::Contains("uses {acc}, which is not among the logs"), Error);
  CHECK_THROWS_WITH_AS(callbacks::format_path("{loss:x}", logs),
                       doctest::Contains("unsupported format"), Error);
}
