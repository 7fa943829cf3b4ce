// Module: scopes, summaries and default names.
#include "elegy/model/nn/module.hpp"

#include <cxxabi.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include "elegy/core/error.hpp"

namespace elegy::nn {

Tensor Module::call(Context& ctx, const Tensor&) {
  fail(type_name().c_str(), "at '", ctx.path().empty() ? "*" : ctx.path(),
       "' does not take a single tensor: override call(Context&, const Tensor&) or "
       "call_tree(Context&, const Tree&)");
}

Tree Module::call_tree(Context& ctx, const Tree& x) {
  ELEGY_CHECK(x.is_leaf(), type_name().c_str(), "takes one tensor but was given a tree (", x,
              "): override call_tree(Context&, const Tree&) to take several inputs");
  return call(ctx, x.tensor());
}

Tensor Module::operator()(Context& ctx, const Tensor& x) {
  return scoped(ctx, [&] { return call(ctx, x); });
}

Tree Module::operator()(Context& ctx, const Tree& x) {
  return scoped(ctx, [&] { return call_tree(ctx, x); });
}

Tree Module::call_root(Context& ctx, const Tree& x) {
  Tree out = call_tree(ctx, x);
  ctx.add_summary(type_name(), out);
  return out;
}

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string full = status == 0 && demangled ? demangled.get() : mangled;
  // Drop template arguments, then namespaces and enclosing classes: "elegy::nn::Linear".
  if (const auto lt = full.find('<'); lt != std::string::npos) full.resize(lt);
  if (const auto colon = full.rfind("::"); colon != std::string::npos)
    full = full.substr(colon + 2);
  return full;
}

std::string Module::scope_name() const {
  return name_.empty() ? snake_case(type_name()) : name_;
}

std::string snake_case(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isupper(c) && i > 0) {
      const unsigned char prev = static_cast<unsigned char>(s[i - 1]);
      const bool next_lower =
          i + 1 < s.size() && std::islower(static_cast<unsigned char>(s[i + 1]));
      if (std::islower(prev) || std::isdigit(prev) || (std::isupper(prev) && next_lower))
        out += '_';
    }
    out += char(std::tolower(c));
  }
  return out;
}

}  // namespace elegy::nn
