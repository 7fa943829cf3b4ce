#include "elegy/model/batches.hpp"

#include <string>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_shape.hpp"

namespace elegy::data {

std::int64_t count_samples(const char* op, const Tree& x, const Tree& y,
                           const std::optional<Tensor>& sample_weight) {
  std::int64_t n = -1;
  std::string first;
  auto visit = [&](const std::string& where, const Tensor& t) {
    ELEGY_CHECK(t.ndim() >= 1, op, where, " is a scalar ", describe(t),
                "; every input needs a leading sample dimension");
    if (n < 0) {
      n = t.shape(0);
      first = where;
    }
    ELEGY_CHECK(t.shape(0) == n, op, "inputs have different numbers of samples: ", first, " has ",
                n, " but ", where, " has ", t.shape(0), " (", describe(t), ")");
  };
  auto visit_tree = [&](const char* name, const Tree& t) {
    for (const auto& [path, leaf] : t.flatten_with_paths())
      visit(path.empty() ? std::string(name) : std::string(name) + "/" + path, leaf);
  };
  visit_tree("x", x);
  visit_tree("y", y);
  if (sample_weight) visit("sample_weight", *sample_weight);
  ELEGY_CHECK(n >= 0, op, "no input data: x is empty");
  return n;
}

Tree slice_rows(const Tree& t, std::int64_t begin, std::int64_t end) {
  return t.map([&](const Tensor& leaf) { return slice(leaf, begin, end); });
}

Tree take_rows(const Tree& t, const Tensor& indices) {
  return t.map([&](const Tensor& leaf) {
    return take(leaf, indices.device() == leaf.device() ? indices : indices.to(leaf.device()), 0);
  });
}

Tree concatenate_rows(const std::vector<Tree>& parts) {
  ELEGY_CHECK(!parts.empty(), "predict", "no batches to concatenate");
  const std::size_t leaves = parts[0].num_leaves();
  std::vector<std::vector<Tensor>> columns(leaves);
  for (const Tree& p : parts) {
    const std::vector<Tensor> l = p.leaves();
    ELEGY_CHECK(l.size() == leaves, "predict", "batches returned differently structured outputs");
    for (std::size_t i = 0; i < leaves; ++i) columns[i].push_back(l[i]);
  }
  std::vector<Tensor> joined;
  for (auto& c : columns) joined.push_back(concatenate(c, 0));
  return parts[0].unflatten(joined);
}

BatchStream::BatchStream(std::int64_t n, std::int64_t batch_size, bool shuffle, Key key)
    : n_(n), batch_size_(batch_size), shuffle_(shuffle), key_(key) {
  ELEGY_CHECK(batch_size > 0, "fit", "batch_size must be positive, got ", batch_size);
  ELEGY_CHECK(n > 0, "fit", "no samples to iterate over");
}

Batch BatchStream::next() {
  if (pass_ < 0 || position_ >= n_) {
    ++pass_;
    position_ = 0;
    if (shuffle_) order_ = random::permutation(fold_in(key_, std::uint32_t(pass_)), n_);
  }
  Batch b;
  b.begin = position_;
  b.end = std::min(position_ + batch_size_, n_);
  if (shuffle_) b.indices = slice(order_, b.begin, b.end);
  position_ = b.end;
  return b;
}

void BatchStream::skip(std::int64_t batches) {
  ELEGY_CHECK(batches >= 0, "fit", "cannot skip a negative number of batches");
  if (batches == 0) return;
  // Count from where the stream stands: whole batches consumed so far in this pass.
  const std::int64_t per_pass = batches_per_pass();
  const std::int64_t done =
      pass_ < 0 ? 0 : pass_ * per_pass + (position_ + batch_size_ - 1) / batch_size_;
  const std::int64_t target = done + batches;
  pass_ = target / per_pass;
  position_ = (target % per_pass) * batch_size_;
  if (shuffle_) order_ = random::permutation(fold_in(key_, std::uint32_t(pass_)), n_);
}

}  // namespace elegy::data
