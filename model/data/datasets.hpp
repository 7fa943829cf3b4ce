// Datasets on disk, read into tensors.
#pragma once

#include <string>

#include "elegy/core/tensor.hpp"

namespace elegy::data::datasets {

struct Split {
  Tensor x_train, y_train, x_test, y_test;
};

// Fashion-MNIST from Debian's dataset-fashion-mnist package: images uint8 [N, 28, 28], labels
// int32 [N] (60000 train, 10000 test). Missing files are an Error saying how to install them.
Split fashion_mnist(const std::string& dir = "/usr/share/datasets/fashion-mnist");

}  // namespace elegy::data::datasets
