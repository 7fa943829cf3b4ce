// Every callback (Keras' hooks; see callbacks/callback.hpp).
#pragma once

#include "elegy/model/callbacks/callback.hpp"
#include "elegy/model/callbacks/csv_logger.hpp"
#include "elegy/model/callbacks/early_stopping.hpp"
#include "elegy/model/callbacks/lambda_callback.hpp"
#include "elegy/model/callbacks/model_checkpoint.hpp"
#include "elegy/model/callbacks/progbar_logger.hpp"
#include "elegy/model/callbacks/tensorboard.hpp"
#include "elegy/model/callbacks/terminate_on_nan.hpp"
