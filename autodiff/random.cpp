#include "elegy/autodiff/ops_creation.hpp"

namespace elegy {

Tensor random::uniform(const Key& key, const Shape& shape, DType dtype, double minval, double maxval, Device device) {
  fail("uniform", "not implemented yet");
}

Tensor random::normal(const Key& key, const Shape& shape, DType dtype, Device device) {
  fail("normal", "not implemented yet");
}

Tensor random::truncated_normal(const Key& key, double lower, double upper, const Shape& shape, DType dtype, Device device) {
  fail("truncated_normal", "not implemented yet");
}

Tensor random::bernoulli(const Key& key, double p, const Shape& shape, Device device) {
  fail("bernoulli", "not implemented yet");
}

Tensor random::randint(const Key& key, const Shape& shape, std::int64_t minval, std::int64_t maxval, DType dtype, Device device) {
  fail("randint", "not implemented yet");
}

Tensor random::permutation(const Key& key, std::int64_t n, Device device) {
  fail("permutation", "not implemented yet");
}

Tensor random::permutation(const Key& key, const Tensor& x) {
  fail("permutation", "not implemented yet");
}

}  // namespace elegy
