// libFuzzer harness for data::parse_npz (zip, zip64, stored and deflated NPY members): every
// input is a map of tensors or an elegy::Error.
#include <elegy/model/data/readers.hpp>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return elegy::fuzz::run_parser(data, size, [](const std::string& bytes) {
    const auto arrays = elegy::data::parse_npz(bytes, "fuzz");
    // Deflate expands at most 1032:1, so neither can the members.
    std::size_t total = 0;
    for (const auto& [name, t] : arrays) total += t.nbytes();
    elegy::fuzz::require(total <= (bytes.size() + 1) * 1032);
  });
}
