#include "elegy/model/callbacks/model_checkpoint.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "elegy/core/error.hpp"
#include "elegy/model/model.hpp"

namespace elegy::callbacks {

std::string format_path(const std::string& pattern, const Logs& values) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    const std::size_t close = pattern.find('}', i);
    ELEGY_CHECK(close != std::string::npos, "ModelCheckpoint", "unclosed '{' in '", pattern, "'");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const std::size_t colon = field.find(':');
    const std::string name = field.substr(0, colon);
    std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    const auto it = values.find(name);
    ELEGY_CHECK(it != values.end(), "ModelCheckpoint", "the path '", pattern, "' uses {", name,
                "}, which is not among the logs");
    const double v = double(it->second);
    char buf[128];
    if (spec.empty()) {
      // Integers (the epoch) print without decimals, other values as Python's str would.
      if (v == std::floor(v) && std::abs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%lld", (long long)v);
      else
        std::snprintf(buf, sizeof buf, "%g", v);
    } else {
      const char type = spec.back();
      ELEGY_CHECK(type == 'd' || type == 'f' || type == 'e' || type == 'g', "ModelCheckpoint",
                  "unsupported format '", spec, "' in '", pattern, "'");
      for (char c : spec.substr(0, spec.size() - 1))
        ELEGY_CHECK(std::isdigit(static_cast<unsigned char>(c)) || c == '.', "ModelCheckpoint",
                    "unsupported format '", spec, "' in '", pattern, "'");
      // Built piecewise: GCC 12 warns (-Wrestrict, a false positive) on `"%" + std::string`.
      std::string fmt(1, '%');
      fmt.append(spec, 0, spec.size() - 1);
      if (type == 'd')
        fmt += "lld";
      else
        fmt += type;
      if (type == 'd')
        std::snprintf(buf, sizeof buf, fmt.c_str(), (long long)std::llround(v));
      else
        std::snprintf(buf, sizeof buf, fmt.c_str(), v);
    }
    out += buf;
    i = close;
  }
  return out;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)),
      options_(std::move(options)),
      mode_(resolve_mode(options_.mode, options_.monitor)) {
  ELEGY_CHECK(options_.save_freq >= 0, "ModelCheckpoint", "save_freq must be >= 0, got ",
              options_.save_freq);
}

void ModelCheckpoint::on_train_begin(Logs&) {
  batches_seen_ = 0;
}

void ModelCheckpoint::on_epoch_begin(int epoch, Logs&) {
  epoch_ = epoch;
}

void ModelCheckpoint::on_train_batch_end(std::int64_t, Logs& logs) {
  if (options_.save_freq <= 0) return;
  if (++batches_seen_ % options_.save_freq == 0) save(epoch_, logs);
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  if (options_.save_freq == 0) save(epoch, logs);
}

void ModelCheckpoint::save(int epoch, const Logs& logs) {
  if (!model) return;
  Logs values = logs;
  values["epoch"] = float(epoch + 1);  // Keras numbers epochs from 1 in file names
  const std::string path = format_path(filepath_, values);
  if (options_.save_best_only) {
    const auto it = logs.find(options_.monitor);
    if (it == logs.end()) {
      std::fprintf(stderr,
                   "ModelCheckpoint: can save best model only with %s available, skipping\n",
                   options_.monitor.c_str());
      return;
    }
    const double current = double(it->second);
    const bool better = !best || (mode_ == Mode::min ? current < *best : current > *best);
    if (!better || !std::isfinite(current)) {
      if (options_.verbose > 0)
        std::printf("\nEpoch %05d: %s did not improve from %.5f\n", epoch + 1,
                    options_.monitor.c_str(), best ? *best : current);
      return;
    }
    if (options_.verbose > 0) {
      if (best)
        std::printf("\nEpoch %05d: %s improved from %.5f to %.5f, saving model to %s\n", epoch + 1,
                    options_.monitor.c_str(), *best, current, path.c_str());
      else
        std::printf("\nEpoch %05d: %s improved from inf to %.5f, saving model to %s\n", epoch + 1,
                    options_.monitor.c_str(), current, path.c_str());
    }
    best = current;
  } else if (options_.verbose > 0) {
    std::printf("\nEpoch %05d: saving model to %s\n", epoch + 1, path.c_str());
  }
  model->save(path);
  last_saved = path;
}

}  // namespace elegy::callbacks
