// Tree: a pytree of tensors — a leaf (one Tensor), a map from names to subtrees (kept sorted by
// name, as JAX orders dict keys), a list of subtrees, or None. Parameters, gradients, optimizer
// states and batches are all Trees; paths name leaves as "mlp/linear/w" ("layers/0/w" in lists).
//
// A Tree is a value, but its maps and lists are shared between copies and copied on write: a
// copy costs one reference count, and the first mutation through operator[] copies that one
// level (its children stay shared). A Model step copies and updates its States several times;
// deep copies of every map and key were most of its host time. As with any copy-on-write value,
// a Tree& or const Tree& taken from operator[] is invalidated by the next write to the tree
// (a write may copy the level it points into); take it again after writing. Assigning a tree
// into its own subtree (`t["prev"] = t`) or a subtree to its tree (`t = t["a"]`) works as it
// does for deep copies.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "elegy/core/tensor.hpp"

namespace elegy {

class Tree {
 public:
  using Map = std::map<std::string, Tree, std::less<>>;
  using List = std::vector<Tree>;

  Tree() = default;  // None
  Tree(const Tree&) = default;
  Tree(Tree&& other) noexcept;  // leaves `other` None
  Tree& operator=(const Tree& other);
  Tree& operator=(Tree&& other) noexcept;
  ~Tree() = default;
  Tree(Tensor leaf);  // NOLINT: a tensor is a one-leaf tree
  Tree(std::initializer_list<std::pair<const std::string, Tree>> items);  // a map
  static Tree from_map(Map items);
  static Tree from_list(List items);

  bool is_none() const { return std::holds_alternative<std::monostate>(node_); }
  bool is_leaf() const { return std::holds_alternative<Tensor>(node_); }
  bool is_map() const { return std::holds_alternative<std::shared_ptr<Map>>(node_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<List>>(node_); }

  // The leaf's tensor; Error when this is not a leaf.
  const Tensor& tensor() const;
  operator Tensor() const { return tensor(); }  // NOLINT: `Tensor w = params["w"];`

  // Map child by name; a '/'-separated path walks several levels. Error lists the keys present.
  const Tree& operator[](std::string_view path) const;
  // The same path walk, inserting missing keys (turning None into a map), so
  // `tree["a/b"] = t;` and `tree["a"]["b"] = t;` build a tree.
  Tree& operator[](std::string_view path);
  // List element; Error when out of range.
  const Tree& operator[](std::size_t index) const;
  Tree& operator[](std::size_t index);
  const Tree& operator[](int index) const { return (*this)[std::size_t(index)]; }
  Tree& operator[](int index) { return (*this)[std::size_t(index)]; }

  bool contains(std::string_view path) const;
  // Children of a map or list (0 for a leaf or None).
  std::size_t size() const;
  const Map& items() const;      // Error unless a map
  const List& elements() const;  // Error unless a list

  // Leaves in canonical order (map keys sorted, list order), depth first.
  std::vector<Tensor> leaves() const;
  std::size_t num_leaves() const;
  std::vector<std::pair<std::string, Tensor>> flatten_with_paths() const;
  // Same structure, leaves replaced in canonical order; Error when the count differs.
  Tree unflatten(std::span<const Tensor> leaves) const;

  Tree map(const std::function<Tensor(const Tensor&)>& fn) const;
  Tree map_with_path(const std::function<Tensor(const std::string&, const Tensor&)>& fn) const;
  // fn over the leaves of two trees of the same structure; Error naming the first path where
  // the structures differ.
  static Tree map2(const std::function<Tensor(const Tensor&, const Tensor&)>& fn, const Tree& a,
                   const Tree& b, std::string_view op = "tree_map");
  // Empty when the structures match, else a description of the first difference.
  static std::string structure_difference(const Tree& a, const Tree& b);
  // Total number of elements over all leaves.
  std::int64_t numel() const;
  // The same maps and lists (keys, lengths, None where None), leaves aside: a cheap test
  // without the description structure_difference builds.
  static bool same_structure(const Tree& a, const Tree& b);
  // No map or list of this tree is shared with another Tree (a copy shares them): a Model's
  // compiled step writes the leaves in place only when nobody else can see them.
  bool uniquely_owned() const;

 private:
  // This tree's map (list), copied first when another tree shares it: safe to modify.
  Map& own_map();
  List& own_list();
  // Copies, in this tree, every shared map or list on the way to the Tree object `target` when
  // it lies inside (so assigning this tree to target makes no cycle).
  void unshare_path_to(const Tree* target);

  std::variant<std::monostate, Tensor, std::shared_ptr<Map>, std::shared_ptr<List>> node_;
};

std::ostream& operator<<(std::ostream& os, const Tree& tree);  // structure with shapes/dtypes

}  // namespace elegy
