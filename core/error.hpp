// elegy::Error and the checks that raise it. Every message starts with the op's name and
// carries the offending values (shapes, dtypes, devices) and what was expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"
#include "elegy/core/shape.hpp"

namespace elegy {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An allocator could not find the memory (after emptying its cache and retrying): what a caller
// may answer by using less (a compiled step falls back to running eagerly).
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

// Throws E("op: " + all parts streamed together).
template <class E, class... Parts>
[[noreturn]] void fail_with(std::string_view op, const Parts&... parts) {
  std::ostringstream os;
  os << op << ": ";
  (os << ... << parts);
  throw E(os.str());
}

template <class... Parts>
[[noreturn]] void fail(std::string_view op, const Parts&... parts) {
  fail_with<Error>(op, parts...);
}

template <class... Parts>
[[noreturn]] void fail_out_of_memory(std::string_view op, const Parts&... parts) {
  fail_with<OutOfMemoryError>(op, parts...);
}

}  // namespace elegy

// ELEGY_CHECK(cond, "matmul", "inner dimensions differ: ", a.shape(), " x ", b.shape());
#define ELEGY_CHECK(cond, op, ...)    \
  do {                                \
    if (!(cond)) [[unlikely]]         \
      ::elegy::fail(op, __VA_ARGS__); \
  } while (0)
