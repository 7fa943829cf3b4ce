// Activations written with ops. The negative branches evaluate exp on min(x, 0): `where` sends a
// zero cotangent to the unselected branch, but 0 * exp(large) would still be NaN.
#include "elegy/model/nn/activations.hpp"

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/model/nn/context.hpp"

namespace elegy {
namespace {
Tensor expm1_of_negative_part(const Tensor& x) {
  return exp(minimum(x, 0.0)) - 1.0;
}
}  // namespace

Tensor elu(const Tensor& x, double alpha) {
  return where(x > 0.0, x, alpha * expm1_of_negative_part(x));
}

Tensor celu(const Tensor& x, double alpha) {
  return maximum(x, 0.0) + alpha * (exp(minimum(x, 0.0) / alpha) - 1.0);
}

Tensor selu(const Tensor& x) {
  constexpr double kAlpha = 1.6732632423543772848170429916717;
  constexpr double kScale = 1.0507009873554804934193349852946;
  return kScale * elu(x, kAlpha);
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return where(x >= 0.0, x, negative_slope * x);
}

Tensor relu6(const Tensor& x) {
  return clip(x, 0.0, 6.0);
}

Tensor silu(const Tensor& x) {
  return x * sigmoid(x);
}

Tensor hard_sigmoid(const Tensor& x) {
  return relu6(x + 3.0) / 6.0;
}

Tensor hard_tanh(const Tensor& x) {
  return clip(x, -1.0, 1.0);
}

Tensor log_sigmoid(const Tensor& x) {
  return -softplus(-x);
}

Tensor softsign(const Tensor& x) {
  return x / (1.0 + abs(x));
}

Tensor mish(const Tensor& x) {
  return x * tanh(softplus(x));
}

}  // namespace elegy

namespace elegy::nn {
namespace {
Tensor gelu_default(const Tensor& x) {
  return elegy::gelu(x);
}
Tensor elu_default(const Tensor& x) {
  return elegy::elu(x);
}
Tensor celu_default(const Tensor& x) {
  return elegy::celu(x);
}
Tensor leaky_relu_default(const Tensor& x) {
  return elegy::leaky_relu(x);
}
Tensor softmax_last(const Tensor& x) {
  return elegy::softmax(x, -1);
}
Tensor log_softmax_last(const Tensor& x) {
  return elegy::log_softmax(x, -1);
}
}  // namespace

Tensor Activation::operator()(Context& ctx, const Tensor& x) const {
  Tensor y = fn(x);
  ctx.add_function_summary(name, y);
  return y;
}

const Activation relu{"relu", &elegy::relu};
const Activation sigmoid{"sigmoid", &elegy::sigmoid};
const Activation tanh{"tanh", &elegy::tanh};
const Activation gelu{"gelu", &gelu_default};
const Activation softplus{"softplus", &elegy::softplus};
const Activation elu{"elu", &elu_default};
const Activation celu{"celu", &celu_default};
const Activation selu{"selu", &elegy::selu};
const Activation leaky_relu{"leaky_relu", &leaky_relu_default};
const Activation relu6{"relu6", &elegy::relu6};
const Activation silu{"silu", &elegy::silu};
const Activation hard_sigmoid{"hard_sigmoid", &elegy::hard_sigmoid};
const Activation hard_tanh{"hard_tanh", &elegy::hard_tanh};
const Activation log_sigmoid{"log_sigmoid", &elegy::log_sigmoid};
const Activation softsign{"softsign", &elegy::softsign};
const Activation mish{"mish", &elegy::mish};
const Activation softmax{"softmax", &softmax_last};
const Activation log_softmax{"log_softmax", &log_softmax_last};

}  // namespace elegy::nn
