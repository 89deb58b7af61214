#pragma once

#include <boost/asio/buffer.hpp>
#include <cstdint>
#include <vector>

namespace weir::http {

// Wraps the body pieces a write gathers (`iov`, body_bytes in all) in chunked framing: the
// chunk-size line in front (formatted into `size_line`, 24 bytes, which must outlive the write),
// the CRLF after, and the last chunk when `done`. Both directions re-frame bodies this way
// (a chunked request streamed upstream, an unknown-length response to an HTTP/1.1 client).
void frame_chunk(std::vector<boost::asio::const_buffer>& iov, char* size_line, uint64_t body_bytes,
                 bool done);

} // namespace weir::http
