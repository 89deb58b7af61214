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
  // MAINPID=pid: the process systemd is to follow from now on (the new one after an upgrade).
  void main_pid(pid_t pid);
  // One datagram as is ("KEY=value\n..."); false when it could not be sent.
  bool send(std::string_view message);

private:
  std::string address_; // NOTIFY_SOCKET as given
  int fd_ = -1;
  bool failure_logged_ = false;
  bool stopping_ = false;
};

} // namespace weir::control
