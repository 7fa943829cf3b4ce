// Pooling over channels-last inputs ([N, W, C] or [N, H, W, C]): MaxPool and AvgPool over
// windows (Haiku's, with "same" padding cells never winning a max and not counted in an
// average), and the global poolings that reduce every spatial dim.
#pragma once

#include <vector>

#include "elegy/autodiff/ops_conv.hpp"
#include "elegy/autodiff/ops_pool.hpp"
#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

struct PoolOptions {
  std::vector<std::int64_t> strides{};  // {} = the window (non-overlapping)
  Padding padding = Padding::valid;
  std::string name{};
};

class MaxPool : public Module {
 public:
  // window: one value for every spatial dim, or one per dim.
  explicit MaxPool(std::vector<std::int64_t> window, PoolOptions options = {})
      : Module(options.name), window_(std::move(window)), options_(std::move(options)) {}
  explicit MaxPool(std::int64_t window, PoolOptions options = {})
      : MaxPool(std::vector<std::int64_t>{window}, std::move(options)) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "MaxPool"; }

 private:
  std::vector<std::int64_t> window_;
  PoolOptions options_;
};

class AvgPool : public Module {
 public:
  explicit AvgPool(std::vector<std::int64_t> window, PoolOptions options = {})
      : Module(options.name), window_(std::move(window)), options_(std::move(options)) {}
  explicit AvgPool(std::int64_t window, PoolOptions options = {})
      : AvgPool(std::vector<std::int64_t>{window}, std::move(options)) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "AvgPool"; }

 private:
  std::vector<std::int64_t> window_;
  PoolOptions options_;
};

// [N, *spatial, C] -> [N, C] (keepdims: [N, 1.., C]).
class GlobalAvgPool : public Module {
 public:
  explicit GlobalAvgPool(bool keepdims = false, std::string name = {})
      : Module(std::move(name)), keepdims_(keepdims) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "GlobalAvgPool"; }

 private:
  bool keepdims_;
};

class GlobalMaxPool : public Module {
 public:
  explicit GlobalMaxPool(bool keepdims = false, std::string name = {})
      : Module(std::move(name)), keepdims_(keepdims) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "GlobalMaxPool"; }

 private:
  bool keepdims_;
};

}  // namespace elegy::nn
