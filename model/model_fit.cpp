// Model's loops over data: init, fit, evaluate, predict (Keras semantics; see fit_options.hpp).
#include <cmath>
#include <cstdio>
#include <future>

#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/model/batches.hpp"
#include "elegy/model/callbacks/progbar_logger.hpp"
#include "elegy/model/fit_profile.hpp"
#include "elegy/model/logs.hpp"
#include "elegy/model/model.hpp"

namespace elegy {
namespace {

// One training batch's rows, gathered on the host.
struct GatheredBatch {
  Tree x, y;
  std::optional<Tensor> sample_weight;
  std::int64_t size = 0;
};

std::int64_t resolve_batch_size(const char* op, std::optional<std::int64_t> batch_size,
                                std::optional<std::int64_t> steps, std::int64_t n) {
  if (batch_size) {
    ELEGY_CHECK(*batch_size > 0, op, "batch_size must be positive, got ", *batch_size);
    return *batch_size;
  }
  if (steps) {
    ELEGY_CHECK(*steps > 0, op, "steps must be positive, got ", *steps);
    return (n + *steps - 1) / *steps;
  }
  return 32;
}

std::optional<Tensor> select_weights(const data::Batch& b, const std::optional<Tensor>& w) {
  if (!w) return std::nullopt;
  return b.select(Tree(*w)).tensor();
}

}  // namespace

void Model::init(const InitOptions& o) {
  if (initialized_) return;
  const std::int64_t n = data::count_samples("init", o.x, o.y, o.sample_weight);
  const std::int64_t bs = std::min(resolve_batch_size("init", o.batch_size, std::nullopt, n), n);
  std::optional<Tensor> sw;
  if (o.sample_weight) sw = slice(*o.sample_weight, 0, bs);
  init_on_batch(data::slice_rows(o.x, 0, bs), data::slice_rows(o.y, 0, bs), sw, o.class_weight);
}

History Model::fit(const FitOptions& o) {
  if (o.loader) return fit_from_loader(o);
  ELEGY_CHECK(o.epochs >= 0 && o.initial_epoch >= 0 && o.initial_epoch <= o.epochs, "fit",
              "epochs (", o.epochs, ") and initial_epoch (", o.initial_epoch,
              ") must satisfy 0 <= initial_epoch <= epochs");
  ELEGY_CHECK(o.validation_split >= 0.0 && o.validation_split < 1.0, "fit",
              "validation_split must be in [0, 1), got ", o.validation_split);
  ELEGY_CHECK(o.validation_freq >= 1, "fit", "validation_freq must be >= 1, got ",
              o.validation_freq);
  Tree x = o.x, y = o.y;
  std::optional<Tensor> sw = o.sample_weight;
  std::int64_t n = data::count_samples("fit", x, y, sw);
  std::optional<ValidationData> validation = o.validation_data;
  if (!validation && o.validation_split > 0.0) {
    // Keras: the last samples, taken before any shuffling, become the validation set.
    const std::int64_t split_at = std::int64_t(std::floor(double(n) * (1.0 - o.validation_split)));
    ELEGY_CHECK(split_at > 0 && split_at < n, "fit", "validation_split ", o.validation_split,
                " leaves no training or no validation samples out of ", n);
    validation = ValidationData{data::slice_rows(x, split_at, n), data::slice_rows(y, split_at, n),
                                sw ? std::optional<Tensor>(slice(*sw, split_at, n)) : std::nullopt};
    x = data::slice_rows(x, 0, split_at);
    y = data::slice_rows(y, 0, split_at);
    if (sw) sw = slice(*sw, 0, split_at);
    n = split_at;
  }
  const std::int64_t bs = resolve_batch_size("fit", o.batch_size, o.steps_per_epoch, n);
  if (!initialized_)
    init({.x = x, .y = y, .batch_size = bs, .class_weight = o.class_weight, .sample_weight = sw});

  data::BatchStream stream(n, bs, o.shuffle, fold_in(Key(std::uint64_t(options_.seed)), 0x5F17u));
  const std::int64_t steps = o.steps_per_epoch ? *o.steps_per_epoch : stream.batches_per_pass();
  ELEGY_CHECK(steps > 0, "fit", "steps_per_epoch must be positive, got ", steps);
  // Resuming at initial_epoch sees the batches the uninterrupted run would have seen.
  stream.skip(std::int64_t(o.initial_epoch) * steps);
  stop_training = false;
  history_ = History{};
  // Keras' defaults join the user's callbacks: History (what fit returns), then the progress
  // bar last, so it shows what the other callbacks added to the logs.
  auto history = std::make_shared<callbacks::HistoryCallback>();
  callbacks::CallbackVector all = o.callbacks;
  all.push_back(history);
  if (o.verbose > 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  callbacks::CallbackList cbs(all, this,
                              {.verbose = o.verbose, .epochs = o.epochs, .steps = steps});
  Logs train_logs;
  cbs.on_train_begin(train_logs);
  for (int epoch = o.initial_epoch; epoch < o.epochs; ++epoch) {
    reset_metrics();
    Logs begin_logs;
    cbs.on_epoch_begin(epoch, begin_logs);
    RunningMeans means;
    // With the steps on another device, a helper thread gathers the next batch's rows on the
    // host while the current step runs there (the copy in is then one transfer per tensor).
    const bool prefetch = options_.device && !options_.device->is_cpu() && steps > 1;
    auto gather = [&](const data::Batch& b) {
      return GatheredBatch{b.select(x), b.select(y), select_weights(b, sw), b.size()};
    };
    std::future<GatheredBatch> next;
    if (prefetch) next = std::async(std::launch::async, gather, stream.next());
    detail::FitProfile profile;
    profile.start();
    for (std::int64_t step = 0; step < steps; ++step) {
      Logs batch_logs;
      cbs.on_train_batch_begin(step, batch_logs);
      profile.mark(detail::FitProfile::kCallbacks);
      const GatheredBatch b = prefetch ? next.get() : gather(stream.next());
      if (prefetch && step + 1 < steps)
        next = std::async(std::launch::async, gather, stream.next());
      profile.mark(detail::FitProfile::kBatch);
      const Logs logs = train_on_batch(b.x, b.y, b.sample_weight, o.class_weight);
      profile.mark(detail::FitProfile::kLogs);
      means.add(logs, b.size, running_log_names_);
      batch_logs = means.value();
      profile.mark(detail::FitProfile::kMeans);
      cbs.on_train_batch_end(step, batch_logs);
      profile.mark(detail::FitProfile::kCallbacks);
      profile.step_done();
      if (stop_training) break;
    }
    Logs epoch_logs = means.value();
    if (const auto lr = current_learning_rate()) epoch_logs["lr"] = float(*lr);
    if (validation && (epoch + 1) % o.validation_freq == 0 && !stop_training) {
      // Validation runs the test hooks of fit's own callbacks (Keras), params unchanged.
      const Logs val = evaluate_loop({.x = validation->x,
                                      .y = validation->y,
                                      .verbose = 0,
                                      .batch_size = bs,
                                      .sample_weight = validation->sample_weight,
                                      .class_weight = o.class_weight,
                                      .steps = o.validation_steps},
                                     cbs);
      for (const auto& [k, v] : val) epoch_logs["val_" + k] = v;
    }
    profile.mark(detail::FitProfile::kValidation);
    profile.report(epoch);
    epochs_done_ = epoch + 1;
    // Callbacks see (and may extend) the epoch's logs before History records them and the bar
    // shows them.
    cbs.on_epoch_end(epoch, epoch_logs);
    history_ = history->history;
    if (stop_training) break;
  }
  for (const auto& [k, v] : history_.history) train_logs[k] = v.back();
  cbs.on_train_end(train_logs);
  return history_;
}

History Model::fit_from_loader(const FitOptions& o) {
  ELEGY_CHECK(o.x.is_none() && o.y.is_none() && !o.sample_weight && o.validation_split == 0.0,
              "fit",
              "with a loader, x, y, sample_weight and validation_split must be empty (the "
              "loader yields the batches)");
  ELEGY_CHECK(o.epochs >= 0 && o.initial_epoch >= 0 && o.initial_epoch <= o.epochs, "fit",
              "epochs (", o.epochs, ") and initial_epoch (", o.initial_epoch,
              ") must satisfy 0 <= initial_epoch <= epochs");
  data::BatchSource& source = *o.loader;
  const std::optional<std::int64_t> known = source.size();
  std::optional<std::int64_t> steps = o.steps_per_epoch ? o.steps_per_epoch : known;
  if (known && steps) steps = std::min(*steps, *known);
  if (!initialized_) {
    data::EpochRange first = data::prefetched_epoch(source, o.initial_epoch, 0);
    const std::optional<data::DataBatch> b = first.next();
    ELEGY_CHECK(b.has_value(), "fit", "the loader yielded no batch to initialize the model from");
    init_on_batch(b->x, b->y, b->sample_weight, o.class_weight);
  }
  stop_training = false;
  history_ = History{};
  auto history = std::make_shared<callbacks::HistoryCallback>();
  callbacks::CallbackVector all = o.callbacks;
  all.push_back(history);
  if (o.verbose > 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  callbacks::CallbackList cbs(all, this,
                              {.verbose = o.verbose, .epochs = o.epochs, .steps = steps});
  Logs train_logs;
  cbs.on_train_begin(train_logs);
  for (int epoch = o.initial_epoch; epoch < o.epochs; ++epoch) {
    reset_metrics();
    Logs begin_logs;
    cbs.on_epoch_begin(epoch, begin_logs);
    RunningMeans means;
    data::EpochRange range = data::prefetched_epoch(source, epoch, source.prefetch_depth());
    detail::FitProfile profile;
    profile.start();
    for (std::int64_t step = 0; !steps || step < *steps; ++step) {
      std::optional<data::DataBatch> b = range.next();
      profile.mark(detail::FitProfile::kBatch);
      if (!b) break;
      Logs batch_logs;
      cbs.on_train_batch_begin(step, batch_logs);
      profile.mark(detail::FitProfile::kCallbacks);
      const Logs logs = train_on_batch(b->x, b->y, b->sample_weight, o.class_weight);
      profile.mark(detail::FitProfile::kLogs);
      means.add(logs, b->size(), running_log_names_);
      batch_logs = means.value();
      profile.mark(detail::FitProfile::kMeans);
      cbs.on_train_batch_end(step, batch_logs);
      profile.mark(detail::FitProfile::kCallbacks);
      profile.step_done();
      if (stop_training) break;
    }
    Logs epoch_logs = means.value();
    if (const auto lr = current_learning_rate()) epoch_logs["lr"] = float(*lr);
    if (o.validation_data && (epoch + 1) % o.validation_freq == 0 && !stop_training) {
      const Logs val = evaluate_loop({.x = o.validation_data->x,
                                      .y = o.validation_data->y,
                                      .verbose = 0,
                                      .batch_size = o.batch_size,
                                      .sample_weight = o.validation_data->sample_weight,
                                      .class_weight = o.class_weight,
                                      .steps = o.validation_steps},
                                     cbs);
      for (const auto& [k, v] : val) epoch_logs["val_" + k] = v;
    }
    profile.mark(detail::FitProfile::kValidation);
    profile.report(epoch);
    epochs_done_ = epoch + 1;
    cbs.on_epoch_end(epoch, epoch_logs);
    history_ = history->history;
    if (stop_training) break;
  }
  for (const auto& [k, v] : history_.history) train_logs[k] = v.back();
  cbs.on_train_end(train_logs);
  return history_;
}

Logs Model::evaluate(const EvaluateOptions& o) {
  const std::int64_t n = data::count_samples("evaluate", o.x, o.y, o.sample_weight);
  const std::int64_t bs = resolve_batch_size("evaluate", o.batch_size, std::nullopt, n);
  std::int64_t steps = (n + bs - 1) / bs;
  if (o.steps) steps = std::min(steps, std::max<std::int64_t>(*o.steps, 1));
  callbacks::CallbackVector all = o.callbacks;
  if (o.verbose > 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  callbacks::CallbackList cbs(all, this, {.verbose = o.verbose, .epochs = 1, .steps = steps});
  return evaluate_loop(o, cbs);
}

Logs Model::evaluate_loop(const EvaluateOptions& o, callbacks::CallbackList& cbs) {
  const std::int64_t n = data::count_samples("evaluate", o.x, o.y, o.sample_weight);
  const std::int64_t bs = resolve_batch_size("evaluate", o.batch_size, std::nullopt, n);
  if (!initialized_)
    init({.x = o.x,
          .y = o.y,
          .batch_size = bs,
          .class_weight = o.class_weight,
          .sample_weight = o.sample_weight});
  reset_metrics();
  data::BatchStream stream(n, bs, /*shuffle=*/false, Key(0));
  std::int64_t steps = stream.batches_per_pass();
  if (o.steps) {
    ELEGY_CHECK(*o.steps > 0, "evaluate", "steps must be positive, got ", *o.steps);
    steps = std::min(steps, *o.steps);
  }
  Logs logs;
  cbs.on_test_begin(logs);
  RunningMeans means;
  for (std::int64_t step = 0; step < steps; ++step) {
    Logs batch_logs;
    cbs.on_test_batch_begin(step, batch_logs);
    const data::Batch b = stream.next();
    means.add(test_on_batch(b.select(o.x), b.select(o.y), select_weights(b, o.sample_weight),
                            o.class_weight),
              b.size(), running_log_names_);
    batch_logs = means.value();
    cbs.on_test_batch_end(step, batch_logs);
  }
  logs = means.value();
  cbs.on_test_end(logs);
  return logs;
}

Tree Model::predict(const PredictOptions& o) {
  ELEGY_CHECK(initialized_, "predict",
              "the model is not initialized: call init, fit or evaluate first");
  const std::int64_t n = data::count_samples("predict", o.x, Tree(), std::nullopt);
  const std::int64_t bs = resolve_batch_size("predict", o.batch_size, std::nullopt, n);
  data::BatchStream stream(n, bs, /*shuffle=*/false, Key(0));
  std::int64_t steps = stream.batches_per_pass();
  if (o.steps) steps = std::min(steps, *o.steps);
  callbacks::CallbackVector all = o.callbacks;
  if (o.verbose > 0) all.push_back(std::make_shared<callbacks::ProgbarLogger>());
  callbacks::CallbackList cbs(all, this, {.verbose = o.verbose, .epochs = 1, .steps = steps});
  Logs logs;
  cbs.on_predict_begin(logs);
  std::vector<Tree> parts;
  for (std::int64_t step = 0; step < steps; ++step) {
    Logs batch_logs;
    cbs.on_predict_batch_begin(step, batch_logs);
    parts.push_back(predict_on_batch(stream.next().select(o.x)));
    cbs.on_predict_batch_end(step, batch_logs);
  }
  cbs.on_predict_end(logs);
  return data::concatenate_rows(parts);
}

}  // namespace elegy
