#include "weir/control/takeover.h"

#include "weir/base/build_id.h"
#include "weir/base/json.h"
#include "weir/config/address.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace weir::control {

namespace {

using SteadyClock = std::chrono::steady_clock;

int dup_fd(int fd) {
  return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

} // namespace

Result<handover::Message> make_offer(const Listening& listening, const std::string& state) {
  handover::Message m;
  auto cannot = [&](const std::string& what) -> Result<handover::Message> {
    Error e{ErrorSource::internal, "cannot hand over " + what + ": " + std::strerror(errno)};
    handover::close_fds(m);
    return e;
  };
  json::Writer w;
  w.begin_object().key("type").value("handover").key("protocol").value(handover::kProtocol);
  w.key("pid").value(static_cast<int64_t>(::getpid()));
  w.key("listeners").begin_array();
  for (const auto& l : listening.listeners) {
    size_t sent = 0;
    for (int fd : l.fds) {
      int copy = dup_fd(fd);
      if (copy < 0) return cannot("a socket of listener " + l.actual.text());
      m.fds.push_back(copy);
      ++sent;
    }
    w.begin_object()
        .key("requested")
        .value(l.requested.text())
        .key("actual")
        .value(l.actual.text());
    w.key("sockets").value(static_cast<uint64_t>(sent)).end_object();
  }
  w.end_array();
  if (listening.control_fd >= 0) {
    int copy = dup_fd(listening.control_fd);
    if (copy < 0) return cannot("the control socket");
    m.fds.push_back(copy);
    w.key("control").value(listening.control_path);
  }
  if (listening.admin_fd >= 0) {
    int copy = dup_fd(listening.admin_fd);
    if (copy < 0) return cannot("the admin listener");
    m.fds.push_back(copy);
    w.key("admin").value(listening.admin.text());
  }
  w.key("state").raw(state.empty() ? "{}" : state);
  m.json = w.end_object().take();
  return m;
}

Takeover::~Takeover() {
  if (fd_ >= 0) ::close(fd_);
}

void Takeover::say(const std::string& json) {
  if (fd_ < 0) return;
  handover::send(fd_, {json, {}}, SteadyClock::now() + std::chrono::seconds(2));
}

Result<Takeover::Taken> Takeover::hello(std::chrono::milliseconds timeout) {
  json::Writer w;
  w.begin_object().key("type").value("hello").key("protocol").value(handover::kProtocol);
  w.key("pid").value(static_cast<int64_t>(::getpid()));
  w.key("version").value(WEIR_VERSION).key("build").value(build_id()).end_object();
  auto deadline = SteadyClock::now() + timeout;
  if (auto sent = handover::send(fd_, {w.take(), {}}, deadline); !sent.ok()) return sent.error();
  auto received = handover::receive(fd_, deadline);
  if (!received.ok()) return received.error();
  handover::Message& m = *received;
  auto fail = [&](const std::string& why) -> Result<Taken> {
    handover::close_fds(m);
    return Error{ErrorSource::internal, "the running weir's handover: " + why};
  };
  auto parsed = json::parse(m.json);
  if (!parsed.value || !parsed.value->is_object()) return fail("not a JSON object");
  const json::Value& v = *parsed.value;
  if (v.get_string("type") != "handover") return fail("unexpected message");
  if (v.get_number("protocol") != handover::kProtocol)
    return fail("it speaks upgrade protocol " +
                std::to_string(static_cast<int>(v.get_number("protocol"))) + ", this weir " +
                std::to_string(handover::kProtocol));
  Taken taken;
  taken.old_pid = static_cast<int64_t>(v.get_number("pid"));
  size_t next = 0;
  auto take_fd = [&]() { return next < m.fds.size() ? m.fds[next++] : -1; };
  const json::Value* listeners = v.find("listeners");
  if (!listeners || !listeners->is_array()) return fail("no listeners");
  for (const auto& l : listeners->as_array()) {
    auto requested = config::parse_address(l.get_string("requested"), true);
    auto actual = config::parse_address(l.get_string("actual"), true);
    if (!requested.ok() || !actual.ok()) return fail("a listener's address is not an address");
    runtime::ListenerSockets sockets{*requested, *actual, {}};
    for (size_t k = 0; k < static_cast<size_t>(l.get_number("sockets")); ++k)
      if (int fd = take_fd(); fd >= 0) sockets.fds.push_back(fd);
    taken.listening.listeners.push_back(std::move(sockets));
  }
  if (const json::Value* c = v.find("control"); c && c->is_string()) {
    taken.listening.control_path = c->as_string();
    taken.listening.control_fd = take_fd();
  }
  if (const json::Value* a = v.find("admin"); a && a->is_string()) {
    auto address = config::parse_address(a->as_string(), true);
    if (!address.ok()) return fail("the admin address is not an address");
    taken.listening.admin = *address;
    taken.listening.admin_fd = take_fd();
  }
  if (next != m.fds.size()) return fail("descriptors and names do not add up");
  if (const json::Value* s = v.find("state")) {
    json::Writer sw;
    sw.value(*s);
    taken.state = sw.take();
  }
  return taken;
}

bool Takeover::ready(bool control_adopted) {
  json::Writer w;
  w.begin_object().key("type").value("ready").key("control_adopted").value(control_adopted);
  return handover::send(fd_, {w.end_object().take(), {}},
                        SteadyClock::now() + std::chrono::seconds(2))
      .ok();
}

Result<std::string> Takeover::wait_commit(std::chrono::milliseconds timeout) {
  auto received = handover::receive(fd_, SteadyClock::now() + timeout);
  ::close(fd_);
  fd_ = -1;
  if (!received.ok()) return received.error();
  handover::close_fds(*received);
  auto parsed = json::parse(received->json);
  if (!parsed.value || !parsed.value->is_object() || parsed.value->get_string("type") != "commit")
    return Error{ErrorSource::internal, "the running weir sent no commit"};
  json::Writer w;
  if (const json::Value* s = parsed.value->find("state")) w.value(*s);
  return w.take();
}

void Takeover::failed(const std::string& reason) {
  json::Writer w;
  w.begin_object().key("type").value("failed").key("reason").value(reason).end_object();
  say(w.take());
  ::close(fd_);
  fd_ = -1;
}

} // namespace weir::control
