#include "weir/mirror/tap.h"

#include <gtest/gtest.h>

namespace weir::mirror {
namespace {

TEST(MirrorRequestHead, ReframesForTheCopiedBody) {
  const std::string head = "POST /orders?x=1 HTTP/1.1\r\nHost: shop.example\r\n"
                           "Transfer-Encoding: chunked\r\nX-Request-Id: abc\r\n"
                           "Connection: keep-alive\r\n\r\n";
  EXPECT_EQ(mirror_request_head(head, 11),
            "POST /orders?x=1 HTTP/1.1\r\nHost: shop.example\r\nX-Request-Id: abc\r\n"
            "x-weir-mirror: 1\r\nContent-Length: 11\r\n\r\n");
}

TEST(MirrorRequestHead, NoBodyNoLength) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n"
                           "X-Weir-Mirror: spoofed\r\n\r\n";
  EXPECT_EQ(mirror_request_head(head, 0), "GET / HTTP/1.1\r\nHost: a\r\nx-weir-mirror: 1\r\n\r\n");
}

} // namespace
} // namespace weir::mirror
