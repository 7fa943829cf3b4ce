// Helpers shared by the transforms' implementations (not part of the public API): step counts,
// state validation with errors that name the transform, hyperparameter checks, and a leafwise map
// over several trees.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "elegy/optim/transforms.hpp"

namespace elegy::optim::detail {

// ---- step counts: int32 scalars on the CPU (optax's count fields) ----
Tensor make_count(std::int32_t value);
// state["count"] read on the host; Error unless it is an int32 scalar on the CPU.
std::int32_t read_count(std::string_view op, const OptState& state);
// count + 1, staying at the int32 maximum instead of wrapping (optax.safe_increment).
std::int32_t safe_increment(std::int32_t count);

// ---- state validation ----
// Error unless `state` is None (stateless transforms).
void check_empty_state(std::string_view op, const OptState& state);
// Error unless `state` is a map with exactly `keys`.
void check_state_keys(std::string_view op, const OptState& state,
                      std::initializer_list<std::string_view> keys);
// Error unless `state_tree` (the state's `field`) has the structure and leaf shapes of `updates`:
// names the first differing path.
void check_matches_updates(std::string_view op, std::string_view field, const Tree& updates,
                           const Tree& state_tree);

// ---- hyperparameters ----
// Error unless lo <= value <= hi (value < hi when hi_open), finite.
void check_range(std::string_view op, std::string_view name, double value, double lo, double hi,
                 bool hi_open = false);
void check_finite_nonnegative(std::string_view op, std::string_view name, double value);
// A schedule's value at `count`, checked finite and >= 0.
double eval_checked(std::string_view op, std::string_view name, const Schedule& fn,
                    std::int64_t count);

// ---- numerics matching optax ----
// 1 - decay^count, rounded as JAX computes it for a moment of `dtype` (the power and the
// subtraction in that dtype, decay rounded to it first): moments are divided by exactly the
// numbers optax divides them by. (optax divides; XLA turns the division into a multiplication
// by the reciprocal only when the tree has a single leaf, which we do not imitate.)
double bias_correction(double decay, std::int64_t count, DType dtype);

// The value of base^exponent as JAX computes a power of `dtype` operands: for an integer
// exponent XLA's binary exponentiation in that dtype (what an eager `b ** count` runs; optax's
// jitted bias correction differs, see bias_correction), else the power of the operands rounded to
// the dtype, rounded; returned as a double.
double power_as(double base, double exponent, DType dtype);
// x rounded to `dtype` (float32 or float64), as a double.
double round_to(double x, DType dtype);

// ---- tree maps ----
// fn over the leaves of trees of one structure (checked by the caller), leaf i of each tree
// in order; the result has the first tree's structure.
Tree zip_map(std::initializer_list<const Tree*> trees,
             const std::function<Tensor(std::span<const Tensor>)>& fn);
// `now` with each leaf cast to the dtype of the matching leaf of `before` (states keep dtypes).
Tree cast_like(const Tree& now, const Tree& before);
// zeros (or `value`) shaped like each leaf, on its device, in `dtype` (default: the leaf's).
Tree full_like_tree(const Tree& params, double value, std::optional<DType> dtype = std::nullopt);

// (1 - decay) * updates^order + decay * moment, leafwise (order 1 or 2; g * g for the square),
// optax's update_moment / update_moment_per_elem_norm for real numbers.
Tree update_moment(const Tree& updates, const Tree& moment, double decay, int order);
// moment / (1 - decay^count), leafwise (optax's tree bias_correction).
Tree bias_corrected(const Tree& moment, double decay, std::int64_t count);
// Error naming `op` unless params are given (not None) with the structure of the updates.
void check_params(std::string_view op, const Tree& updates, const Tree& params);

// ---- masks (masked.cpp) ----
// The mask tree: the Tree itself, or the function applied to `tree`.
Tree resolve_mask(const Mask& mask, const Tree& tree);
// `tree` with the subtrees the mask leaves out replaced by None; Error (naming `op` and the path)
// unless the mask is a prefix of `tree` with one-value leaves.
Tree mask_tree(std::string_view op, const Tree& mask, const Tree& tree);
// `all_old` with the selected subtrees taken from `selected_new` (a mask_tree-shaped tree).
Tree merge_masked(std::string_view op, const Tree& mask, const Tree& selected_new,
                  const Tree& all_old);
// add_decayed_weights, optionally without its weight_decay >= 0 check (fromage decays by a
// negative factor).
GradientTransformation add_decayed_weights_as(const ScalarOrSchedule& weight_decay, Mask mask,
                                              bool check_nonnegative);
// masked() with errors named `op`.
GradientTransformation masked_as(std::string op, GradientTransformation inner, Mask mask);

}  // namespace elegy::optim::detail
