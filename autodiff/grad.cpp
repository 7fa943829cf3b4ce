// The backward walker: a topological order of the nodes between the output and the variables,
// then one reverse sweep. Summing cotangents back to broadcast inputs' shapes and accumulating
// fan-out happen here, once, so every backward rule stays a one-liner.
#include "elegy/autodiff/grad.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory_resource>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "elegy/autodiff/mul_add_list.hpp"
#include "elegy/autodiff/ops_creation.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/autodiff/ops_shape.hpp"

namespace elegy::autodiff {

Tensor make_variable(const Tensor& x) {
  ELEGY_CHECK(x.defined(), "value_and_grad", "a parameter is an undefined tensor");
  ELEGY_CHECK(is_floating(x.dtype()), "value_and_grad", "cannot differentiate with respect to ",
              describe(x), ": only float32/float64 parameters have gradients");
  Tensor v = x.detached();
  auto node = std::make_shared<Node>();
  node->op = "variable";
  node->inputs = {x.node()};
  node->input_shapes = {x.shape()};
  node->input_dtypes = {x.dtype()};
  node->vjp = [](const Tensor& g, const Tensor&) { return Cotangents{g}; };
  node->out_shape = x.shape();
  node->out_dtype = x.dtype();
  v.set_node(std::move(node));
  return v;
}

namespace {

struct WalkState {
  bool reaches_target = false;
  bool visited = false;
};

// The cotangents one node has received so far: plain ones added into `sum`, and at most one
// scaled one (value * scale) held back, folded in by a single mul_add when the total is read.
// Addition commutes bit for bit, so with one cotangent of each kind the total is exactly the
// unfused product plus sum.
struct Accumulated {
  Tensor sum;
  Cotangent scaled;

  void add(Tensor c) { sum = sum.defined() ? sum + c : std::move(c); }

  void add_scaled(Cotangent c) {
    if (scaled.defined()) add(take_scaled());  // a second product: fold the first one in now
    scaled = std::move(c);
  }

  // Whether a product is held back over a plain sum (what total() folds with a mul_add).
  bool has_fold() const { return scaled.defined() && sum.defined(); }

  // The held-back product's terms, folded in by the caller (fold_all) into `folded`.
  MulAddTerm fold_term() const { return {scaled.value, scaled.scale, sum}; }
  void set_folded(Tensor folded) {
    sum = std::move(folded);
    scaled = Cotangent();
  }

  // Folds the held-back product in (once: a variable listed twice reads it twice).
  const Tensor& total() {
    if (scaled.defined())
      sum = sum.defined() ? mul_add(scaled.value, scaled.scale, sum) : take_scaled();
    scaled = Cotangent();
    return sum;
  }

 private:
  Tensor take_scaled() {
    Cotangent c = std::move(scaled);
    scaled = Cotangent();
    return c.value * c.scale;
  }
};

// Adds an op's cotangent for an input of `shape` and `dtype` into `acc`: a scaled one of that
// exact shape and dtype is held back for the fused form; anything else is formed, summed back
// over broadcast dims and cast.
void accumulate(Accumulated& acc, Cotangent c, const Shape& shape, DType dtype) {
  if (c.scaled() && c.value.shape() == shape && c.value.dtype() == dtype &&
      c.scale.dtype() == dtype && c.scale.ndim() == 0) {
    acc.add_scaled(std::move(c));
    return;
  }
  Tensor t = c.scaled() ? c.value * c.scale : std::move(c.value);
  if (!(t.shape() == shape)) t = sum_to(t, shape);
  if (t.dtype() != dtype) t = astype(t, dtype);
  acc.add(std::move(t));
}

// Folds the held-back products of several variables (every parameter's L2 term) into their
// gradients with one MulAddMany where they fit it (mul_add_list.hpp), the same bits as a
// mul_add each: one launch for the tree instead of one per parameter.
void fold_all(std::span<Accumulated* const> accs) {
  std::vector<Accumulated*> pending;
  for (Accumulated* acc : accs)
    if (acc->has_fold() && std::find(pending.begin(), pending.end(), acc) == pending.end())
      pending.push_back(acc);
  if (pending.size() < 2) return;  // (one: total()'s own mul_add is the same launch)
  std::vector<MulAddTerm> terms;
  terms.reserve(pending.size());
  for (const Accumulated* acc : pending) terms.push_back(acc->fold_term());
  std::optional<std::vector<Tensor>> folded = mul_add_list(terms);
  if (!folded) return;
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i]->set_folded(std::move((*folded)[i]));
}

}  // namespace

std::vector<Tensor> backward(const Tensor& out, const std::vector<Tensor>& variables,
                             const char* caller) {
  ELEGY_CHECK(out.defined(), caller, "the function returned an undefined tensor");
  ELEGY_CHECK(out.numel() == 1 && is_floating(out.dtype()), caller,
              "the function must return a scalar float tensor (one element), got ", describe(out));

  // The walk's bookkeeping lives in one arena, on the stack for tapes of up to a few hundred
  // nodes: a training step runs this once, and its map nodes were a fifth of the step's mallocs.
  std::array<std::byte, 32 * 1024> arena_buffer;
  std::pmr::monotonic_buffer_resource arena(arena_buffer.data(), arena_buffer.size());

  std::pmr::unordered_map<const Node*, std::size_t> target_index(&arena);
  for (std::size_t i = 0; i < variables.size(); ++i) target_index[variables[i].node().get()] = i;

  // Iterative post-order DFS that does not descend below a variable (what lies below belongs to
  // enclosing tapes) and keeps only nodes from which some variable is reachable.
  std::pmr::unordered_map<const Node*, WalkState> state(&arena);
  std::pmr::vector<std::shared_ptr<Node>> order(&arena);  // post-order: inputs before users
  if (out.node()) {
    std::pmr::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack(&arena);
    stack.emplace_back(out.node(), 0);
    state[out.node().get()].visited = true;
    while (!stack.empty()) {
      auto& [node, next_input] = stack.back();
      const bool is_target = target_index.count(node.get()) > 0;
      if (!is_target && next_input < node->inputs.size()) {
        const std::shared_ptr<Node>& in = node->inputs[next_input++];
        if (in && !state[in.get()].visited) {
          state[in.get()].visited = true;
          stack.emplace_back(in, 0);
        }
        continue;
      }
      WalkState& s = state[node.get()];
      s.reaches_target = is_target;
      if (!is_target)
        for (const auto& in : node->inputs)
          if (in && state[in.get()].reaches_target) s.reaches_target = true;
      if (s.reaches_target) order.push_back(node);
      stack.pop_back();
    }
  }

  std::pmr::unordered_map<const Node*, Accumulated> cotangent(&arena);
  // The seed d out / d out = 1 as a number operand (on a GPU a shared constant filled once),
  // not a Fill kernel every step.
  if (out.node()) {
    const Tensor one = scalar_like(out, 1.0);
    cotangent[out.node().get()].add(out.ndim() == 0 ? one : reshape(one, out.shape()));
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const std::shared_ptr<Node>& node = *it;
    if (target_index.count(node.get())) continue;
    auto found = cotangent.find(node.get());
    if (found == cotangent.end()) continue;
    const Tensor g = found->second.total();
    cotangent.erase(found);
    Tensor kept = node->kept_output;
    if (kept.defined()) kept.set_node(node);  // second derivatives flow through the output
    Cotangents cots = node->vjp(g, kept);
    for (std::size_t i = 0; i < node->inputs.size() && i < cots.size(); ++i) {
      const std::shared_ptr<Node>& in = node->inputs[i];
      if (!in || !cots[i].defined() || !state[in.get()].reaches_target) continue;
      accumulate(cotangent[in.get()], std::move(cots[i]), node->input_shapes[i],
                 node->input_dtypes[i]);
    }
  }

  std::vector<Accumulated*> leaves;
  for (const Tensor& v : variables)
    if (auto found = cotangent.find(v.node().get()); found != cotangent.end())
      leaves.push_back(&found->second);
  fold_all(leaves);
  std::vector<Tensor> grads;
  grads.reserve(variables.size());
  for (const Tensor& v : variables) {
    auto found = cotangent.find(v.node().get());
    grads.push_back(found != cotangent.end() ? found->second.total() : zeros_like(v));
  }
  return grads;
}

}  // namespace elegy::autodiff
