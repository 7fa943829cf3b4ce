// masked: apply a transform to the leaves a mask selects (optax.masked).
#include <string>

#include "elegy/optim/detail.hpp"
#include "elegy/optim/transforms.hpp"

namespace elegy::optim {

namespace {

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "/" + key;
}

std::string where(const std::string& path) {
  return path.empty() ? "the root" : "'" + path + "'";
}

bool selected(std::string_view op, const Tensor& leaf, const std::string& path) {
  ELEGY_CHECK(leaf.numel() == 1, op, "the mask's leaf at ", where(path),
              " must be one value (true/false), got ", describe(leaf));
  return leaf.item<double>() != 0.0;
}

// Calls fn(selected, path) for each subtree of `tree` that a mask leaf covers (path names it),
// after checking that `mask` is a prefix of `tree`; rebuilds the tree from the results.
template <class Fn>
Tree over_mask(std::string_view op, const Tree& mask, const Tree& tree, const std::string& path,
               const Fn& fn) {
  if (mask.is_leaf()) return fn(selected(op, mask.tensor(), path), path);
  if (mask.is_map() && tree.is_map()) {
    Tree::Map out;
    auto it = tree.items().begin();
    for (const auto& [key, sub] : mask.items()) {
      ELEGY_CHECK(it != tree.items().end() && it->first == key && mask.size() == tree.size(), op,
                  "the mask does not match the tree at ", where(path), ": mask ", mask, " vs ",
                  tree);
      out.emplace(key, over_mask(op, sub, it->second, join(path, key), fn));
      ++it;
    }
    ELEGY_CHECK(it == tree.items().end(), op, "the mask does not match the tree at ", where(path),
                ": mask ", mask, " vs ", tree);
    return Tree::from_map(std::move(out));
  }
  if (mask.is_list() && tree.is_list() && mask.size() == tree.size()) {
    Tree::List out;
    for (std::size_t i = 0; i < mask.size(); ++i)
      out.push_back(
          over_mask(op, mask.elements()[i], tree.elements()[i], join(path, std::to_string(i)), fn));
    return Tree::from_list(std::move(out));
  }
  if (mask.is_none() && tree.is_none()) return Tree();
  fail(op, "the mask does not match the tree at ", where(path), ": mask ", mask, " vs ", tree,
       " (the mask must have the params' structure, or a prefix of it, with true/false leaves)");
}

// The subtree of `tree` at `path` (path as over_mask builds it).
const Tree& at(const Tree& tree, const std::string& path) {
  return path.empty() ? tree : tree[path];
}

}  // namespace

namespace detail {

Tree resolve_mask(const Mask& mask, const Tree& tree) {
  if (const Tree* t = std::get_if<Tree>(&mask)) return *t;
  return std::get<MaskFn>(mask)(tree);
}

Tree mask_tree(std::string_view op, const Tree& mask, const Tree& tree) {
  return over_mask(op, mask, tree, "", [&](bool keep, const std::string& path) {
    return keep ? at(tree, path) : Tree();
  });
}

Tree merge_masked(std::string_view op, const Tree& mask, const Tree& selected_new,
                  const Tree& all_old) {
  return over_mask(op, mask, all_old, "", [&](bool keep, const std::string& path) {
    return keep ? at(selected_new, path) : at(all_old, path);
  });
}

GradientTransformation masked_as(std::string op, GradientTransformation inner, Mask mask) {
  ELEGY_CHECK(!std::holds_alternative<std::monostate>(mask), op, "no mask given");
  if (const MaskFn* fn = std::get_if<MaskFn>(&mask))
    ELEGY_CHECK(static_cast<bool>(*fn), op, "the mask function is empty");
  auto shared = std::make_shared<const GradientTransformation>(std::move(inner));
  return {[op, shared, mask](const Tree& params) {
            const Tree m = resolve_mask(mask, params);
            return Tree{{"inner_state", shared->init(mask_tree(op, m, params))}};
          },
          [op, shared, mask](const Tree& updates, const OptState& state, const Tree& params) {
            check_state_keys(op, state, {"inner_state"});
            const Tree m = resolve_mask(mask, updates);
            const Tree masked_params = params.is_none() ? Tree() : mask_tree(op, m, params);
            UpdateResult r =
                shared->update(mask_tree(op, m, updates), state["inner_state"], masked_params);
            return UpdateResult{merge_masked(op, m, r.updates, updates),
                                Tree{{"inner_state", std::move(r.state)}}};
          }};
}

}  // namespace detail

GradientTransformation masked(GradientTransformation inner, Mask mask) {
  return detail::masked_as("masked", std::move(inner), std::move(mask));
}

}  // namespace elegy::optim
