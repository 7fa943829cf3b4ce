#include "elegy/model/losses/loss.hpp"

#include <vector>

#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::losses {
namespace {

// `w` reshaped so it broadcasts against `values` along the leading (sample) dims: trailing
// size-1 dims are dropped or added, as Keras squeezes/expands sample weights.
Tensor align_weights(const char* who, const Tensor& w, const Tensor& values, const char* what) {
  Tensor a = w;
  while (a.ndim() > values.ndim() && a.shape(-1) == 1) a = squeeze(a, -1);
  ELEGY_CHECK(a.ndim() <= values.ndim(), who, what, " ", describe(w),
              " has more dims than the per-sample values ", describe(values));
  std::vector<std::int64_t> dims(a.shape().begin(), a.shape().end());
  while (int(dims.size()) < values.ndim()) dims.push_back(1);
  for (std::size_t i = 0; i < dims.size(); ++i)
    ELEGY_CHECK(dims[i] == 1 || dims[i] == values.shape()[int(i)], who, what, " ", describe(w),
                " does not match the per-sample values ", describe(values));
  return reshape(a, Shape(dims));
}

}  // namespace

Tensor select_on(const char* who, const Tree& tree, const std::string& on, const char* which) {
  const Tree& t = on.empty() ? tree : tree[on];
  ELEGY_CHECK(t.is_leaf(), who, which, (on.empty() ? std::string() : " at '" + on + "'"),
              " must be one tensor, got ", t,
              on.empty() ? " (set `on` to pick a leaf of a tree output)" : "");
  return t.tensor();
}

Pair select_pair(const char* who, const LossArgs& args, const std::string& on) {
  return {select_on(who, args.y_true, on, "y_true"), select_on(who, args.y_pred, on, "y_pred")};
}

std::optional<Tensor> sample_weights(const char* who, const LossArgs& args, const Tensor& values,
                                     const Tensor& y_true, const Tensor& y_pred) {
  std::optional<Tensor> w;
  if (args.sample_weight) w = align_weights(who, *args.sample_weight, values, "sample_weight");
  if (args.class_weight) {
    const Tensor& cw = *args.class_weight;
    ELEGY_CHECK(cw.ndim() == 1, who, "class_weight must be [num_classes], got ", describe(cw));
    // The class of each sample: integer labels as they are, one-hot/probabilities by argmax,
    // a single binary probability by rounding.
    Tensor labels;
    if (!is_floating(y_true.dtype()) && y_true.dtype() != DType::bool_)
      labels = y_true;
    else if (y_true.ndim() >= 1 && y_true.ndim() == y_pred.ndim() && y_true.shape(-1) > 1)
      labels = argmax(y_true, -1);
    else
      labels = astype(y_true > 0.5, DType::i32);
    if (labels.ndim() > values.ndim() && labels.shape(-1) == 1) labels = squeeze(labels, -1);
    const Tensor per_sample = take(cw.astype(values.dtype()), labels.astype(DType::i32), 0);
    const Tensor aligned = align_weights(who, per_sample, values, "class_weight");
    w = w ? *w * aligned : aligned;
  }
  return w;
}

Loss::Loss(std::string name, PerSample per_sample, LossOptions options)
    : name_(std::move(name)), per_sample_(std::move(per_sample)), options_(std::move(options)) {
  ELEGY_CHECK(per_sample_ != nullptr, "Loss", "loss '", name_, "' needs a function");
}

Tensor Loss::operator()(const LossArgs& args) const {
  LossArgs a = args;
  if (!options_.on.empty()) {
    a.y_true = args.y_true.is_none()
                   ? Tree()
                   : Tree(select_on(name_.c_str(), args.y_true, options_.on, "y_true"));
    a.y_pred = select_on(name_.c_str(), args.y_pred, options_.on, "y_pred");
  }
  Tensor values = per_sample_(a);
  ELEGY_CHECK(values.defined() && is_floating(values.dtype()), name_.c_str(),
              "the per-sample values must be a float tensor, got ", describe(values));
  // A loss that is already one number (a regularizer) has no samples to weight.
  if ((a.sample_weight || a.class_weight) && values.ndim() > 0) {
    const Tensor yt = a.y_true.is_leaf() ? a.y_true.tensor() : values;
    const Tensor yp = a.y_pred.is_leaf() ? a.y_pred.tensor() : values;
    if (const auto w = sample_weights(name_.c_str(), a, values, yt, yp)) values = values * *w;
  }
  Tensor out;
  switch (options_.reduction) {
    case Reduction::none:
      out = values;
      break;
    case Reduction::sum:
      out = sum(values);
      break;
    case Reduction::sum_over_batch_size:
      out = values.numel() > 0 ? mean(values) : sum(values);
      break;
  }
  return options_.weight == 1.0 ? out : out * options_.weight;
}

Tensor Loss::operator()(const Tensor& y_true, const Tensor& y_pred,
                        std::optional<Tensor> sample_weight) const {
  LossArgs a;
  a.y_true = y_true;
  a.y_pred = y_pred;
  a.sample_weight = std::move(sample_weight);
  return (*this)(a);
}

}  // namespace elegy::losses
