// Sequential: layers applied in order, each a module or a named activation:
//   nn::Sequential({nn::Flatten(), nn::Linear(300), nn::relu, nn::Linear(10)})
// Its layers run inside its own scope ("sequential/linear/w"), each module named as usual.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "elegy/model/nn/activations.hpp"
#include "elegy/model/nn/module.hpp"

namespace elegy::nn {

// One layer of a Sequential: a module, a named activation, or any named function.
class Layer {
 public:
  template <class M>
  requires std::derived_from<std::decay_t<M>, Module> Layer(M&& module)
      : module_(std::forward<M>(module)) {}  // NOLINT: implicit
  Layer(const Activation& activation)        // NOLINT: implicit
      : name_(activation.name), fn_(activation.fn) {}
  Layer(std::string name, std::function<Tensor(const Tensor&)> fn)
      : name_(std::move(name)), fn_(std::move(fn)) {}

  Tensor operator()(Context& ctx, const Tensor& x) const;

 private:
  AnyModule module_;
  std::string name_;
  std::function<Tensor(const Tensor&)> fn_;
};

class Sequential : public Module {
 public:
  Sequential(std::initializer_list<Layer> layers, std::string name = {})
      : Module(std::move(name)), layers_(layers) {}
  explicit Sequential(std::vector<Layer> layers, std::string name = {})
      : Module(std::move(name)), layers_(std::move(layers)) {}
  Tensor call(Context& ctx, const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }

 private:
  std::vector<Layer> layers_;
};

}  // namespace elegy::nn
