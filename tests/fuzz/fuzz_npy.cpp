// libFuzzer harness for data::parse_npy: every input is a tensor or an elegy::Error.
#include <elegy/model/data/readers.hpp>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return elegy::fuzz::run_parser(data, size, [](const std::string& bytes) {
    const elegy::Tensor t = elegy::data::parse_npy(bytes, "fuzz");
    // NPY stores the elements verbatim after the header, so they cannot outgrow the file.
    elegy::fuzz::require(t.nbytes() <= bytes.size());
  });
}
