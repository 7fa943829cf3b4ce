// States: the immutable bag of everything a Model carries between steps (Elegy's States), and
// RngSeq, the model's random key sequence, which is part of it so a run is reproducible from its
// seed.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "elegy/core/random.hpp"
#include "elegy/core/tree.hpp"

namespace elegy {

// A sequence of keys: next() derives a fresh key each call. A value: copies advance separately.
class RngSeq {
 public:
  explicit RngSeq(std::uint64_t seed = 42) : key_(seed) {}
  explicit RngSeq(Key key) : key_(key) {}
  // A new key; the sequence moves on, so the next call gives another.
  Key next() {
    auto [carry, out] = split(key_);
    key_ = carry;
    return out;
  }
  const Key& key() const { return key_; }
  friend bool operator==(const RngSeq&, const RngSeq&) = default;

 private:
  Key key_;
};

// Immutable map from field name to Tree, plus the rng. Every "modifier" returns a new States.
// Default fields: rng, net_params, net_states, metrics_states, optimizer_states; users may add
// any others (a GAN keeps g_params, d_params, ...).
class States {
 public:
  States() = default;
  States(std::initializer_list<std::pair<const std::string, Tree>> fields);

  // The field's tree; Error naming the field and listing the fields present when it is absent.
  const Tree& operator[](std::string_view field) const;
  // True when the field is present and not None.
  bool has(std::string_view field) const;
  std::vector<std::string> fields() const;  // includes "rng" when set

  // A copy with `field` set to `value`.
  States update(std::string_view field, Tree value) const;
  States update(std::initializer_list<std::pair<std::string_view, Tree>> values) const;
  // A copy with each field set only where it is absent or None (Elegy's maybe_update).
  States maybe_update(std::initializer_list<std::pair<std::string_view, Tree>> values) const;
  // Every field of `other` that is unset here, including rng.
  States maybe_update(const States& other) const;
  States copy() const { return *this; }

  bool has_rng() const { return rng_.has_value(); }
  // Error when the states have no rng (only a model's states_step adds one).
  const RngSeq& rng() const;
  States update_rng(RngSeq rng) const;

  const Tree& net_params() const { return field_or_none("net_params"); }
  const Tree& net_states() const { return field_or_none("net_states"); }
  const Tree& metrics_states() const { return field_or_none("metrics_states"); }
  const Tree& optimizer_states() const { return field_or_none("optimizer_states"); }

  // Every field's leaves, fields in name order (what a compiled step keeps its states in).
  std::vector<Tensor> leaves() const;
  // The same fields and rng with these leaves (as many as leaves() has), in new trees.
  States with_leaves(std::span<const Tensor> leaves) const;
  // The same field names and tree structures (Tree::same_structure), rng aside.
  static bool same_structure(const States& a, const States& b);
  // Neither these fields nor any of their maps or lists are shared with another States or Tree.
  bool uniquely_owned() const;
  // Per leaf (in leaves() order): whether nothing but these states can reach it through a tree
  // (its field's maps and lists, and the fields themselves, are not shared).
  std::vector<bool> leaves_uniquely_owned() const;

  friend std::ostream& operator<<(std::ostream& os, const States& s);

 private:
  // Sorted by name. A vector, not a map: a States has a handful of fields, and each modifier
  // copies them (one allocation instead of one per field).
  using Fields = std::vector<std::pair<std::string, Tree>>;
  const Fields& entries() const;
  const Tree* find(std::string_view field) const;  // null when absent
  const Tree& field_or_none(std::string_view field) const;
  // Shared between copies, never modified once built (a modifier builds new entries): copying a
  // States, which every step does several times, copies one pointer. Null: no fields.
  std::shared_ptr<const Fields> fields_;
  std::optional<RngSeq> rng_;
};

}  // namespace elegy
