// The fused fast path of the aliases (fused.hpp): recognise a state this path can step, run
// Op::OptimUpdate over every leaf, rebuild optax's state.
#include "elegy/optim/fused.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "elegy/autodiff/kernel_call.hpp"
#include "elegy/autodiff/tape.hpp"
#include "elegy/kernels/cpu/optim_fused.hpp"
#include "elegy/optim/detail.hpp"

namespace elegy::optim::detail {

namespace {

std::atomic<std::int64_t> g_fused_updates{0};

// A {count: int32 scalar on the cpu} map (the state of a scheduled scale or weight decay).
std::optional<std::int32_t> count_of(const OptState& s) {
  if (!s.is_map() || s.size() != 1 || !s.contains("count") || !s["count"].is_leaf())
    return std::nullopt;
  const Tensor& c = s["count"].tensor();
  if (c.dtype() != DType::i32 || c.numel() != 1 || !c.device().is_cpu()) return std::nullopt;
  return *c.data<std::int32_t>();
}

// The state of scale_by_learning_rate / add_decayed_weights for `value` (None for a number,
// {count} for a schedule); its step count through `count` (0 for a number).
bool scalar_state_fits(const ScalarOrSchedule& value, const OptState& s, std::int32_t* count) {
  if (std::holds_alternative<double>(value)) {
    *count = 0;
    return s.is_none();
  }
  const auto c = count_of(s);
  if (c) *count = *c;
  return c.has_value();
}

// The state with every count incremented (scheduled scales and weight decays).
OptState advance_counts(const OptState& s) {
  if (!s.is_map()) return s;
  Tree::Map out;
  for (const auto& [k, v] : s.items())
    out.emplace(k, k == "count" ? Tree(make_count(safe_increment(count_of(s).value())))
                                : advance_counts(v));
  return Tree::from_map(std::move(out));
}

// Every leaf contiguous with the dtype, device and shape of the matching leaf of `like`.
bool leaves_match(const std::vector<Tensor>& leaves, const std::vector<Tensor>& like) {
  if (leaves.size() != like.size()) return false;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const Tensor &a = leaves[i], &b = like[i];
    if (!a.defined() || !a.is_contiguous() || a.dtype() != b.dtype() || a.device() != b.device() ||
        a.shape() != b.shape())
      return false;
  }
  return true;
}

// The updates' leaves when they can be fused: non-empty, contiguous, one float dtype and device.
std::optional<std::vector<Tensor>> fusable_leaves(const Tree& updates) {
  std::vector<Tensor> g = updates.leaves();
  if (g.empty()) return std::nullopt;
  const DType dtype = g[0].dtype();
  if (dtype != DType::f32 && dtype != DType::f64) return std::nullopt;
  for (const Tensor& t : g)
    if (!t.defined() || !t.is_contiguous() || t.dtype() != dtype || t.device() != g[0].device())
      return std::nullopt;
  return g;
}

// The leaves `tree` has where the structure matches `updates` (else nullopt).
std::optional<std::vector<Tensor>> matching_leaves(const Tree& updates, const Tree& tree,
                                                   const std::vector<Tensor>& like) {
  if (!Tree::structure_difference(updates, tree).empty()) return std::nullopt;
  std::vector<Tensor> out = tree.leaves();
  if (!leaves_match(out, like)) return std::nullopt;
  return out;
}

double learning_rate_step(const ScalarOrSchedule& lr, std::int32_t count) {
  if (const double* v = std::get_if<double>(&lr)) return -*v;
  return -eval_checked("scale_by_learning_rate", "learning-rate", std::get<Schedule>(lr), count);
}

void run_kernel(const char* what, kernels::OptimUpdateArgs& args, DType dtype, Device device) {
  kernels::KernelArgs k;
  k.device = device;
  k.ints[0] = std::int64_t(reinterpret_cast<std::uintptr_t>(&args));
  kernels::run(what, kernels::Op::OptimUpdate, dtype, k);
}

// The weight decay of each leaf: `value` on the leaves the mask selects, 0 elsewhere.
std::vector<double> leaf_weight_decays(const Mask& mask, const Tree& updates, double value) {
  const std::size_t n = updates.num_leaves();
  if (std::holds_alternative<std::monostate>(mask)) return std::vector<double>(n, value);
  // Mask a tree of leaf indices: the selected ones survive.
  std::vector<Tensor> indices;
  for (std::size_t i = 0; i < n; ++i)
    indices.push_back(Tensor::from_vector(std::vector<std::int32_t>{std::int32_t(i)}, Shape{}));
  const Tree selected =
      mask_tree("add_decayed_weights", resolve_mask(mask, updates), updates.unflatten(indices));
  std::vector<double> out(n, 0.0);
  for (const Tensor& t : selected.leaves()) out[std::size_t(*t.data<std::int32_t>())] = value;
  return out;
}

// What a fused step returns: the updates (or, when applied, the new params) and the new state.
struct FusedStep {
  Tree tree;
  OptState state;
};

// The caller's trees a step may take over (update_and_apply's donated state and params); both
// null for update(), which only reads them.
struct Donation {
  OptState* state = nullptr;
  Tree* params = nullptr;
};

// Where a step writes the new value of leaf `in`: into `in` itself when the step took it over and
// nobody else holds it (the kernels read each element before they write it), else a fresh buffer.
Tensor output_for(const Tensor& in, bool donated) {
  if (donated && in.is_sole_owner()) return in;
  return Tensor::empty(in.shape(), in.dtype(), in.device());
}

// Takes the caller's donated trees over (they become None), so the leaf vectors the step holds
// are the only references wherever the caller's were. Returns false when there is nothing to
// take. (The steps copy `updates` first: it may be, or live inside, a donated tree.)
bool take_donation(const Donation& d) {
  if (!d.state || !d.params) return false;
  *d.state = OptState();
  *d.params = Tree();
  return true;
}

// The composed chain's update followed by apply_updates.
StepResult composed_step(const GradientTransformation& chain, const Tree& updates,
                         const OptState& state, const Tree& params) {
  UpdateResult u = chain.update(updates, state, params);
  return {apply_updates(params, u.updates), std::move(u.state)};
}

// One fused adam/adamw/nadam/lamb step, or nullopt when the state or trees do not fit the fused
// path (the caller then runs the composed chain). With `apply`, the tree is the new params.
// `donation` may point at `state` and `params`: once every check has passed, the step takes them
// over and writes in place where it can (nothing is taken when it returns nullopt or throws).
std::optional<FusedStep> adam_step(const FusedAdamSpec* s, const Tree& updates,
                                   const OptState& state, const Tree& params, bool apply,
                                   const Donation& donation = {}) {
  const std::size_t n_tx = 2 + (s->weight_decay ? 1 : 0) + (s->lamb ? 1 : 0);
  const auto g = fusable_leaves(updates);
  if (!g || !state.is_list() || state.size() != n_tx) return std::nullopt;
  const Tree& adam_state = state[0];
  if (!adam_state.is_map() || adam_state.size() != 3 || !adam_state.contains("mu") ||
      !adam_state.contains("nu") || !adam_state.contains("count"))
    return std::nullopt;
  const auto count0 = [&]() -> std::optional<std::int32_t> {
    const Tree& c = adam_state["count"];
    if (!c.is_leaf() || c.tensor().dtype() != DType::i32 || c.tensor().numel() != 1 ||
        !c.tensor().device().is_cpu())
      return std::nullopt;
    return *c.tensor().data<std::int32_t>();
  }();
  const auto mu = matching_leaves(updates, adam_state["mu"], *g);
  const auto nu = matching_leaves(updates, adam_state["nu"], *g);
  if (!count0 || !mu || !nu) return std::nullopt;
  std::vector<Tensor> p;
  const bool needs_params = apply || s->weight_decay.has_value() || s->lamb;
  if (needs_params) {
    const auto pl = matching_leaves(updates, params, *g);
    if (!pl) return std::nullopt;
    p = *pl;
  }
  // The small states: weight decay (maybe masked), trust ratio (None), learning rate.
  std::int32_t lr_count = 0, wd_count = 0;
  if (!scalar_state_fits(s->learning_rate, state[n_tx - 1], &lr_count)) return std::nullopt;
  double weight_decay = 0.0;
  if (s->weight_decay) {
    const bool is_masked = !std::holds_alternative<std::monostate>(s->mask);
    const Tree& wd_state = state[1];
    if (is_masked &&
        !(wd_state.is_map() && wd_state.size() == 1 && wd_state.contains("inner_state")))
      return std::nullopt;
    if (!scalar_state_fits(*s->weight_decay, is_masked ? wd_state["inner_state"] : wd_state,
                           &wd_count))
      return std::nullopt;
    if (const double* v = std::get_if<double>(&*s->weight_decay))
      weight_decay = *v;
    else
      weight_decay = eval_checked("add_decayed_weights", "weight_decay",
                                  std::get<Schedule>(*s->weight_decay), wd_count);
  }
  if (s->lamb && !state[2].is_none()) return std::nullopt;
  const std::vector<double> wd =
      leaf_weight_decays(s->mask, updates, s->weight_decay ? weight_decay : 0.0);

  const DType dtype = (*g)[0].dtype();
  const Device device = (*g)[0].device();
  const std::int32_t count = safe_increment(*count0);
  kernels::OptimUpdateArgs args;
  args.kind = s->lamb ? kernels::OptimKind::lamb_moments : kernels::OptimKind::adam;
  args.b1 = s->b1;
  args.b2 = s->b2;
  args.eps = s->eps;
  args.eps_root = s->eps_root;
  args.bc1 = bias_correction(s->b1, count, dtype);
  args.bc2 = bias_correction(s->b2, count, dtype);
  args.bc1_next = bias_correction(s->b1, safe_increment(count), dtype);
  args.nesterov = s->nesterov;
  args.step = learning_rate_step(s->learning_rate, lr_count);

  // The new state's small parts, taken before `state` may be given up below.
  Tree::List new_state{Tree()};
  for (std::size_t k = 1; k < n_tx; ++k) new_state.push_back(advance_counts(state[k]));
  std::vector<Tree> old_small_states(state.elements().begin(), state.elements().end());
  old_small_states[0] = adam_state["count"];

  autodiff::NoGrad no_grad;
  const Tree structure = updates;  // `updates` may live inside a donated tree
  const bool donated = apply && take_donation(donation);
  // From here `state`, `params` and `updates` may be gone: only the leaf vectors and the copies
  // above are read. Whatever fails gives the caller its trees back (restore_caller).
  auto restore_caller = [&] {
    if (!donated) return;
    old_small_states[0] = Tree{{"count", old_small_states[0]},
                               {"mu", structure.unflatten(*mu)},
                               {"nu", structure.unflatten(*nu)}};
    *donation.state = Tree::from_list(std::move(old_small_states));
    *donation.params = structure.unflatten(p);
  };
  const std::size_t n = g->size();
  std::vector<Tensor> mu_out(n), nu_out(n), u_out(n), p_out(n);
  std::vector<kernels::OptimTensor> tensors(n);
  try {
    // Everything that can fail before the kernel writes anything: outputs, result trees.
    const Tensor sums =
        s->lamb ? Tensor::empty(Shape{std::int64_t(2 * n)}, DType::f64, device) : Tensor();
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor& gi = (*g)[i];
      mu_out[i] = output_for((*mu)[i], donated);
      nu_out[i] = output_for((*nu)[i], donated);
      // lamb's first pass keeps its unscaled update for the second, even when applying.
      if (!apply || s->lamb) u_out[i] = Tensor::empty(gi.shape(), dtype, device);
      if (apply) p_out[i] = output_for(p[i], donated);
      kernels::OptimTensor& t = tensors[i];
      t.grad = gi.raw_data();
      t.param = needs_params ? p[i].raw_data() : nullptr;
      t.mu = (*mu)[i].raw_data();
      t.nu = (*nu)[i].raw_data();
      t.mu_out = mu_out[i].raw_data();
      t.nu_out = nu_out[i].raw_data();
      t.update = u_out[i].defined() ? u_out[i].raw_data() : nullptr;
      t.param_out = apply ? p_out[i].raw_data() : nullptr;
      t.sums = s->lamb ? static_cast<double*>(sums.raw_data()) + 2 * i : nullptr;
      t.numel = gi.numel();
      t.weight_decay = wd[i];
    }
    new_state[0] = Tree{{"count", make_count(count)},
                        {"mu", structure.unflatten(mu_out)},
                        {"nu", structure.unflatten(nu_out)}};
    // params has the structure of updates (matching_leaves checked it).
    FusedStep result{structure.unflatten(apply ? p_out : u_out),
                     Tree::from_list(std::move(new_state))};
    args.tensors = tensors.data();
    args.num_tensors = int(n);
    ++g_fused_updates;
    const char* what = s->lamb ? "lamb" : "adam";
    // A kernel that fails partway (a CUDA launch error) leaves some buffers updated in place:
    // the caller gets its trees back holding them.
    run_kernel(what, args, dtype, device);
    if (s->lamb) {
      args.kind = kernels::OptimKind::lamb_scale;
      run_kernel(what, args, dtype, device);
    }
    return result;
  } catch (...) {
    restore_caller();
    throw;
  }
}

// One fused sgd-with-momentum step, or nullopt (see adam_step).
std::optional<FusedStep> momentum_step(double decay, bool nesterov,
                                       const ScalarOrSchedule& learning_rate, const Tree& updates,
                                       const OptState& state, const Tree& params, bool apply,
                                       const Donation& donation = {}) {
  const auto g = fusable_leaves(updates);
  if (!g || !state.is_list() || state.size() != 2) return std::nullopt;
  const Tree& trace_state = state[0];
  if (!trace_state.is_map() || trace_state.size() != 1 || !trace_state.contains("trace"))
    return std::nullopt;
  const auto tr = matching_leaves(updates, trace_state["trace"], *g);
  std::int32_t lr_count = 0;
  if (!tr || !scalar_state_fits(learning_rate, state[1], &lr_count)) return std::nullopt;
  std::vector<Tensor> p;
  if (apply) {
    const auto pl = matching_leaves(updates, params, *g);
    if (!pl) return std::nullopt;
    p = *pl;
  }

  const DType dtype = (*g)[0].dtype();
  const Device device = (*g)[0].device();
  kernels::OptimUpdateArgs args;
  args.kind = kernels::OptimKind::momentum;
  args.decay = decay;
  args.nesterov = nesterov;
  args.step = learning_rate_step(learning_rate, lr_count);
  const Tree lr_state = advance_counts(state[1]);
  Tree old_lr_state = state[1];
  autodiff::NoGrad no_grad;
  const Tree structure = updates;  // `updates` may live inside a donated tree
  const bool donated = apply && take_donation(donation);
  // From here `state`, `params` and `updates` may be gone (see adam_step).
  auto restore_caller = [&] {
    if (!donated) return;
    *donation.state =
        Tree::from_list({Tree{{"trace", structure.unflatten(*tr)}}, std::move(old_lr_state)});
    *donation.params = structure.unflatten(p);
  };
  const std::size_t n = g->size();
  std::vector<Tensor> tr_out(n), u_out(n), p_out(n);
  std::vector<kernels::OptimTensor> tensors(n);
  try {
    for (std::size_t i = 0; i < n; ++i) {
      const Tensor& gi = (*g)[i];
      tr_out[i] = output_for((*tr)[i], donated);
      kernels::OptimTensor& t = tensors[i];
      t.grad = gi.raw_data();
      t.mu = (*tr)[i].raw_data();
      t.mu_out = tr_out[i].raw_data();
      if (apply) {
        p_out[i] = output_for(p[i], donated);
        t.param = p[i].raw_data();
        t.param_out = p_out[i].raw_data();
      } else {
        u_out[i] = Tensor::empty(gi.shape(), dtype, device);
        t.update = u_out[i].raw_data();
      }
      t.numel = gi.numel();
    }
    FusedStep result{structure.unflatten(apply ? p_out : u_out),
                     Tree::from_list({Tree{{"trace", structure.unflatten(tr_out)}}, lr_state})};
    args.tensors = tensors.data();
    args.num_tensors = int(n);
    ++g_fused_updates;
    run_kernel("sgd", args, dtype, device);  // a partial failure: see adam_step
    return result;
  } catch (...) {
    restore_caller();
    throw;
  }
}

}  // namespace

std::int64_t fused_update_count() {
  return g_fused_updates.load();
}

GradientTransformation fused_adam(GradientTransformation composed, FusedAdamSpec spec) {
  auto chain_ = std::make_shared<const GradientTransformation>(std::move(composed));
  auto s = std::make_shared<const FusedAdamSpec>(std::move(spec));
  GradientTransformation t;
  t.init = chain_->init;
  t.update = [chain_, s](const Tree& updates, const OptState& state, const Tree& params) {
    if (auto r = adam_step(s.get(), updates, state, params, /*apply=*/false))
      return UpdateResult{std::move(r->tree), std::move(r->state)};
    return chain_->update(updates, state, params);
  };
  t.update_and_apply = [chain_, s](const Tree& updates, OptState&& state, Tree&& params) {
    if (auto r = adam_step(s.get(), updates, state, params, /*apply=*/true, {&state, &params}))
      return StepResult{std::move(r->tree), std::move(r->state)};
    return composed_step(*chain_, updates, state, params);
  };
  return t;
}

GradientTransformation fused_momentum(GradientTransformation composed, double decay, bool nesterov,
                                      ScalarOrSchedule learning_rate) {
  auto chain_ = std::make_shared<const GradientTransformation>(std::move(composed));
  GradientTransformation t;
  t.init = chain_->init;
  t.update = [chain_, decay, nesterov, learning_rate](const Tree& updates, const OptState& state,
                                                      const Tree& params) {
    if (auto r = momentum_step(decay, nesterov, learning_rate, updates, state, params, false))
      return UpdateResult{std::move(r->tree), std::move(r->state)};
    return chain_->update(updates, state, params);
  };
  t.update_and_apply = [chain_, decay, nesterov, learning_rate](const Tree& updates,
                                                                OptState&& state, Tree&& params) {
    if (auto r = momentum_step(decay, nesterov, learning_rate, updates, state, params, true,
                               {&state, &params}))
      return StepResult{std::move(r->tree), std::move(r->state)};
    return composed_step(*chain_, updates, state, params);
  };
  return t;
}

}  // namespace elegy::optim::detail
