// Options of the high-level methods. Fields follow Elegy 0.7.4's keyword order, so C++20
// designated initializers read like Elegy's calls:
//   model.fit({.x = x_train, .y = y_train, .batch_size = 64, .epochs = 10,
//              .validation_data = {{x_test, y_test}}});
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "elegy/core/tree.hpp"
#include "elegy/model/callbacks/callback.hpp"
#include "elegy/model/data/loader.hpp"

namespace elegy {

struct ValidationData {
  Tree x{};
  Tree y{};
  std::optional<Tensor> sample_weight{};
};

struct InitOptions {
  Tree x{};
  Tree y{};
  std::optional<std::int64_t> batch_size{};
  std::optional<Tensor> class_weight{};
  std::optional<Tensor> sample_weight{};
};

struct FitOptions {
  Tree x{};  // leaves share their first (sample) dimension; a Tree, so multi-input models work
  Tree y{};
  std::optional<std::int64_t> batch_size{};  // 32, or ceil(n / steps_per_epoch) when that is set
  int epochs = 1;
  int verbose = 1;  // 0 silent, 1 progress bar, 2 one line per epoch
  callbacks::CallbackVector callbacks{};
  double validation_split = 0.0;  // the last fraction of the samples, taken before shuffling
  std::optional<ValidationData> validation_data{};  // overrides validation_split
  bool shuffle = true;                    // reshuffled (from the model's seed) at every pass
  std::optional<Tensor> class_weight{};   // passed to the steps
  std::optional<Tensor> sample_weight{};  // [n], sliced with each batch
  int initial_epoch = 0;
  std::optional<std::int64_t> steps_per_epoch{};  // batches per epoch; the data stream continues
                                                  // across epochs, reshuffling at each full pass
  std::optional<std::int64_t> validation_steps{};
  int validation_freq = 1;  // validate every N epochs
  // Batches from a DataLoader or GeneratorLoader instead of x/y (each epoch is a fresh pass of
  // the loader, at most steps_per_epoch batches); x, y and sample_weight must then be empty.
  std::shared_ptr<data::BatchSource> loader{};
};

struct EvaluateOptions {
  Tree x{};
  Tree y{};
  int verbose = 1;
  std::optional<std::int64_t> batch_size{};
  std::optional<Tensor> sample_weight{};
  std::optional<Tensor> class_weight{};
  std::optional<std::int64_t> steps{};
  callbacks::CallbackVector callbacks{};
};

struct PredictOptions {
  Tree x{};
  int verbose = 0;
  std::optional<std::int64_t> batch_size{};
  std::optional<std::int64_t> steps{};
  callbacks::CallbackVector callbacks{};
};

}  // namespace elegy
