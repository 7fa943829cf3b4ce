#include "elegy/core/step_observer.hpp"

namespace elegy {

StepObserver*& step_observer() {
  static thread_local StepObserver* observer = nullptr;
  return observer;
}

}  // namespace elegy
