// Context: parameter/state lookup by path, unique child names, and the aux outputs of a call.
#include "elegy/model/nn/context.hpp"

#include <sstream>

#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_shape.hpp"
#include "elegy/core/error.hpp"

namespace elegy::nn {
namespace {

// The subtree at a '/'-separated path, or nullptr: a lookup miss is a normal outcome here
// (creating a parameter), so it must not go through Tree's throwing operator[].
const Tree* find_path(const Tree& tree, std::string_view path) {
  const Tree* node = &tree;
  while (!path.empty()) {
    if (!node->is_map()) return nullptr;
    const std::size_t slash = path.find('/');
    const std::string_view key = path.substr(0, slash);
    const auto& items = node->items();
    const auto it = items.find(key);
    if (it == items.end()) return nullptr;
    node = &it->second;
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return node;
}

std::string module_label(const std::string& type_name, const std::string& path) {
  return type_name + " at '" + (path.empty() ? std::string("*") : path) + "'";
}

}  // namespace

Context::Context(Tree params, Tree states, std::optional<RngSeq> rng, ContextOptions options)
    : params_(std::move(params)),
      states_(std::move(states)),
      rng_(std::move(rng)),
      options_(options),
      frames_{Frame{"", "root", {}}} {}

Context Context::for_step(const StepArgs& args) {
  const std::vector<Tensor> inputs = args.x.leaves();
  const Device device = inputs.empty() ? Device::cpu() : inputs.front().device();
  std::optional<RngSeq> rng;
  if (args.states.has_rng()) rng = args.states.rng();
  return Context(args.initializing ? Tree() : args.states.net_params(),
                 args.initializing ? Tree() : args.states.net_states(), rng,
                 {.initializing = args.initializing, .training = args.training, .device = device});
}

std::string Context::full_path(std::string_view name) const {
  const std::string& p = path();
  return p.empty() ? std::string(name) : p + "/" + std::string(name);
}

Tensor Context::get_or_create(Tree& tree, const char* kind, std::string_view name,
                              const Shape& shape, const initializers::Initializer& init,
                              DType dtype) {
  const Frame& frame = frames_.back();
  ELEGY_CHECK(!name.empty() && name.find('/') == std::string_view::npos, "nn::Context",
              module_label(frame.type_name, frame.path), ": ", kind, " name '", name,
              "' must be non-empty and contain no '/'");
  const std::string path = full_path(name);
  if (const Tree* found = find_path(tree, path)) {
    ELEGY_CHECK(found->is_leaf(), "nn::Context", module_label(frame.type_name, frame.path), ": ",
                kind, " '", path, "' is a subtree, not a tensor");
    const Tensor& t = found->tensor();
    ELEGY_CHECK(t.shape() == shape, module_label(frame.type_name, frame.path).c_str(), kind, " '",
                path, "' has shape ", t.shape(), " but this call needs ", shape,
                " (were the inputs a different size when the model was initialized?)");
    return t;
  }
  ELEGY_CHECK(options_.initializing, "nn::Context", module_label(frame.type_name, frame.path), ": ",
              kind, " '", path, "' is not in net_", kind,
              "s (only an initializing call creates parameters; were these states made by "
              "another model?)");
  ELEGY_CHECK(init != nullptr, "nn::Context", module_label(frame.type_name, frame.path), ": ", kind,
              " '", path, "' has no initializer");
  Tensor t = init(next_key(), shape, dtype, options_.device);
  ELEGY_CHECK(t.defined() && t.shape() == shape && t.dtype() == dtype, "nn::Context",
              module_label(frame.type_name, frame.path), ": the initializer of '", path,
              "' returned ", describe(t), ", expected ", elegy::name(dtype), shape);
  tree[path] = t;
  return t;
}

Tensor Context::param(std::string_view name, const Shape& shape,
                      const initializers::Initializer& init, DType dtype) {
  return get_or_create(params_, "param", name, shape, init, dtype);
}

Tensor Context::state(std::string_view name, const Shape& shape,
                      const initializers::Initializer& init, DType dtype) {
  return get_or_create(states_, "state", name, shape, init, dtype);
}

void Context::set_state(std::string_view name, const Tensor& value) {
  if (options_.initializing) return;
  const Frame& frame = frames_.back();
  const std::string path = full_path(name);
  const Tree* found = find_path(states_, path);
  ELEGY_CHECK(found && found->is_leaf(), "nn::Context", module_label(frame.type_name, frame.path),
              ": set_state of '", path, "', which state() never created");
  const Tensor& old = found->tensor();
  ELEGY_CHECK(value.shape() == old.shape(), "nn::Context",
              module_label(frame.type_name, frame.path), ": set_state of '", path, "' with ",
              describe(value), ", expected shape ", old.shape());
  states_[path] = value.dtype() == old.dtype() ? value : value.astype(old.dtype());
}

Key Context::next_key() {
  ELEGY_CHECK(rng_.has_value(), "nn::Context",
              "this context has no random sequence (give Context an RngSeq, or use "
              "Context::for_step on a model's states)");
  return rng_->next();
}

namespace {
// Elegy's add_loss naming: "<name>_loss" unless the name already ends with "loss".
std::string loss_log_name(std::string_view name) {
  const std::string n(name);
  if (n.size() >= 4 && n.compare(n.size() - 4, 4, "loss") == 0) return n;
  return n + "_loss";
}
}  // namespace

void Context::add_loss(std::string_view name, const Tensor& value) {
  ELEGY_CHECK(value.defined() && value.numel() == 1 && is_floating(value.dtype()),
              "nn::Context::add_loss", "loss '", name, "' must be a float scalar, got ",
              describe(value));
  const std::string key = loss_log_name(name);
  Tensor v = reshape(value, Shape{});
  auto [it, inserted] = losses_.try_emplace(key, v);
  if (!inserted) it->second = it->second + v;  // same name: summed, as Elegy does
}

void Context::add_metric(std::string_view name, const Tensor& value) {
  ELEGY_CHECK(value.defined() && value.numel() == 1, "nn::Context::add_metric", "metric '", name,
              "' must be a scalar, got ", describe(value));
  std::string key(name);
  for (int i = 1; metrics_.count(key); ++i) key = std::string(name) + "_" + std::to_string(i);
  metrics_.emplace(key, reshape(value, Shape{}));
}

Context::Scope Context::enter_scope(std::string_view base, std::string type_name) {
  Frame& parent = frames_.back();
  int& count = parent.child_counts[std::string(base)];
  std::string name(base);
  // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on `"_" + std::string`.
  if (count > 0) {
    name += '_';
    name += std::to_string(count);
  }
  ++count;
  std::string path = parent.path;
  if (!path.empty()) path += '/';
  path += name;
  frames_.push_back(Frame{std::move(path), std::move(type_name), {}});
  return Scope(this);
}

void Context::add_summary(std::string type_name, Tree output) {
  summaries_.push_back(SummaryTableEntry{
      .path = path(), .module_type_name = std::move(type_name), .output_value = std::move(output)});
}

void Context::add_function_summary(std::string_view name, Tree output) {
  summaries_.push_back(SummaryTableEntry{
      .path = full_path(name), .module_type_name = "", .output_value = std::move(output)});
}

PredStep Context::pred_step(Tree y_pred, const States& states) const {
  States s = states.update({{"net_params", params_}, {"net_states", states_}});
  if (rng_) s = s.update_rng(*rng_);
  return PredStep{std::move(y_pred), std::move(s), losses_, metrics_, summaries_};
}

}  // namespace elegy::nn
