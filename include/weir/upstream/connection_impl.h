#pragma once

#include "weir/upstream/connection.h"

#include <boost/asio/write.hpp>

namespace weir::upstream {

template <typename Buffers> void Connection::write(const Buffers& buffers) {
  ++pending_;
  boost::asio::async_write(socket_, buffers,
                           [this](const boost::system::error_code& ec, std::size_t) {
                             ConnectionOwner* owner = owner_;
                             bool closed = closed_;
                             finish_op();
                             if (!closed && owner) owner->on_upstream_written(ec);
                           });
}

} // namespace weir::upstream
