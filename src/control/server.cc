#include "weir/control/server.h"

#include "weir/base/log.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace weir::control {

namespace asio = boost::asio;
using boost::system::error_code;
using local = asio::local::stream_protocol;

namespace {

bool valid_utf8_text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t') return false; // control bytes: binary input, not a command
    if (c == 0x7f) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0xc0) != 0x80) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

} // namespace

class Server::Session : public Responder, public std::enable_shared_from_this<Session> {
public:
  Session(local::socket socket, const CommandTable& commands, std::chrono::milliseconds idle)
      : socket_(std::move(socket)), commands_(commands), idle_(idle),
        timer_(socket_.get_executor()) {}

  void start() {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      peer_ = "uid " + std::to_string(cred.uid) + ", pid " + std::to_string(cred.pid);
    arm_idle();
    read();
  }

  void reply(std::string line) override {
    if (closed_) return;
    busy_ = false;
    send(std::move(line));
    if (close_after_reply_) return;
    arm_idle();
    process_buffer();
  }

  void stream(std::string line) override {
    if (closed_) return;
    streaming_ = true;
    timer_.cancel();
    // A watcher that does not read must not make weir buffer without bound.
    if (queue_.size() > 64) return close();
    send(std::move(line));
    if (!reading_) read(); // notices the client going away
  }

  bool open() const override { return !closed_; }

  std::string peer() const override {
    // The kernel's word for who connected (SO_PEERCRED), read once at accept.
    return peer_;
  }

private:
  void send(std::string line) {
    line.push_back('\n');
    queue_.push_back(std::move(line));
    if (!writing_) write_next();
  }

  void write_next() {
    if (queue_.empty() || closed_) {
      if (queue_.empty() && close_after_reply_) close();
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(queue_.front()),
                      [self = shared_from_this()](const error_code& ec, size_t) {
                        self->writing_ = false;
                        if (ec) return self->close();
                        self->queue_.pop_front();
                        self->write_next();
                        // A client that stopped reading made us stop taking its commands;
                        // once its replies are out, go on.
                        if (self->paused_ && self->queue_.empty()) {
                          self->paused_ = false;
                          self->process_buffer();
                        }
                      });
  }

  void read() {
    if (closed_ || reading_) return;
    reading_ = true;
    asio::async_read_until(
        socket_, asio::dynamic_buffer(buffer_, kMaxLine + 1), '\n',
        [self = shared_from_this()](const error_code& ec, size_t) {
          self->reading_ = false;
          if (ec == asio::error::not_found) {
            self->close_after_reply_ = true;
            self->send(error_reply("command line longer than 65536 bytes"));
            return;
          }
          if (ec) return self->close();
          if (self->streaming_) {
            self->buffer_.clear(); // a watcher's input is ignored; EOF ends the stream
            return self->read();
          }
          self->process_buffer();
        });
  }

  void process_buffer() {
    if (busy_ || closed_ || streaming_) return;
    // Replies this client has not read yet bound what it may ask next: weir never queues
    // without limit for a client that only writes.
    if (queue_.size() >= kMaxQueuedReplies) {
      paused_ = true;
      return;
    }
    size_t nl = buffer_.find('\n');
    if (nl == std::string::npos) return read();
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!valid_utf8_text(line)) {
      send(error_reply("the command is not UTF-8 text"));
      return process_buffer();
    }
    busy_ = true;
    timer_.cancel();
    commands_.dispatch(line, shared_from_this());
  }

  void arm_idle() {
    if (streaming_ || closed_) return;
    timer_.expires_after(idle_);
    timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && !self->busy_) self->close();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ignored;
    socket_.close(ignored);
  }

  local::socket socket_;
  const CommandTable& commands_;
  std::chrono::milliseconds idle_;
  asio::steady_timer timer_;
  std::string buffer_;
  std::string peer_; // "uid U, pid P" of the client
  std::deque<std::string> queue_;
  bool reading_ = false;
  bool writing_ = false;
  bool busy_ = false;   // a command is running; the next line waits for its reply
  bool paused_ = false; // too many unread replies: no more commands until they are written
  static constexpr size_t kMaxQueuedReplies = 16;
  bool streaming_ = false;
  bool close_after_reply_ = false;
  bool closed_ = false;
};

Server::Server(asio::io_context& io, const CommandTable& commands,
               std::chrono::milliseconds idle_timeout)
    : io_(io), commands_(commands), idle_timeout_(idle_timeout), acceptor_(io) {}

Server::~Server() {
  close();
}

Result<bool> Server::open(const config::Control& control) {
  const std::string& path = control.socket;
  auto fail = [&](const std::string& what) {
    return Error{ErrorSource::config, "control socket " + path + ": " + what};
  };
  // Parent directory (e.g. /run/weir) is created if missing.
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) {
    std::string partial;
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i == dir.size() || dir[i] == '/') {
        partial = dir.substr(0, i);
        if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
          return fail("cannot create directory " + partial + ": " + std::strerror(errno));
      }
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail("exists and is not a socket");
    // Someone answering there means another weir runs with this socket.
    local::socket probe(io_);
    error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec) return fail("another running weir is listening on it");
    ::unlink(path.c_str()); // stale: its process is gone
  }
  gid_t gid = static_cast<gid_t>(-1);
  if (!control.group.empty()) {
    struct group* g = ::getgrnam(control.group.c_str());
    if (!g) return fail("unknown group " + control.group);
    gid = g->gr_gid;
  }
  error_code ec;
  acceptor_.open(local(), ec);
  if (ec) return fail(ec.message());
  // The file is created by bind() with the umask applied: make it private from the first
  // instant, then open it up to the configured mode.
  mode_t old = ::umask(0177);
  acceptor_.bind(local::endpoint(path), ec);
  ::umask(old);
  if (ec) {
    acceptor_.close();
    return fail(ec.message());
  }
  if (gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0)
    return fail(std::string("chown: ") + std::strerror(errno));
  if (::chmod(path.c_str(), static_cast<mode_t>(control.mode)) != 0)
    return fail(std::string("chmod: ") + std::strerror(errno));
  acceptor_.listen(64, ec);
  if (ec) return fail(ec.message());
  path_ = path;
  accept();
  return true;
}

Result<bool> Server::adopt(const config::Control& control, int fd) {
  error_code ec;
  acceptor_.assign(local(), fd, ec);
  if (ec) {
    ::close(fd);
    return Error{ErrorSource::config,
                 "control socket " + control.socket + " (handed over): " + ec.message()};
  }
  path_ = control.socket;
  return true;
}

int Server::native_handle() {
  return acceptor_.is_open() ? acceptor_.native_handle() : -1;
}

void Server::close_keeping_file() {
  path_.clear();
  close();
}

void Server::accept() {
  acceptor_.async_accept([this](const error_code& ec, local::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), commands_, idle_timeout_)->start();
    accept();
  });
}

void Server::close() {
  if (!acceptor_.is_open()) return;
  error_code ignored;
  acceptor_.close(ignored);
  if (!path_.empty()) ::unlink(path_.c_str());
}

} // namespace weir::control
