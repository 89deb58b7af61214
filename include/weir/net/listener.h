#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"

#include <cstdint>

namespace weir::net {

// A bound, listening, non-blocking TCP socket with SO_REUSEPORT (one per worker and listener,
// so the kernel spreads connections across workers without a shared accept queue).
struct ListenSocket {
  int fd = -1;
  uint16_t port = 0; // the port actually bound (useful with port 0)
};

// Control thread. backlog: listen(2) queue length. `first`: the first socket of an address this
// process opens. SO_REUSEPORT would let any process of the same user join the address and take a
// share of its connections — a second weir with another config and other live weights — so the
// first socket proves nobody else listens there (see open_listener) and is refused otherwise.
Result<ListenSocket> open_listener(const config::Address& address, bool first, int backlog = 4096);

} // namespace weir::net
