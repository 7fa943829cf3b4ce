#include "elegy/model/losses/label_checks.hpp"

#include <string>

#include "elegy/autodiff/deferred_checks.hpp"
#include "elegy/autodiff/ops_elementwise.hpp"
#include "elegy/autodiff/ops_reduce.hpp"
#include "elegy/core/error.hpp"

namespace elegy::losses {

void check_integral_labels(const char* who, const Tensor& y_true, const Tensor& labels,
                           const char* hint) {
  if (labels.numel() == 0) return;
  const Tensor x = labels.detached();
  // A cast to int64 truncates: whole numbers survive the round trip, fractions and NaN do not.
  const Tensor fractional = x != x.astype(DType::i64).astype(x.dtype());
  check_later(
      sum(fractional.astype(DType::i64)),
      // y_true is described only when the check fails: not a string built every step.
      [who, y_true = y_true.detached(),
       hint = std::string(hint)](std::span<const std::int64_t> count) {
        if (count[0] == 0) return;
        fail(who, "y_true ", describe(y_true), " holds ", count[0], " non-integer value",
             count[0] == 1 ? "" : "s", ": ", hint);
      },
      who);
}

}  // namespace elegy::losses
