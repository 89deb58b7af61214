#include "weir/http/chunk_framing.h"

#include <charconv>
#include <string_view>

namespace weir::http {

namespace {
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
} // namespace

void frame_chunk(std::vector<boost::asio::const_buffer>& iov, char* size_line, uint64_t body_bytes,
                 bool done) {
  if (body_bytes > 0) {
    auto r = std::to_chars(size_line, size_line + 16, body_bytes, 16);
    r.ptr[0] = '\r';
    r.ptr[1] = '\n';
    iov.insert(iov.begin(), boost::asio::const_buffer(size_line, r.ptr + 2 - size_line));
    iov.emplace_back(kCrlf.data(), kCrlf.size());
  }
  if (done) iov.emplace_back(kLastChunk.data(), kLastChunk.size());
}

} // namespace weir::http
