// Stream formatting of the small core value types, the one place error messages get them from.
#include <ostream>

#include "elegy/core/device.hpp"
#include "elegy/core/dtype.hpp"

namespace elegy {

std::ostream& operator<<(std::ostream& os, DType t) {
  return os << name(t);
}

std::ostream& operator<<(std::ostream& os, Device d) {
  if (d.is_cpu()) return os << "cpu";
  if (d.is_meta()) return os << "meta";
  return os << "cuda:" << d.index;
}

}  // namespace elegy
