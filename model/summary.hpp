// The summary table (Elegy 0.7.4's Model.summary, drawn with the same box characters as its rich
// table): one row per module call up to `depth` path components, with output shapes and the
// parameters each module owns; deeper modules' parameters are added to their ancestor's row.
#pragma once

#include <string>
#include <vector>

#include "elegy/model/steps.hpp"

namespace elegy {

// entries: as summary_step returns them. The row with module_type_name "Inputs" comes first,
// "Total" (the totals) is the footer; other rows are modules (path "" is the root, shown "*").
std::string format_summary(const std::vector<SummaryTableEntry>& entries, int depth = 2);

// "942.0 KB": decimal units (B, KB, MB, GB), one decimal, as Elegy's format_size.
std::string format_size(std::int64_t bytes);
// "235,500"
std::string format_count(std::int64_t count);

// Parameter counts of the tensors directly under `path` in `params` (not its submodules').
void count_own_params(const Tree& params, const std::string& path, std::int64_t& count,
                      std::int64_t& bytes);

}  // namespace elegy
