#pragma once

#include <string>

namespace weir {

// Where a failure came from. Only upstream errors count against a version's error rate.
enum class ErrorSource { downstream, upstream, internal, config };

struct Error {
  ErrorSource source = ErrorSource::internal;
  std::string message;
};

} // namespace weir
