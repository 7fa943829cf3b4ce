// inject_hyperparams (optax/schedules/_inject.py) and current_learning_rate.
#include <memory>

#include "elegy/optim/detail.hpp"
#include "elegy/optim/wrappers.hpp"

namespace elegy::optim {

namespace {

constexpr const char* kOp = "inject_hyperparams";

// The params' widest float dtype (optax.tree.dtype(params, 'highest')); float32 without floats.
DType highest_float_dtype(const Tree& params) {
  DType out = DType::f32;
  for (const Tensor& leaf : params.leaves())
    if (leaf.dtype() == DType::f64) out = DType::f64;
  return out;
}

Tensor value_tensor(double v, DType dtype) {
  return dtype == DType::f64 ? Tensor::from_vector(std::vector<double>{v}, Shape{})
                             : Tensor::from_vector(std::vector<float>{float(v)}, Shape{});
}

double read_value(const Tree& hyperparams, const std::string& name) {
  ELEGY_CHECK(hyperparams.is_map() && hyperparams.contains(name), kOp,
              "the state has no hyperparameter '", name, "'; call init first");
  const Tensor& t = hyperparams[name].tensor();
  ELEGY_CHECK(t.numel() == 1 && t.device().is_cpu(), kOp, "the hyperparameter '", name,
              "' must be one value on the cpu, got ", describe(t));
  return t.item<double>();
}

}  // namespace

GradientTransformation inject_hyperparams(HyperparamsFactory factory,
                                          std::map<std::string, ScalarOrSchedule> hyperparams,
                                          InjectHyperparamsOptions options) {
  ELEGY_CHECK(static_cast<bool>(factory), kOp, "the factory is an empty function");
  for (const auto& [name, v] : hyperparams)
    if (const Schedule* s = std::get_if<Schedule>(&v))
      ELEGY_CHECK(static_cast<bool>(*s), kOp, "the schedule for '", name, "' is an empty function");
  auto shared_factory = std::make_shared<const HyperparamsFactory>(std::move(factory));
  auto shared_hps =
      std::make_shared<const std::map<std::string, ScalarOrSchedule>>(std::move(hyperparams));
  return {
      [shared_factory, shared_hps, options](const Tree& params) {
        const DType dtype = options.hyperparam_dtype.value_or(highest_float_dtype(params));
        Hyperparams values;
        Tree::Map stored, schedule_states;
        for (const auto& [name, v] : *shared_hps) {
          const Schedule* s = std::get_if<Schedule>(&v);
          const double value = detail::round_to(s ? (*s)(0) : std::get<double>(v), dtype);
          values[name] = value;
          stored.emplace(name, value_tensor(value, dtype));
          if (s) schedule_states.emplace(name, Tree{{"count", detail::make_count(0)}});
        }
        return Tree{{"count", detail::make_count(0)},
                    {"hyperparams", Tree::from_map(std::move(stored))},
                    {"hyperparams_states", Tree::from_map(std::move(schedule_states))},
                    {"inner_state", (*shared_factory)(values).init(params)}};
      },
      [shared_factory, shared_hps, options](const Tree& updates, const OptState& state,
                                            const Tree& params) {
        detail::check_state_keys(kOp, state,
                                 {"count", "hyperparams", "hyperparams_states", "inner_state"});
        const std::int32_t count = detail::read_count(kOp, state);
        const DType dtype = options.hyperparam_dtype.value_or(
            highest_float_dtype(params.is_none() ? updates : params));
        Hyperparams values;
        Tree::Map stored, schedule_states;
        for (const auto& [name, v] : *shared_hps) {
          double value;
          if (const Schedule* s = std::get_if<Schedule>(&v)) {
            const Tree& sched_states = state["hyperparams_states"];
            ELEGY_CHECK(sched_states.is_map() && sched_states.contains(name), kOp,
                        "the state has no schedule state for '", name, "'; call init first");
            const std::int32_t step = detail::read_count(kOp, sched_states[name]);
            value = detail::round_to((*s)(step), dtype);
            schedule_states.emplace(
                name, Tree{{"count", detail::make_count(detail::safe_increment(step))}});
          } else {
            // Numbers come from the state, so a caller may have changed them there.
            value = detail::round_to(read_value(state["hyperparams"], name), dtype);
          }
          values[name] = value;
          stored.emplace(name, value_tensor(value, dtype));
        }
        UpdateResult r = (*shared_factory)(values).update(updates, state["inner_state"], params);
        return UpdateResult{std::move(r.updates),
                            Tree{{"count", detail::make_count(detail::safe_increment(count))},
                                 {"hyperparams", Tree::from_map(std::move(stored))},
                                 {"hyperparams_states", Tree::from_map(std::move(schedule_states))},
                                 {"inner_state", std::move(r.state)}}};
      }};
}

std::optional<double> current_learning_rate(const OptState& state) {
  if (state.is_map()) {
    if (state.contains("hyperparams")) {
      const Tree& hps = state["hyperparams"];
      if (hps.is_map() && hps.contains("learning_rate") && hps["learning_rate"].is_leaf()) {
        const Tensor& t = hps["learning_rate"].tensor();
        if (t.numel() == 1) return t.item<double>();
      }
    }
    for (const auto& [key, sub] : state.items())
      if (auto lr = current_learning_rate(sub)) return lr;
  } else if (state.is_list()) {
    for (const Tree& sub : state.elements())
      if (auto lr = current_learning_rate(sub)) return lr;
  }
  return std::nullopt;
}

}  // namespace elegy::optim
