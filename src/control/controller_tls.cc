// The Controller's TLS upkeep: noticing certificate files that changed (cert-manager rewrites
// them in place) and rotating the session ticket keys. Control thread only.
#include "weir/base/log.h"
#include "weir/control/controller.h"

#include <ctime>
#include <sys/stat.h>

namespace weir::control {

namespace {

// How often the session ticket keys change: a ticket resumes for at most two periods (the
// current key and the one before), and a key that leaks opens no older session.
constexpr std::chrono::hours kTicketKeyPeriod{1};

} // namespace

std::vector<std::string> stamp_files(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const std::string& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      out.emplace_back();
      continue;
    }
    out.push_back(std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
                  std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                  std::to_string(st.st_mtim.tv_nsec));
  }
  return out;
}

std::string Controller::check_tls_files() {
  if (tls_.listeners.empty() && tls_.services.empty()) return {};
  // Stamped before the build: a file that changes while it is read is seen at the next look.
  std::vector<std::string> stamps = stamp_files(tls::Contexts::files_of(*config_));
  if (stamps == tls_stamps_) return {};
  // Whatever comes of it, these files were looked at: a bad file is reported once, not at every
  // tick, and looked at again when it changes again.
  tls_stamps_ = stamps;
  auto contexts = tls::Contexts::build(*config_, ticket_keys_, std::time(nullptr));
  if (!contexts.ok()) {
    const std::string why = "TLS files changed but were refused, running certificates kept: " +
                            contexts.error().message;
    log::error(why);
    return why;
  }
  tls::Contexts next = std::move(*contexts);
  auto published = publish(
      config_, live_, [] {}, &next);
  if (!published.ok()) {
    const std::string why =
        "TLS files changed but could not be applied: " + published.error().message;
    log::error(why);
    return why;
  }
  log::info("TLS certificates reloaded: new handshakes use the changed files");
  return "reloaded";
}

void Controller::schedule_tls_check() {
  const auto every = config_->tls_reload_interval;
  if (every.count() == 0) return; // re-arm happens after a reload that sets it (next tick)
  tls_timer_.expires_after(every);
  tls_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    check_tls_files();
    schedule_tls_check();
  });
}

void Controller::schedule_ticket_rotation() {
  ticket_timer_.expires_after(kTicketKeyPeriod);
  ticket_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    ticket_keys_->rotate();
    schedule_ticket_rotation();
  });
}

} // namespace weir::control
