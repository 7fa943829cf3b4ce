#include "elegy/model/nn/reshape.hpp"

#include <vector>

#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {

Tensor Flatten::call(Context& ctx, const Tensor& x) {
  ELEGY_CHECK(preserve_dims_ >= 0 && x.ndim() >= preserve_dims_, "nn::Flatten", "at '", ctx.path(),
              "' keeps ", preserve_dims_, " leading dims of ", describe(x), ", which has fewer");
  if (x.ndim() == preserve_dims_) return expand_dims(x, preserve_dims_);
  return flatten(x, preserve_dims_);
}

Tensor Reshape::call(Context& ctx, const Tensor& x) {
  ELEGY_CHECK(preserve_dims_ >= 0 && x.ndim() >= preserve_dims_, "nn::Reshape", "at '", ctx.path(),
              "' keeps ", preserve_dims_, " leading dims of ", describe(x), ", which has fewer");
  std::vector<std::int64_t> dims(x.shape().begin(), x.shape().begin() + preserve_dims_);
  for (std::int64_t d : output_shape_) dims.push_back(d);
  return reshape(x, Shape(dims));
}

}  // namespace elegy::nn
