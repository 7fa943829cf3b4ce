// The umbrella header: `#include <elegy/elegy.hpp>` brings the whole public API.
// (This file lives in cmake/ because it belongs to no single layer; the build and the install
// both place it at <elegy/elegy.hpp>.)
#pragma once

#include "elegy/autodiff/axes.hpp"
#include "elegy/autodiff/grad.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_index.hpp"
#include "elegy/autodiff/ops_linalg.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/allocator.hpp"
#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"
#include "elegy/core/error.hpp"
#include "elegy/core/random.hpp"
#include "elegy/core/shape.hpp"
#include "elegy/core/tensor.hpp"
#include "elegy/core/thread_pool.hpp"
#include "elegy/core/tree.hpp"
#include "elegy/optim/transform.hpp"
#include "elegy/model/batches.hpp"
#include "elegy/model/model.hpp"
#include "elegy/model/states.hpp"
#include "elegy/model/steps.hpp"
