// libFuzzer harness for IDX files as read_idx reads them: gunzip_if_gzip (plain bytes pass
// through, gzip ones are inflated), then data::parse_idx. Every input is a tensor or an
// elegy::Error.
#include <elegy/model/data/readers.hpp>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return elegy::fuzz::run_parser(data, size, [](const std::string& bytes) {
    const std::string idx = elegy::data::gunzip_if_gzip(bytes, "fuzz");
    const elegy::Tensor t = elegy::data::parse_idx(idx, "fuzz");
    // Elements widen at most 4x (int8 and int16 are read as int32).
    elegy::fuzz::require(t.nbytes() <= 4 * idx.size());
  });
}
