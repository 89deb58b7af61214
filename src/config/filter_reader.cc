#include "filter_reader.h"

namespace weir::config::yaml {

void read_filters(Checker&, const Fields&, Filters&, bool) {}

} // namespace weir::config::yaml
