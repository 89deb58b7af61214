#include "weir/runtime/stream.h"

namespace weir::runtime {

Stream::Stream(size_t buffer_size, const http::ParserLimits& request_limits,
               const http::ParserLimits& response_limits)
    : capacity(buffer_size), in(new char[buffer_size]), up(new char[buffer_size]),
      request(http::Parser::Kind::request, request_limits),
      response(http::Parser::Kind::response, response_limits) {
  request_out.reserve(2048);
  response_out.reserve(2048);
  request_iov.reserve(16);
  response_iov.reserve(16);
}

StreamPool::StreamPool(size_t buffer_size, http::ParserLimits request_limits,
                       http::ParserLimits response_limits, size_t max_free)
    : buffer_size_(buffer_size), request_limits_(request_limits), response_limits_(response_limits),
      max_free_(max_free) {}

StreamPool::~StreamPool() {
  while (Stream* s = free_) {
    free_ = s->next_free;
    delete s;
  }
}

Stream* StreamPool::acquire() {
  Stream* s = free_;
  if (s) {
    free_ = s->next_free;
    --free_count_;
    s->next_free = nullptr;
  } else {
    s = new Stream(buffer_size_, request_limits_, response_limits_);
  }
  s->in_len = s->in_pos = s->up_len = s->up_pos = 0;
  s->request.start_connection();
  s->response.start_connection();
  return s;
}

void StreamPool::release(Stream* s) {
  if (free_count_ >= max_free_ || s->capacity != buffer_size_) {
    delete s;
    return;
  }
  s->next_free = free_;
  free_ = s;
  ++free_count_;
}

void StreamPool::reconfigure(size_t buffer_size, http::ParserLimits request_limits,
                             http::ParserLimits response_limits) {
  buffer_size_ = buffer_size;
  request_limits_ = request_limits;
  response_limits_ = response_limits;
  while (Stream* s = free_) {
    free_ = s->next_free;
    delete s;
  }
  free_count_ = 0;
}

} // namespace weir::runtime
