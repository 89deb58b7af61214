#pragma once

#include "weir/http/parser.h"

#include <boost/asio/buffer.hpp>
#include <memory>
#include <string>
#include <vector>

namespace weir::runtime {

// The memory one in-flight exchange needs: read buffers and parsers for both sides, the
// rewritten heads and the gather lists. Lent by the worker's StreamPool to a client connection
// while it has a request in flight and given back when the connection goes idle, so an idle
// keep-alive connection costs a socket and a small struct only.
struct Stream {
  Stream(size_t buffer_size, const http::ParserLimits& request_limits,
         const http::ParserLimits& response_limits);

  size_t capacity;
  std::unique_ptr<char[]> in; // client → proxy bytes
  size_t in_len = 0;          // filled
  size_t in_pos = 0;          // consumed by the parser
  std::unique_ptr<char[]> up; // upstream → proxy bytes
  size_t up_len = 0;
  size_t up_pos = 0;
  http::Parser request;
  http::Parser response;
  std::string request_out;  // rewritten request head (+ chunk framing)
  std::string response_out; // rewritten response head, or a local response
  // The request's method and target for the access log, copied at the head: the read buffer is
  // reused for body bytes, so views into it would log whatever the body put there.
  std::string logged_method;
  std::string logged_target;
  std::vector<boost::asio::const_buffer> request_iov;
  std::vector<boost::asio::const_buffer> response_iov;
  char request_chunk[24];
  char response_chunk[24];
  Stream* next_free = nullptr;
};

// Free list of Streams, one per worker. Worker thread only.
class StreamPool {
public:
  StreamPool(size_t buffer_size, http::ParserLimits request_limits,
             http::ParserLimits response_limits, size_t max_free);
  ~StreamPool();
  Stream* acquire();
  void release(Stream* s);
  // Limits apply to streams handed out from now on (a reload changed them).
  void reconfigure(size_t buffer_size, http::ParserLimits request_limits,
                   http::ParserLimits response_limits);

private:
  size_t buffer_size_;
  http::ParserLimits request_limits_;
  http::ParserLimits response_limits_;
  size_t max_free_;
  Stream* free_ = nullptr;
  size_t free_count_ = 0;
};

} // namespace weir::runtime
