// CSVLogger (Keras): one row per epoch, "epoch" then the log names in sorted order; appends to
// an existing file when asked (writing the header only into an empty file). A log missing in a
// later epoch is written "NA".
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "elegy/model/callbacks/callback.hpp"

namespace elegy::callbacks {

class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
  void on_train_begin(Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(Logs& logs) override;

 private:
  std::string filename_;
  char separator_;
  bool append_;
  std::shared_ptr<std::FILE> file_;
  std::vector<std::string> keys_;
};

}  // namespace elegy::callbacks
