#include <ostream>

#include "elegy/core/tensor.hpp"

namespace elegy {

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << describe(t); }

}  // namespace elegy
