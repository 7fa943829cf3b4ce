// Every module of elegy::nn, the Context they run in, and the initializers.
#pragma once

#include "elegy/model/initializers.hpp"
#include "elegy/model/nn/activations.hpp"
#include "elegy/model/nn/attention.hpp"
#include "elegy/model/nn/context.hpp"
#include "elegy/model/nn/conv.hpp"
#include "elegy/model/nn/dropout.hpp"
#include "elegy/model/nn/embedding.hpp"
#include "elegy/model/nn/linear.hpp"
#include "elegy/model/nn/mlp.hpp"
#include "elegy/model/nn/module.hpp"
#include "elegy/model/nn/norm.hpp"
#include "elegy/model/nn/pool.hpp"
#include "elegy/model/nn/reshape.hpp"
#include "elegy/model/nn/sequential.hpp"
