#include "elegy/model/io/checkpoint.hpp"

#include <map>
#include <set>
#include <sstream>

#include "elegy/core/error.hpp"
#include "elegy/model/io/json.hpp"
#include "elegy/model/io/safetensors.hpp"

namespace elegy::io {
namespace {

constexpr const char* kFormat = "elegy-checkpoint";
constexpr int kVersion = 1;

// The structure of `tree` as JSON, appending its leaves as (name, tensor) under `prefix`.
Json structure(const Tree& tree, const std::string& prefix,
               std::vector<std::pair<std::string, Tensor>>& leaves) {
  if (tree.is_none()) return Json();
  if (tree.is_leaf()) {
    leaves.emplace_back(prefix, tree.tensor());
    return Json::object({{"leaf", Json::string(prefix)}});
  }
  if (tree.is_map()) {
    Json::Object items;
    for (const auto& [k, v] : tree.items()) items[k] = structure(v, prefix + "/" + k, leaves);
    return Json::object({{"map", Json::object(std::move(items))}});
  }
  Json::Array items;
  for (std::size_t i = 0; i < tree.size(); ++i)
    items.push_back(structure(tree.elements()[i], prefix + "/" + std::to_string(i), leaves));
  return Json::object({{"list", Json::array(std::move(items))}});
}

Tree rebuild(const Json& s, const std::map<std::string, Tensor>& tensors,
             std::set<std::string>& used, const std::string& who) {
  if (s.is_null()) return Tree();
  const char* w = who.c_str();
  if (const Json* leaf = s.find("leaf")) {
    const std::string& name = leaf->as_string(w);
    const auto it = tensors.find(name);
    ELEGY_CHECK(it != tensors.end(), w, "the manifest names tensor '", name,
                "', which the file does not hold");
    used.insert(name);
    return Tree(it->second);
  }
  if (const Json* map = s.find("map")) {
    Tree::Map items;
    for (const auto& [k, v] : map->as_object(w)) items[k] = rebuild(v, tensors, used, who);
    return Tree::from_map(std::move(items));
  }
  if (const Json* list = s.find("list")) {
    Tree::List items;
    for (const Json& v : list->as_array(w)) items.push_back(rebuild(v, tensors, used, who));
    return Tree::from_list(std::move(items));
  }
  fail(w, "the manifest has an unknown tree node ", s.dump());
}

std::string describe_leaf(const Tensor& t) {
  std::ostringstream os;
  os << name(t.dtype()) << t.shape();
  return os.str();
}

// The first difference between the file's tree and the model's, as "path: file has ..., model
// has ...", or "" when they match in structure, shapes and dtypes.
std::string first_difference(const Tree& file, const Tree& model, const std::string& path) {
  if (file.is_none() && model.is_none()) return "";
  if (file.is_leaf() && model.is_leaf()) {
    const Tensor &a = file.tensor(), &b = model.tensor();
    if (a.shape() == b.shape() && a.dtype() == b.dtype()) return "";
    return path + ": file has " + describe_leaf(a) + ", model has " + describe_leaf(b);
  }
  if (file.is_map() && model.is_map()) {
    for (const auto& [k, v] : model.items())
      if (!file.items().count(k)) return path + "/" + k + ": missing in the file";
    for (const auto& [k, v] : file.items()) {
      const auto it = model.items().find(k);
      if (it == model.items().end()) return path + "/" + k + ": not in the model";
      const std::string d = first_difference(v, it->second, path + "/" + k);
      if (!d.empty()) return d;
    }
    return "";
  }
  if (file.is_list() && model.is_list() && file.size() == model.size()) {
    for (std::size_t i = 0; i < file.size(); ++i) {
      const std::string d =
          first_difference(file.elements()[i], model.elements()[i], path + "/" + std::to_string(i));
      if (!d.empty()) return d;
    }
    return "";
  }
  std::ostringstream os;
  os << path << ": file has " << file << ", model has " << model;
  return os.str();
}

}  // namespace

void save_states(const std::string& path, const States& states, int epoch) {
  std::vector<std::pair<std::string, Tensor>> leaves;
  Json::Object fields;
  for (const std::string& field : states.fields()) {
    if (field == "rng") continue;
    fields[field] = structure(states[field], field, leaves);
  }
  Json rng;
  if (states.has_rng()) {
    const auto& w = states.rng().key().words();
    rng = Json::array({Json::integer(w[0]), Json::integer(w[1])});
  }
  const Json manifest = Json::object({{"format", Json::string(kFormat)},
                                      {"version", Json::integer(kVersion)},
                                      {"epoch", Json::integer(epoch)},
                                      {"rng", rng},
                                      {"fields", Json::object(std::move(fields))}});
  const std::string text = manifest.dump();
  save_safetensors(path, leaves, {{"elegy_manifest", text}});
  write_file_atomically(path + ".json", text + "\n", "save");
}

Checkpoint load_states(const std::string& path, const States* like) {
  const std::string who = "load '" + path + "'";
  const char* w = who.c_str();
  SafetensorsFile file = load_safetensors(path);
  const auto m = file.metadata.find("elegy_manifest");
  ELEGY_CHECK(m != file.metadata.end(), w,
              "the file has no elegy manifest (not written by Model::save?)");
  const Json manifest = parse_json(m->second, w);
  ELEGY_CHECK(manifest.find("format") && manifest.find("format")->as_string(w) == kFormat, w,
              "unknown checkpoint format");
  const Json* version = manifest.find("version");
  ELEGY_CHECK(version && version->as_int(w) == kVersion, w, "checkpoint version ",
              version ? version->dump() : "?", " (this build reads version ", kVersion, ")");
  std::map<std::string, Tensor> tensors(file.tensors.begin(), file.tensors.end());
  std::set<std::string> used;
  Checkpoint out;
  const Json* fields = manifest.find("fields");
  ELEGY_CHECK(fields, w, "the manifest has no fields");
  for (const auto& [field, s] : fields->as_object(w))
    out.states = out.states.update(field, rebuild(s, tensors, used, who));
  ELEGY_CHECK(used.size() == tensors.size(), w, "the file holds ", tensors.size() - used.size(),
              " tensors the manifest does not name");
  if (const Json* rng = manifest.find("rng"); rng && !rng->is_null()) {
    const auto& words = rng->as_array(w);
    ELEGY_CHECK(words.size() == 2, w, "the rng key must be two words");
    out.states = out.states.update_rng(RngSeq(
        Key::from_words(std::uint32_t(words[0].as_int(w)), std::uint32_t(words[1].as_int(w)))));
  }
  const Json* epoch = manifest.find("epoch");
  out.epoch = epoch ? int(epoch->as_int(w)) : 0;
  if (like) {
    for (const std::string& field : like->fields()) {
      if (field == "rng") continue;
      ELEGY_CHECK(out.states.has(field) || (*like)[field].is_none(), w, "field '", field,
                  "' of the model is not in the file");
      const Tree& mine = (*like)[field];
      const Tree& theirs = out.states.has(field) ? out.states[field] : mine;
      const std::string d = first_difference(theirs, mine, field);
      ELEGY_CHECK(d.empty(), w, "the checkpoint does not fit this model: ", d);
    }
  }
  return out;
}

}  // namespace elegy::io
