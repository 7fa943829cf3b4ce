// libFuzzer harness for data::parse_csv. The first input byte picks the options (delimiter,
// header, dtype) so that every combination is fuzzed; the rest is the text. Every input is a
// table or an elegy::Error.
#include <array>

#include <elegy/model/data/readers.hpp>

#include "fuzz_harness.hpp"

namespace {

// Byte 0: bits 0-2 the delimiter, bit 3 the header flag, bits 4-7 the dtype (modulo 6).
elegy::data::CsvOptions options_from(unsigned char byte) {
  static constexpr std::array<char, 8> delimiters = {',', ';', '\t', ' ', '|', ':', '"', '\n'};
  static constexpr std::array<elegy::DType, 6> dtypes = {elegy::DType::f32, elegy::DType::f64,
                                                         elegy::DType::i32, elegy::DType::i64,
                                                         elegy::DType::u8,  elegy::DType::bool_};
  return {.delimiter = delimiters[byte & 7],
          .header = (byte & 8) != 0,
          .dtype = dtypes[(byte >> 4) % dtypes.size()]};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  return elegy::fuzz::run_parser(data + 1, size - 1, [&](const std::string& text) {
    const elegy::data::CsvTable table = elegy::data::parse_csv(text, "fuzz", options_from(data[0]));
    // Every value comes from a cell of at least one character, and each column has a name.
    elegy::fuzz::require(table.values.ndim() == 2);
    elegy::fuzz::require(std::size_t(table.values.numel()) <= text.size());
    elegy::fuzz::require(std::int64_t(table.columns.size()) == table.values.shape()[1]);
  });
}
