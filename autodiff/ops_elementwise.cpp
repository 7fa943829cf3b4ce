#include "elegy/autodiff/ops_elementwise.hpp"

namespace elegy {

Tensor neg(const Tensor& x) {
  fail("neg", "not implemented yet");
}

Tensor abs(const Tensor& x) {
  fail("abs", "not implemented yet");
}

Tensor exp(const Tensor& x) {
  fail("exp", "not implemented yet");
}

Tensor log(const Tensor& x) {
  fail("log", "not implemented yet");
}

Tensor log1p(const Tensor& x) {
  fail("log1p", "not implemented yet");
}

Tensor sqrt(const Tensor& x) {
  fail("sqrt", "not implemented yet");
}

Tensor rsqrt(const Tensor& x) {
  fail("rsqrt", "not implemented yet");
}

Tensor square(const Tensor& x) {
  fail("square", "not implemented yet");
}

Tensor tanh(const Tensor& x) {
  fail("tanh", "not implemented yet");
}

Tensor sigmoid(const Tensor& x) {
  fail("sigmoid", "not implemented yet");
}

Tensor relu(const Tensor& x) {
  fail("relu", "not implemented yet");
}

Tensor gelu(const Tensor& x, bool approximate) {
  fail("gelu", "not implemented yet");
}

Tensor softplus(const Tensor& x) {
  fail("softplus", "not implemented yet");
}

Tensor sign(const Tensor& x) {
  fail("sign", "not implemented yet");
}

Tensor logical_not(const Tensor& x) {
  fail("logical_not", "not implemented yet");
}

Tensor add(const Tensor& a, const Tensor& b) {
  fail("add", "not implemented yet");
}

Tensor sub(const Tensor& a, const Tensor& b) {
  fail("sub", "not implemented yet");
}

Tensor mul(const Tensor& a, const Tensor& b) {
  fail("mul", "not implemented yet");
}

Tensor div(const Tensor& a, const Tensor& b) {
  fail("div", "not implemented yet");
}

Tensor pow(const Tensor& a, const Tensor& b) {
  fail("pow", "not implemented yet");
}

Tensor pow(const Tensor& a, double exponent) {
  fail("pow", "not implemented yet");
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  fail("maximum", "not implemented yet");
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  fail("minimum", "not implemented yet");
}

Tensor maximum(const Tensor& a, double b) {
  fail("maximum", "not implemented yet");
}

Tensor minimum(const Tensor& a, double b) {
  fail("minimum", "not implemented yet");
}

Tensor equal(const Tensor& a, const Tensor& b) {
  fail("equal", "not implemented yet");
}

Tensor not_equal(const Tensor& a, const Tensor& b) {
  fail("not_equal", "not implemented yet");
}

Tensor less(const Tensor& a, const Tensor& b) {
  fail("less", "not implemented yet");
}

Tensor less_equal(const Tensor& a, const Tensor& b) {
  fail("less_equal", "not implemented yet");
}

Tensor greater(const Tensor& a, const Tensor& b) {
  fail("greater", "not implemented yet");
}

Tensor greater_equal(const Tensor& a, const Tensor& b) {
  fail("greater_equal", "not implemented yet");
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  fail("logical_and", "not implemented yet");
}

Tensor logical_or(const Tensor& a, const Tensor& b) {
  fail("logical_or", "not implemented yet");
}

Tensor logical_xor(const Tensor& a, const Tensor& b) {
  fail("logical_xor", "not implemented yet");
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  fail("where", "not implemented yet");
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  fail("where", "not implemented yet");
}

Tensor where(const Tensor& cond, double a, const Tensor& b) {
  fail("where", "not implemented yet");
}

Tensor clip(const Tensor& x, double lo, double hi) {
  fail("clip", "not implemented yet");
}

Tensor astype(const Tensor& x, DType dtype) {
  fail("astype", "not implemented yet");
}

Tensor stop_gradient(const Tensor& x) {
  fail("stop_gradient", "not implemented yet");
}

Tensor scalar_like(const Tensor& like, double value) {
  fail("scalar_like", "not implemented yet");
}

Tensor operator-(const Tensor& x) {
  fail("operator-", "not implemented yet");
}

Tensor operator+(const Tensor& a, const Tensor& b) {
  fail("operator+", "not implemented yet");
}

Tensor operator-(const Tensor& a, const Tensor& b) {
  fail("operator-", "not implemented yet");
}

Tensor operator*(const Tensor& a, const Tensor& b) {
  fail("operator*", "not implemented yet");
}

Tensor operator/(const Tensor& a, const Tensor& b) {
  fail("operator/", "not implemented yet");
}

Tensor operator+(const Tensor& a, double b) {
  fail("operator+", "not implemented yet");
}

Tensor operator-(const Tensor& a, double b) {
  fail("operator-", "not implemented yet");
}

Tensor operator*(const Tensor& a, double b) {
  fail("operator*", "not implemented yet");
}

Tensor operator/(const Tensor& a, double b) {
  fail("operator/", "not implemented yet");
}

Tensor operator+(double a, const Tensor& b) {
  fail("operator+", "not implemented yet");
}

Tensor operator-(double a, const Tensor& b) {
  fail("operator-", "not implemented yet");
}

Tensor operator*(double a, const Tensor& b) {
  fail("operator*", "not implemented yet");
}

Tensor operator/(double a, const Tensor& b) {
  fail("operator/", "not implemented yet");
}

Tensor operator==(const Tensor& a, const Tensor& b) {
  fail("operator==", "not implemented yet");
}

Tensor operator!=(const Tensor& a, const Tensor& b) {
  fail("operator!=", "not implemented yet");
}

Tensor operator<(const Tensor& a, const Tensor& b) {
  fail("operator<", "not implemented yet");
}

Tensor operator<=(const Tensor& a, const Tensor& b) {
  fail("operator<=", "not implemented yet");
}

Tensor operator>(const Tensor& a, const Tensor& b) {
  fail("operator>", "not implemented yet");
}

Tensor operator>=(const Tensor& a, const Tensor& b) {
  fail("operator>=", "not implemented yet");
}

Tensor operator==(const Tensor& a, double b) {
  fail("operator==", "not implemented yet");
}

Tensor operator!=(const Tensor& a, double b) {
  fail("operator!=", "not implemented yet");
}

Tensor operator<(const Tensor& a, double b) {
  fail("operator<", "not implemented yet");
}

Tensor operator<=(const Tensor& a, double b) {
  fail("operator<=", "not implemented yet");
}

Tensor operator>(const Tensor& a, double b) {
  fail("operator>", "not implemented yet");
}

Tensor operator>=(const Tensor& a, double b) {
  fail("operator>=", "not implemented yet");
}

Tensor operator&(const Tensor& a, const Tensor& b) {
  fail("operator&", "not implemented yet");
}

Tensor operator|(const Tensor& a, const Tensor& b) {
  fail("operator|", "not implemented yet");
}

Tensor operator^(const Tensor& a, const Tensor& b) {
  fail("operator^", "not implemented yet");
}

Tensor operator!(const Tensor& x) {
  fail("operator!", "not implemented yet");
}

}  // namespace elegy
