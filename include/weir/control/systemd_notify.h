#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

namespace weir::control {

// Tells systemd (a Type=notify unit) what weir is doing: the sd_notify protocol, one datagram
// per state change to the socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract
// one), spoken without libsystemd. Without NOTIFY_SOCKET every call does nothing, so weir run by
// hand or under Type=simple behaves as before. A send that fails is logged once and dropped:
// systemd's view of weir must never stop weir. Control thread only.
class SystemdNotifier {
public:
  // Reads NOTIFY_SOCKET now.
  SystemdNotifier();
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  bool enabled() const { return !address_.empty(); }
  // READY=1: the listeners serve (at start, and after a reload, whatever came of it).
  void ready();
  // RELOADING=1 with MONOTONIC_USEC (systemd 253 wants the reload's start on CLOCK_MONOTONIC).
  void reloading();
  // STOPPING=1: draining towards the exit.
  void stopping();
  // MAINPID=this process and READY=1 in one datagram: the new weir of an upgrade serves and is
  // the one systemd follows (the unit needs NotifyAccess=all: it is not the main pid yet).
  void took_over();
  // An upgrade's new process is systemd's main process now: this one says nothing more (no
  // STOPPING=1 while it drains, which systemd would take for the service stopping).
  void hand_over() { muted_ = true; }
  // One datagram as is ("KEY=value\n..."); false when it could not be sent.
  bool send(std::string_view message);

private:
  std::string address_; // NOTIFY_SOCKET as given
  int fd_ = -1;
  bool failure_logged_ = false;
  bool stopping_ = false;
  bool muted_ = false;
};

} // namespace weir::control
