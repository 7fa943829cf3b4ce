// Module: the base of every layer (Elegy/Haiku style). A module is a small value holding its
// configuration; its parameters live in the Context under the module's path, created on the
// first (initializing) call with sizes inferred from the input, and fetched by name after.
// Submodules are created inline in call(), so a model reads top to bottom:
//
//   struct MLP : nn::Module {
//     Tensor call(nn::Context& ctx, const Tensor& x) override {
//       Tensor h = nn::Linear(300)(ctx, flatten(x) / 255.0f);
//       return nn::Linear(10)(ctx, relu(h));
//     }
//   };
//
// Each call of a module opens a scope named after it (its `name`, or its type in snake_case),
// made unique among siblings: two Linear calls give "linear" and "linear_1", and their
// parameters "linear/w", "linear_1/w" (nested: "mlp/linear/w").
#pragma once

#include <concepts>
#include <memory>
#include <string>
#include <utility>

#include "elegy/core/tensor.hpp"
#include "elegy/core/tree.hpp"
#include "elegy/model/nn/context.hpp"

namespace elegy::nn {

class Module {
 public:
  explicit Module(std::string name = {}) : name_(std::move(name)) {}
  virtual ~Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;

  // The module's computation on one tensor. Override this, or call_tree for other inputs.
  virtual Tensor call(Context& ctx, const Tensor& x);
  // The computation on a tree of inputs (dict inputs/outputs); the default takes a one-leaf tree
  // and runs call().
  virtual Tree call_tree(Context& ctx, const Tree& x);

  // Runs the module in its own scope and records its summary row.
  Tensor operator()(Context& ctx, const Tensor& x);
  Tree operator()(Context& ctx, const Tree& x);
  // Runs the module as the root of a model: no scope of its own (parameters at "linear/w", not
  // "mlp/linear/w"), summary path "" (shown as "*").
  Tree call_root(Context& ctx, const Tree& x);

  // "Linear", "MLP": the C++ type name without namespaces (override to rename).
  virtual std::string type_name() const;
  // The scope name: the name given at construction, else type_name() in snake_case.
  std::string scope_name() const;

 protected:
  // Runs `body` inside this module's scope and records the summary of what it returns; for
  // modules whose call takes other arguments (MultiHeadAttention's query, key, value, mask).
  template <class Body>
  auto scoped(Context& ctx, Body&& body) {
    auto scope = ctx.enter_scope(scope_name(), type_name());
    auto out = std::forward<Body>(body)();
    ctx.add_summary(type_name(), Tree(out));
    return out;
  }

 private:
  std::string name_;
};

// A module of any type held by value (shared, since modules are immutable configuration), so
// Model options and Sequential take `MLP()` or `nn::Linear(10)` directly.
class AnyModule {
 public:
  AnyModule() = default;
  template <class M>
  requires std::derived_from<std::decay_t<M>, Module> AnyModule(
      M&& module)  // NOLINT: implicit, `.module = MLP()`
      : module_(std::make_shared<std::decay_t<M>>(std::forward<M>(module))) {}

  explicit operator bool() const { return module_ != nullptr; }
  Module& operator*() const { return *module_; }
  Module* operator->() const { return module_.get(); }

 private:
  std::shared_ptr<Module> module_;
};

// "MultiHeadAttention" -> "multi_head_attention", "MLP" -> "mlp", "Conv2D" -> "conv2_d"
// (Haiku's rule: an underscore before an upper-case letter that follows a lower-case letter or
// digit, or that starts a new word after an acronym).
std::string snake_case(std::string_view type_name);

}  // namespace elegy::nn
