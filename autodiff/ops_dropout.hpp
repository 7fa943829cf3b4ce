// Dropout as Haiku's hk.dropout: inverted dropout with a counter-based mask.
#pragma once

#include "elegy/core/random.hpp"
#include "elegy/core/tensor.hpp"

namespace elegy {

// Keeps each element with probability 1 - rate and scales the kept ones by 1 / (1 - rate). The
// mask is the one random::bernoulli(key, 1 - rate, x.shape()) draws: element i is kept when the
// Philox word i of `key` gives a uniform below 1 - rate, so the same key gives the same mask on
// every device and thread count (and for x's strides). rate 0 returns x, rate 1 zeros; Error for
// a rate outside [0, 1] or a non-float x. The gradient is g masked and scaled the same way.
Tensor dropout(const Key& key, double rate, const Tensor& x);

}  // namespace elegy
