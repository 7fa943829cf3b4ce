#include "elegy/model/callbacks/tensorboard.hpp"

#include <unistd.h>

#include <ctime>

#include "elegy/model/io/tensorboard.hpp"

namespace elegy::callbacks {
namespace {

std::string default_logdir() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d_%H-%M-%S", &tm);
  return std::string("runs/") + stamp + "_" + host;
}

}  // namespace

TensorBoard::TensorBoard(std::string logdir, TensorBoardOptions options)
    : logdir_(logdir.empty() ? default_logdir() : std::move(logdir)), options_(options) {}

TensorBoard::~TensorBoard() = default;

void TensorBoard::on_train_begin(Logs&) {
  if (!train_) train_ = std::make_shared<io::SummaryWriter>(logdir_ + "/train");
  if (!validation_) validation_ = std::make_shared<io::SummaryWriter>(logdir_ + "/validation");
  global_batch_ = 0;
}

void TensorBoard::on_train_batch_end(std::int64_t, Logs& logs) {
  ++global_batch_;
  if (options_.update_freq <= 0 || global_batch_ % options_.update_freq != 0 || !train_) return;
  for (const auto& [name, value] : logs) train_->add_scalar("batch_" + name, value, global_batch_);
}

void TensorBoard::on_epoch_end(int epoch, Logs& logs) {
  if (!train_) return;
  for (const auto& [name, value] : logs) {
    if (name.rfind("val_", 0) == 0)
      validation_->add_scalar(name.substr(4), value, epoch);
    else
      train_->add_scalar(name, value, epoch);
  }
  train_->flush();
  validation_->flush();
}

void TensorBoard::on_train_end(Logs&) {
  if (train_) train_->flush();
  if (validation_) validation_->flush();
}

}  // namespace elegy::callbacks
