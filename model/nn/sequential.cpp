#include "elegy/model/nn/sequential.hpp"

namespace elegy::nn {

Tensor Layer::operator()(Context& ctx, const Tensor& x) const {
  if (module_) return (*module_)(ctx, x);
  // A function gets a summary row of its own, as Elegy shows "relu" between the Linear rows.
  Tensor y = fn_(x);
  ctx.add_function_summary(name_, y);
  return y;
}

Tensor Sequential::call(Context& ctx, const Tensor& x) {
  Tensor h = x;
  for (const Layer& layer : layers_) h = layer(ctx, h);
  return h;
}

}  // namespace elegy::nn
