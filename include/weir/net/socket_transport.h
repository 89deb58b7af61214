#pragma once

#include "weir/net/transport.h"

#include <boost/system/error_code.hpp>

namespace weir::net {

// A Transport over a TCP socket of the worker's: what the engine needs beyond the byte stream,
// to take over an accepted socket and to judge whether a pooled upstream connection is clean.
// EpollTransport (the worker's Poller) and UringTransport (the worker's Ring) are the two.
class SocketTransport : public Transport {
public:
  // Takes a connected, non-blocking socket (an accepted one) and owns it from now on; false
  // (ec says why) leaves it with the caller.
  virtual bool adopt(int fd, boost::system::error_code& ec) = 0;
  // quiet(), and sure of it even for bytes that arrived within the current turn of the loop
  // (may ask the kernel). For re-using an idle connection for a request that could not be
  // replayed on a fresh one.
  virtual bool quiet_now() = 0;

protected:
  ~SocketTransport() = default;
};

} // namespace weir::net
