// elegy's nn::BatchNorm (Haiku's, with its defaults: decay_rate 0.99, eps 1e-5, scale 1, offset
// 0) for NCHW tensors in libtorch. torch::nn::BatchNorm2d(momentum = 1 - 0.99) differs in two
// ways that matter when few steps separate evaluations (large batches): its running averages
// start from 0 and 1 with no zero-debiasing, and its running variance is the unbiased one. Here,
// as in Haiku, the averages are zero-debiased EMAs of the batch mean and biased variance:
//   hidden = decay * hidden + (1 - decay) * stat,  average = hidden / (1 - decay^t)
// so they equal the batch statistics after the first step. Training normalises with the batch's
// statistics through libtorch's fused kernel; evaluation with the averages.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>

namespace elegy::bench::mains {

class HaikuBatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit HaikuBatchNorm2dImpl(std::int64_t channels, double decay_rate = 0.99, double eps = 1e-5)
      : decay_rate_(decay_rate), eps_(eps) {
    scale_ = register_parameter("scale", torch::ones({channels}));
    offset_ = register_parameter("offset", torch::zeros({channels}));
    mean_hidden_ = register_buffer("mean_hidden", torch::zeros({channels}));
    var_hidden_ = register_buffer("var_hidden", torch::zeros({channels}));
    mean_average_ = register_buffer("mean", torch::zeros({channels}));
    var_average_ = register_buffer("var", torch::ones({channels}));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    if (!is_training())
      return torch::batch_norm(x, scale_, offset_, mean_average_, var_average_,
                               /*training=*/false, /*momentum=*/0.0, eps_, /*cudnn_enabled=*/false);
    // No running tensors: the kernel only normalises, and hands back the batch mean and
    // 1 / sqrt(biased var + eps), from which the averages move.
    auto [y, batch_mean, batch_invstd] = torch::native_batch_norm(
        x, scale_, offset_, /*running_mean=*/{}, /*running_var=*/{}, /*training=*/true,
        /*momentum=*/0.0, eps_);
    torch::NoGradGuard no_grad;
    const torch::Tensor batch_var = batch_invstd.pow(-2) - eps_;
    ++steps_;
    const double debias = 1.0 - std::pow(decay_rate_, double(steps_));
    mean_hidden_.mul_(decay_rate_).add_(batch_mean, 1.0 - decay_rate_);
    var_hidden_.mul_(decay_rate_).add_(batch_var, 1.0 - decay_rate_);
    mean_average_.copy_(mean_hidden_ / debias);
    var_average_.copy_(var_hidden_ / debias);
    return y;
  }

 private:
  double decay_rate_, eps_;
  std::int64_t steps_ = 0;  // Haiku's "counter"
  torch::Tensor scale_, offset_, mean_hidden_, var_hidden_, mean_average_, var_average_;
};
TORCH_MODULE(HaikuBatchNorm2d);

}  // namespace elegy::bench::mains
