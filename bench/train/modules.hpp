// The benchmark networks as elegy modules (the Model path of bench_train_elegy, and
// bench_train_recording): the MLP 784-512-512-10 and the CNN of issue 8.
#pragma once

#include <elegy/elegy.hpp>

namespace elegy::bench::train {

// The activations go through the layers' `activation` option (Keras's activation="relu"): the
// bias add and relu run as one fused epilogue (ops_bias_act.hpp), same values as relu(layer).
inline constexpr FusedActivation kRelu = FusedActivation::relu;

struct MlpModule : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    Tensor h = nn::Linear(512, {.activation = kRelu})(ctx, x);
    h = nn::Linear(512, {.activation = kRelu})(ctx, h);
    return nn::Linear(10)(ctx, h);
  }
};

struct CnnModule : nn::Module {
  Tensor call(nn::Context& ctx, const Tensor& x) override {
    const nn::ConvOptions same_relu{.padding = Padding::same, .activation = kRelu};
    Tensor h = nn::Conv2D(32, 3, same_relu)(ctx, x);  // [N, 28, 28, 32]
    h = nn::MaxPool(2)(ctx, h);                       // [N, 14, 14, 32]
    h = nn::Conv2D(64, 3, same_relu)(ctx, h);         // [N, 14, 14, 64]
    h = nn::MaxPool(2)(ctx, h);                       // [N, 7, 7, 64]
    h = nn::Flatten()(ctx, h);                        // [N, 3136]
    h = nn::Linear(128, {.activation = kRelu})(ctx, h);
    return nn::Linear(10)(ctx, h);
  }
};

}  // namespace elegy::bench::train
