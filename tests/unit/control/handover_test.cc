#include "weir/control/handover.h"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace weir::control::handover {
namespace {

using namespace std::chrono_literals;

struct Pair {
  int a = -1, b = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

ino_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

TEST(Handover, ALongMessageWithMoreDescriptorsThanOneFrameTakesArrivesWhole) {
  Pair p;
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  Message out;
  for (int i = 0; i < 450; ++i)
    out.fds.push_back(i % 2 ? pipe_fds[1] : pipe_fds[0]);
  for (int i = 0; i < 100'000; ++i)
    out.json.push_back(static_cast<char>('a' + i % 26));
  // The sender blocks while the receiver has not read (the socket holds less than the text).
  std::thread sender(
      [&] { EXPECT_TRUE(send(p.a, out, std::chrono::steady_clock::now() + 5s).ok()); });
  auto in = receive(p.b, std::chrono::steady_clock::now() + 5s);
  sender.join();
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->json, out.json);
  ASSERT_EQ(in->fds.size(), 450u);
  for (size_t i = 0; i < in->fds.size(); ++i) {
    EXPECT_EQ(inode_of(in->fds[i]), inode_of(out.fds[i])) << i;
    EXPECT_EQ(::fcntl(in->fds[i], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC) << i;
  }
  close_fds(*in);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

TEST(Handover, TwoMessagesInARowAndAnEmptyOne) {
  Pair p;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  ASSERT_TRUE(send(p.a, {"{\"type\":\"hello\"}", {}}, deadline).ok());
  ASSERT_TRUE(send(p.a, {"", {}}, deadline).ok());
  auto first = receive(p.b, deadline);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->json, "{\"type\":\"hello\"}");
  auto second = receive(p.b, deadline);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->json, "");
}

TEST(Handover, AClosedPeerATimeoutAndAForeignFrameAreSaid) {
  {
    Pair p;
    auto waited = receive(p.b, std::chrono::steady_clock::now() + 50ms);
    ASSERT_FALSE(waited.ok());
    EXPECT_EQ(waited.error().message, "no word from the other weir in time");
    ::close(p.a);
    p.a = -1;
    auto closed = receive(p.b, std::chrono::steady_clock::now() + 5s);
    ASSERT_FALSE(closed.ok());
    EXPECT_EQ(closed.error().message, "the other weir closed the connection");
  }
  {
    Pair p;
    ASSERT_EQ(::send(p.a, "Xjunk", 5, 0), 5); // no frame flag
    auto bad = receive(p.b, std::chrono::steady_clock::now() + 5s);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message, "the other weir sent a malformed frame");
  }
  {
    // A message cut short by the peer going away is dropped, its descriptors closed.
    Pair p;
    int probe[2];
    ASSERT_EQ(::pipe2(probe, O_CLOEXEC), 0);
    char flag = 'C';
    iovec iov{&flag, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &probe[1], sizeof(int));
    ASSERT_EQ(::sendmsg(p.a, &msg, 0), 1);
    ::close(probe[1]);
    ::close(p.a);
    p.a = -1;
    auto cut = receive(p.b, std::chrono::steady_clock::now() + 5s);
    EXPECT_FALSE(cut.ok());
    // The write end's last copy is gone: the read end sees EOF at once.
    char b;
    EXPECT_EQ(::read(probe[0], &b, 1), 0);
    ::close(probe[0]);
  }
}

} // namespace
} // namespace weir::control::handover
