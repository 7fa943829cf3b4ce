#include "elegy/model/callbacks/csv_logger.hpp"

#include <cerrno>
#include <cstring>

#include "elegy/core/error.hpp"

namespace elegy::callbacks {

CSVLogger::CSVLogger(std::string filename, char separator, bool append)
    : filename_(std::move(filename)), separator_(separator), append_(append) {}

void CSVLogger::on_train_begin(Logs&) {
  std::FILE* f = std::fopen(filename_.c_str(), append_ ? "a" : "w");
  ELEGY_CHECK(f != nullptr, "CSVLogger", "cannot open '", filename_, "': ", std::strerror(errno));
  file_.reset(f, [](std::FILE* p) { std::fclose(p); });
  keys_.clear();
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  if (!file_) return;
  if (keys_.empty()) {
    for (const auto& [k, v] : logs) keys_.push_back(k);  // Logs is sorted by name
    // The header goes only into an empty file (a fresh one, or an appended one not yet written).
    if (std::ftell(file_.get()) == 0) {
      std::fprintf(file_.get(), "epoch");
      for (const std::string& k : keys_) std::fprintf(file_.get(), "%c%s", separator_, k.c_str());
      std::fprintf(file_.get(), "\n");
    }
  }
  std::fprintf(file_.get(), "%d", epoch);
  for (const std::string& k : keys_) {
    const auto it = logs.find(k);
    if (it == logs.end())
      std::fprintf(file_.get(), "%cNA", separator_);
    else
      std::fprintf(file_.get(), "%c%.9g", separator_, double(it->second));
  }
  std::fprintf(file_.get(), "\n");
  std::fflush(file_.get());
}

void CSVLogger::on_train_end(Logs&) {
  file_.reset();
}

}  // namespace elegy::callbacks
