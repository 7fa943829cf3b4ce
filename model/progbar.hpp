// Keras' progress bar, as fit/evaluate print it:
//   Epoch 3/10
//   469/469 [==============================] - 2s 4ms/step - accuracy: 0.8791 - loss: 0.3412
// verbose 1 redraws one line in place on a terminal (throttled to 20 per second); when stdout is
// not a terminal it prints whole lines instead, one per tenth of the epoch (or per 15 s) and the
// finished line; verbose 2 prints "469/469 - 2s - loss: ..." once per epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "elegy/model/steps.hpp"

namespace elegy {

class ProgressBar {
 public:
  ProgressBar(std::int64_t target, int verbose, std::FILE* out = stdout);
  // After `current` of `target` steps.
  void update(std::int64_t current, const Logs& logs);
  // The final line (with extra logs such as val_* merged by the caller).
  void finish(std::int64_t current, const Logs& logs);

  // " - loss: 0.3412 - accuracy: 0.8791" (4 decimals, or %.4e when |v| <= 1e-3).
  static std::string format_logs(const Logs& logs);
  // "2s 4ms/step" style duration pieces.
  static std::string format_per_step(double seconds_per_step);

 private:
  std::string bar(std::int64_t current) const;
  std::int64_t target_;
  int verbose_;
  std::FILE* out_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::size_t last_width_ = 0;
  std::int64_t last_tenth_ = 0;  // non-terminal output: the last tenth of the epoch printed
};

}  // namespace elegy
