// Functional reverse-mode differentiation, as in JAX: gradients are returned values shaped like
// the parameters, never stored on tensors.
//
//   auto [loss, grads] = value_and_grad(loss_fn, params);  // loss_fn: (const Tree&) -> Tensor
//   auto [loss, aux, grads] = value_and_grad(fn, params);  // fn returns std::pair<Tensor, Aux>
//   Tensor dx = grad(f, x);                                // f: (const Tensor&) -> Tensor
//   auto d2f = grad(grad(f));                              // grad(f) alone returns a function
//
// Calls nest (grad of grad, gradient penalties): the backward pass of an inner call records on
// the enclosing tape.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "elegy/autodiff/tape.hpp"
#include "elegy/core/tree.hpp"

namespace elegy {

using autodiff::NoGrad;

namespace autodiff {

// A new handle of `x` that is a variable of the innermost open tape (an identity op on x, so
// enclosing tapes still see through it).
Tensor make_variable(const Tensor& x);
// Cotangents of scalar `out` with respect to each of `variables` (zeros where out does not
// depend on one). Error when out is not a scalar float.
std::vector<Tensor> backward(const Tensor& out, const std::vector<Tensor>& variables,
                             const char* caller);

// Drops tape history from values leaving the outermost value_and_grad. The catch-all comes
// first so the overloads below see it: other aux types (numbers, strings, user structs) are left
// as they are.
template <class T>
void strip(T&) {}
inline void strip(Tensor& t) {
  t = t.detached();
}
inline void strip(Tree& t) {
  t = t.map([](const Tensor& x) { return x.detached(); });
}
template <class T>
void strip(std::vector<T>& v) {
  for (auto& x : v) strip(x);
}
template <class A, class B>
void strip(std::pair<A, B>& p) {
  strip(p.first);
  strip(p.second);
}
template <class... Ts>
void strip(std::tuple<Ts...>& t) {
  std::apply([](auto&... xs) { (strip(xs), ...); }, t);
}

template <class T>
struct IsPair : std::false_type {};
template <class A, class B>
struct IsPair<std::pair<A, B>> : std::true_type {};

inline std::vector<Tensor> leaves_of(const Tensor& t) {
  return {t};
}
inline std::vector<Tensor> leaves_of(const Tree& t) {
  return t.leaves();
}
inline Tensor rebuild_like(const Tensor&, const std::vector<Tensor>& leaves) {
  return leaves[0];
}
inline Tree rebuild_like(const Tree& t, const std::vector<Tensor>& leaves) {
  return t.unflatten(leaves);
}

}  // namespace autodiff

template <class Aux, class Params>
struct ValueAuxGrad {
  Tensor value;
  Aux aux;
  Params grads;
};

// Value and gradient of `f` at `params` (a Tree or a Tensor). When f returns
// std::pair<Tensor, Aux> the aux value is passed through (JAX's has_aux) and the result is
// {value, aux, grads}; otherwise it is std::pair{value, grads}.
template <class F, class Params>
auto value_and_grad(F&& f, const Params& params) {
  static_assert(std::is_same_v<Params, Tree> || std::is_same_v<Params, Tensor>,
                "value_and_grad differentiates with respect to a Tree or a Tensor");
  using Result = std::decay_t<std::invoke_result_t<F&, const Params&>>;
  constexpr bool has_aux = autodiff::IsPair<Result>::value;
  std::vector<Tensor> vars;
  Result result;
  Tensor value;
  {
    autodiff::TapeScope scope;
    for (const Tensor& leaf : autodiff::leaves_of(params))
      vars.push_back(autodiff::make_variable(leaf));
    const Params wrapped = autodiff::rebuild_like(params, vars);
    result = f(wrapped);
    if constexpr (has_aux)
      value = result.first;
    else
      value = result;
  }
  // The tape is closed: the backward pass records only on an enclosing tape (grad of grad).
  Params grads = autodiff::rebuild_like(params, autodiff::backward(value, vars, "value_and_grad"));
  const bool outermost = !autodiff::is_recording();
  if (outermost) {
    autodiff::strip(value);
    autodiff::strip(grads);
  }
  if constexpr (has_aux) {
    auto aux = std::move(result.second);
    if (outermost) autodiff::strip(aux);
    return ValueAuxGrad<decltype(aux), Params>{value, std::move(aux), std::move(grads)};
  } else {
    return std::pair<Tensor, Params>{value, std::move(grads)};
  }
}

// Gradient of `f` at `params`.
template <class F, class Params>
Params grad(F&& f, const Params& params) {
  auto r = value_and_grad(std::forward<F>(f), params);
  if constexpr (autodiff::IsPair<std::decay_t<decltype(r)>>::value)
    return std::move(r.second);
  else
    return std::move(r.grads);
}

// grad(f) as a function, so derivatives compose: grad(grad(f))(x).
template <class F>
auto grad(F f) {
  return [f](const auto& params) { return grad(f, params); };
}

}  // namespace elegy
