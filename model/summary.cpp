// Summary table rendering: plain text with box-drawing characters, no colours (the table goes
// to logs as often as to terminals).
#include "elegy/model/summary.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace elegy {
namespace {

// Display width of UTF-8 text (every character here is one column wide).
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string pad_right(const std::string& s, std::size_t w) {
  return s + std::string(w > width(s) ? w - width(s) : 0, ' ');
}
std::string pad_left(const std::string& s, std::size_t w) {
  return std::string(w > width(s) ? w - width(s) : 0, ' ') + s;
}

std::string repeat(const char* s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string shape_text(const Tensor& t) {
  std::ostringstream os;
  os << '(';
  for (int i = 0; i < t.ndim(); ++i) os << (i ? ", " : "") << t.shape()[i];
  if (t.ndim() == 1) os << ',';  // Python's one-element tuple
  os << ')';
  return os.str();
}

// One line per leaf: (shape, dtype, key prefix for map outputs).
struct OutputLine {
  std::string key;
  std::string shape;
  std::string dtype;
};

void output_lines(const Tree& t, const std::string& prefix, std::vector<OutputLine>& out) {
  if (t.is_leaf()) {
    out.push_back({prefix, shape_text(t.tensor()), std::string(name(t.tensor().dtype()))});
  } else if (t.is_map()) {
    for (const auto& [k, v] : t.items())
      output_lines(v, prefix.empty() ? k : prefix + "/" + k, out);
  } else if (t.is_list()) {
    for (std::size_t i = 0; i < t.size(); ++i)
      output_lines(t.elements()[i], prefix + (prefix.empty() ? "" : "/") + std::to_string(i), out);
  }
}

struct Row {
  std::vector<std::string> cells[4];  // lines per column
};

}  // namespace

std::string format_count(std::int64_t count) {
  std::string digits = std::to_string(count < 0 ? -count : count);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return count < 0 ? "-" + out : out;
}

std::string format_size(std::int64_t bytes) {
  const double b = double(bytes);
  const char* unit = "B";
  double v = b;
  if (b > 1e9) {
    v = b / 1e9, unit = "GB";
  } else if (b > 1e6) {
    v = b / 1e6, unit = "MB";
  } else if (b > 1e3) {
    v = b / 1e3, unit = "KB";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  return buf;
}

void count_own_params(const Tree& params, const std::string& path, std::int64_t& count,
                      std::int64_t& bytes) {
  const Tree* node = &params;
  for (const std::string& part : split_path(path)) {
    if (!node->is_map()) return;
    const auto it = node->items().find(part);
    if (it == node->items().end()) return;
    node = &it->second;
  }
  if (node->is_leaf()) {
    count += node->tensor().numel();
    bytes += std::int64_t(node->tensor().nbytes());
    return;
  }
  if (!node->is_map()) return;
  for (const auto& [k, v] : node->items()) {
    if (!v.is_leaf()) continue;  // a submodule's scope: its own row counts it
    count += v.tensor().numel();
    bytes += std::int64_t(v.tensor().nbytes());
  }
}

std::string format_summary(const std::vector<SummaryTableEntry>& entries, int depth) {
  // Group rows: modules deeper than `depth` fold their counts into their ancestor at `depth`.
  std::vector<SummaryTableEntry> rows;
  SummaryTableEntry totals;
  bool has_totals = false;
  std::vector<SummaryTableEntry> folded;
  for (const SummaryTableEntry& e : entries) {
    if (e.module_type_name == "Total" && e.path.empty()) {
      totals = e, has_totals = true;
      continue;
    }
    const auto parts = split_path(e.path);
    if (e.module_type_name != "Inputs" && int(parts.size()) > depth) {
      folded.push_back(e);
      continue;
    }
    rows.push_back(e);
  }
  for (const SummaryTableEntry& f : folded) {
    const auto parts = split_path(f.path);
    std::string ancestor;
    for (int i = 0; i < depth; ++i) ancestor += (i ? "/" : "") + parts[std::size_t(i)];
    for (SummaryTableEntry& r : rows) {
      if (r.module_type_name == "Inputs" || r.path != ancestor) continue;
      r.trainable_params_count += f.trainable_params_count;
      r.trainable_params_size += f.trainable_params_size;
      r.non_trainable_params_count += f.non_trainable_params_count;
      r.non_trainable_params_size += f.non_trainable_params_size;
      break;
    }
  }

  // Output column: shapes padded to one width so the dtypes line up.
  std::vector<std::vector<OutputLine>> outputs;
  std::size_t shape_w = 0, count_w = 0;
  for (const SummaryTableEntry& r : rows) {
    std::vector<OutputLine> lines;
    output_lines(r.output_value, "", lines);
    for (const OutputLine& l : lines)
      shape_w = std::max(shape_w, width(l.key.empty() ? l.shape : l.key + ": " + l.shape));
    outputs.push_back(std::move(lines));
    count_w = std::max({count_w, format_count(r.trainable_params_count).size(),
                        format_count(r.non_trainable_params_count).size()});
  }
  if (has_totals)
    count_w = std::max({count_w, format_count(totals.trainable_params_count).size(),
                        format_count(totals.non_trainable_params_count).size()});
  auto params_cell = [&](std::int64_t count, std::int64_t bytes) -> std::string {
    if (count == 0) return "";
    return pad_right(format_count(count), count_w + 4) + format_size(bytes);
  };

  std::vector<Row> body;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SummaryTableEntry& r = rows[i];
    Row row;
    if (r.module_type_name == "Inputs") {
      row.cells[0] = {"Inputs"};
    } else {
      const std::string path = r.path.empty() ? "*" : r.path;
      row.cells[0] = {r.module_type_name.empty() ? path : path + "  " + r.module_type_name};
    }
    for (const OutputLine& l : outputs[i])
      row.cells[1].push_back(pad_right(l.key.empty() ? l.shape : l.key + ": " + l.shape, shape_w) +
                             "  " + l.dtype);
    if (row.cells[1].empty()) row.cells[1] = {""};
    row.cells[2] = {params_cell(r.trainable_params_count, r.trainable_params_size)};
    row.cells[3] = {params_cell(r.non_trainable_params_count, r.non_trainable_params_size)};
    body.push_back(std::move(row));
  }
  // Layer names pad to a common width so the type names line up.
  std::size_t name_w = 0;
  for (const SummaryTableEntry& r : rows)
    if (r.module_type_name != "Inputs")
      name_w = std::max(name_w, width(r.path.empty() ? "*" : r.path));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SummaryTableEntry& r = rows[i];
    if (r.module_type_name == "Inputs" || r.module_type_name.empty()) continue;
    body[i].cells[0] = {pad_right(r.path.empty() ? "*" : r.path, name_w) + "  " +
                        r.module_type_name};
  }

  Row header;
  header.cells[0] = {"Layer", ""};
  header.cells[1] = {"Outputs Shape", ""};
  header.cells[2] = {"Trainable", "Parameters"};
  header.cells[3] = {"Non-trainable", "Parameters"};
  Row footer;
  footer.cells[0] = {""};
  footer.cells[1] = {"Total"};
  footer.cells[2] = {params_cell(totals.trainable_params_count, totals.trainable_params_size)};
  footer.cells[3] = {
      params_cell(totals.non_trainable_params_count, totals.non_trainable_params_size)};

  std::size_t w[4] = {0, 0, 0, 0};
  auto measure = [&](const Row& row) {
    for (int c = 0; c < 4; ++c)
      for (const std::string& line : row.cells[c]) w[c] = std::max(w[c], width(line));
  };
  measure(header);
  for (const Row& row : body) measure(row);
  if (has_totals) measure(footer);

  std::ostringstream os;
  auto rule = [&](const char* left, const char* fill, const char* mid, const char* right) {
    os << left;
    for (int c = 0; c < 4; ++c) os << repeat(fill, w[c] + 2) << (c < 3 ? mid : right);
    os << '\n';
  };
  auto print_row = [&](const Row& row, const char* bar, bool right_align_col1) {
    std::size_t lines = 0;
    for (const auto& cell : row.cells) lines = std::max(lines, cell.size());
    for (std::size_t l = 0; l < lines; ++l) {
      os << bar;
      for (int c = 0; c < 4; ++c) {
        const std::string text = l < row.cells[c].size() ? row.cells[c][l] : "";
        os << ' ' << (c == 1 && right_align_col1 ? pad_left(text, w[c]) : pad_right(text, w[c]))
           << ' ' << bar;
      }
      os << '\n';
    }
  };
  os << '\n';
  rule("┏", "━", "┳", "┓");
  print_row(header, "┃", false);
  rule("┡", "━", "╇", "┩");
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (i > 0) rule("├", "─", "┼", "┤");
    print_row(body[i], "│", false);
  }
  if (has_totals) {
    rule("├", "─", "┼", "┤");
    print_row(footer, "│", true);
  }
  rule("└", "─", "┴", "┘");

  if (has_totals) {
    const std::int64_t total_count =
        totals.trainable_params_count + totals.non_trainable_params_count;
    const std::int64_t total_bytes =
        totals.trainable_params_size + totals.non_trainable_params_size;
    std::vector<std::string> caption = {"Total Parameters: " + format_count(total_count) + "   " +
                                        format_size(total_bytes)};
    if (totals.non_trainable_params_count > 0) {
      caption.push_back("Trainable Parameters: " + format_count(totals.trainable_params_count) +
                        "   " + format_size(totals.trainable_params_size));
      caption.push_back(
          "Non-trainable Parameters: " + format_count(totals.non_trainable_params_count) + "   " +
          format_size(totals.non_trainable_params_size));
    }
    const std::size_t table_w = w[0] + w[1] + w[2] + w[3] + 13;
    os << '\n';
    for (const std::string& line : caption)
      os << std::string(table_w > line.size() ? (table_w - line.size()) / 2 : 0, ' ') << line
         << '\n';
  }
  return os.str();
}

}  // namespace elegy
