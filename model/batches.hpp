// Splitting array data (Trees whose leaves share their first dimension) into batches.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "elegy/core/random.hpp"
#include "elegy/core/tree.hpp"

namespace elegy::data {

// The shared first dimension of every leaf of x, y and sample_weight; Error naming each leaf's
// path and size when they differ, or when a leaf is a scalar.
std::int64_t count_samples(const char* op, const Tree& x, const Tree& y,
                           const std::optional<Tensor>& sample_weight);
// Rows [begin, end) of every leaf (views, no copy).
Tree slice_rows(const Tree& t, std::int64_t begin, std::int64_t end);
// Rows at integer `indices` of every leaf.
Tree take_rows(const Tree& t, const Tensor& indices);
// Leafwise concatenation along the first axis (predict's output).
Tree concatenate_rows(const std::vector<Tree>& parts);

// One batch: a contiguous range, or the gathered `indices` when shuffling.
struct Batch {
  std::int64_t begin = 0, end = 0;
  std::optional<Tensor> indices;
  std::int64_t size() const { return end - begin; }
  Tree select(const Tree& t) const {
    return indices ? take_rows(t, *indices) : slice_rows(t, begin, end);
  }
};

// An endless stream of batches over n samples: passes over the data one after another, the
// last batch of a pass possibly smaller; with shuffle, each pass has its own order drawn from
// `key` (folded with the pass number), so a run is reproducible from its seed.
class BatchStream {
 public:
  BatchStream(std::int64_t n, std::int64_t batch_size, bool shuffle, Key key);
  Batch next();
  // Moves on as if next() had been called `batches` times (resuming fit at a later epoch gives
  // the same batches as the uninterrupted run).
  void skip(std::int64_t batches);
  std::int64_t batches_per_pass() const { return (n_ + batch_size_ - 1) / batch_size_; }

 private:
  std::int64_t n_, batch_size_;
  bool shuffle_;
  Key key_;
  std::int64_t pass_ = -1, position_ = 0;
  Tensor order_;
};

}  // namespace elegy::data
