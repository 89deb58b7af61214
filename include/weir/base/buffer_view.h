#pragma once

#include <boost/asio/buffer.hpp>
#include <vector>

namespace weir {

// A gather list passed to async_write without copying it: Asio copies its buffer sequence
// argument, which for a std::vector means one heap allocation per write. The vector must stay
// unchanged until the write completes (it lives in the connection's Stream).
class BufferView {
public:
  explicit BufferView(const std::vector<boost::asio::const_buffer>& v)
      : begin_(v.data()), end_(v.data() + v.size()) {}
  // `count` buffers from `first` (one kept in a member, say), unchanged until the write is done.
  BufferView(const boost::asio::const_buffer* first, size_t count)
      : begin_(first), end_(first + count) {}
  const boost::asio::const_buffer* begin() const { return begin_; }
  const boost::asio::const_buffer* end() const { return end_; }

private:
  const boost::asio::const_buffer* begin_;
  const boost::asio::const_buffer* end_;
};

} // namespace weir
