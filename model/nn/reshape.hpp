// Flatten and Reshape (Haiku's): keep the first `preserve_dims` dimensions, reshape the rest.
#pragma once

#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

// [d0, ..., d(p-1), rest...] -> [d0, ..., d(p-1), prod(rest)].
class Flatten : public Module {
 public:
  explicit Flatten(int preserve_dims = 1, std::string name = {})
      : Module(std::move(name)), preserve_dims_(preserve_dims) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }

 private:
  int preserve_dims_;
};

// [d0, ..., d(p-1), rest...] -> [d0, ..., d(p-1), *output_shape] (one -1 allowed).
class Reshape : public Module {
 public:
  explicit Reshape(Shape output_shape, int preserve_dims = 1, std::string name = {})
      : Module(std::move(name)), output_shape_(output_shape), preserve_dims_(preserve_dims) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "Reshape"; }

 private:
  Shape output_shape_;
  int preserve_dims_;
};

}  // namespace elegy::nn
