// weir: wires the modules together — flags, config, workers, signals.
#include "weir/base/build_id.h"
#include "weir/base/log.h"
#include "weir/cluster/fleet.h"
#include "weir/config/duration.h"
#include "weir/config/loader.h"
#include "weir/control/admin_server.h"
#include "weir/control/command_line.h"
#include "weir/control/command_table.h"
#include "weir/control/controller.h"
#include "weir/control/dashboard.h"
#include "weir/control/server.h"
#include "weir/control/takeover.h"
#include "weir/control/upgrade.h"
#include "weir/gateway/import_command.h"
#include "weir/rollout/controller_host.h"
#include "weir/rollout/manager.h"
#include "weir/runtime/worker_group.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage: weir --config FILE        run the proxy in the foreground
       weir --check-config FILE  validate FILE; print every error as FILE:LINE:COL: key: message
       weir import FILE...       write the weir config of Gateway API objects (weir import --help)
       weir --version
       weir --help

Signals: SIGTERM/SIGINT drain in-flight requests and exit 0 (after shutdown_delay, during
which /ready answers 503; a second signal drains at once); SIGHUP reloads the config file
(an invalid file is refused and the running config stays). Under systemd (NOTIFY_SOCKET set),
weir reports READY=1, RELOADING=1 and STOPPING=1 (Type=notify).

Upgrading weir itself: `weirctl upgrade [--binary PATH]` starts the new binary, which takes the
listening sockets and the live state; then this process stops accepting and drains.
)";

using weir::config::Config;

// Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not).
bool process_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

// The config, or nullptr after printing its errors (`errors` gets them too).
std::shared_ptr<const Config> load_or_print(const std::string& path,
                                            std::string* errors = nullptr) {
  auto result = weir::config::load_file(path);
  if (auto* list = std::get_if<std::vector<weir::config::ConfigError>>(&result)) {
    std::string text = weir::config::format_errors(*list);
    std::fputs(text.c_str(), stderr);
    if (errors) *errors = text;
    return nullptr;
  }
  return std::make_shared<const Config>(std::move(std::get<Config>(result)));
}

// `upgrade_fd` >= 0: started by `weirctl upgrade` on a running weir, whose sockets and live
// state this process takes (control/takeover.h) instead of opening its own and reading the state
// file; it serves once the running weir has let go (control/upgrade.h).
int run(const std::string& path, int upgrade_fd) {
  std::unique_ptr<weir::control::Takeover> takeover;
  if (upgrade_fd >= 0) {
    takeover = std::make_unique<weir::control::Takeover>(upgrade_fd);
    // A reload signal meant for the running weir (`pkill -HUP weir`) must not kill this one
    // while it starts; its handler comes with the others, below.
    std::signal(SIGHUP, SIG_IGN);
  }
  // Every way out before serving: the running weir of an upgrade hears why and serves on.
  weir::control::Server* adopted_control = nullptr; // the old weir's control socket, if taken
  auto give_up = [&](const std::string& why) {
    std::fprintf(stderr, "weir: %s\n", why.c_str());
    if (takeover) takeover->failed(why);
    // Its file is the old weir's, which serves on: not ours to remove on the way out.
    if (adopted_control) adopted_control->close_keeping_file();
    return 1;
  };
  std::string config_errors;
  auto config = load_or_print(path, &config_errors);
  if (!config) {
    if (!config_errors.empty() && config_errors.back() == '\n') config_errors.pop_back();
    if (takeover) takeover->failed("the config is invalid:\n" + config_errors);
    return 1;
  }
  // Writes to a client that went away must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  std::optional<weir::control::Takeover::Taken> taken;
  if (takeover) {
    auto handed = takeover->hello(std::chrono::seconds(10));
    if (!handed.ok()) return give_up("upgrade: " + handed.error().message);
    taken = std::move(*handed);
  }
  boost::asio::io_context control_io;
  // The signal handlers go in before anything else: a SIGTERM that arrives while weir starts
  // (or just after it printed "ready") is held until control_io runs, then drains and exits 0,
  // instead of killing the process with the default action.
  boost::asio::signal_set stop_signals(control_io, SIGTERM, SIGINT);
  boost::asio::signal_set reload_signals(control_io, SIGHUP);
  weir::control::CommandTable commands;
  weir::control::Server control_server(control_io, commands);
  // The control socket first: a second weir with the same socket must stop before it binds
  // any listener. An upgrade's new process listens on the old one's socket at the same path.
  bool control_adopted = false;
  if (config->control.enabled) {
    weir::Result<bool> opened = true;
    if (taken && taken->listening.control_fd >= 0 &&
        taken->listening.control_path == config->control.socket) {
      opened = control_server.adopt(config->control, taken->listening.control_fd);
      taken->listening.control_fd = -1;
      control_adopted = true;
      adopted_control = &control_server;
    } else {
      opened = control_server.open(config->control);
    }
    if (!opened.ok()) return give_up(opened.error().message);
  }
  // Not ours (a changed path): closed now, not held for this process's life.
  if (taken && taken->listening.control_fd >= 0) {
    ::close(taken->listening.control_fd);
    taken->listening.control_fd = -1;
  }
  weir::control::Controller controller(control_io, path, config);
  weir::control::SystemdNotifier notifier; // Type=notify: READY, RELOADING, STOPPING
  controller.set_notifier(&notifier);
  controller.register_commands(commands);
  // The rollout manager knows only its host, the controller's adapter; connect() gives it the
  // controller's hooks (fast abort, the weight guard, `watch`, reloads, metrics).
  weir::rollout::ControllerHost rollout_host(control_io, controller);
  weir::rollout::Manager rollouts(control_io, rollout_host, weir::Clock::system());
  weir::rollout::connect(rollouts, controller);
  rollouts.register_commands(commands);
  // With `cluster`: the replicas share live state and one rollout per route (cluster/fleet.h).
  weir::cluster::Fleet fleet(control_io, controller, rollouts, commands);
  // The admin listener before the workers' listeners too: a taken admin port stops weir before
  // it serves anything. It answers /ready with 503 until the workers run.
  weir::control::AdminServer admin_server(control_io, controller);
  // The dashboard (/ and /dashboard/…) answers from the same command table as the socket.
  weir::control::Dashboard dashboard(control_io, controller, commands);
  admin_server.set_dashboard(&dashboard);
  const weir::config::Admin admin_config = config->admin; // as opened (a reload needs a restart)
  bool admin_adopted = false;
  if (config->admin.enabled) {
    weir::Result<bool> opened = true;
    if (taken && taken->listening.admin_fd >= 0 &&
        taken->listening.admin == config->admin.address) {
      opened = admin_server.adopt(config->admin, config->limits, taken->listening.admin_fd);
      taken->listening.admin_fd = -1;
      admin_adopted = true;
    } else {
      opened = admin_server.open(config->admin, config->limits);
    }
    if (!opened.ok()) return give_up(opened.error().message);
  }
  if (taken && taken->listening.admin_fd >= 0) { // a changed address: the old weir's to close
    ::close(taken->listening.admin_fd);
    taken->listening.admin_fd = -1;
  }

  // `weirctl upgrade` on this process: what it hands over, and what it does once the new one
  // serves.
  bool handed_over = false;
  boost::asio::steady_timer drain_watch(control_io);
  std::chrono::steady_clock::time_point handed_at;
  std::function<void()> watch_drain = [&] {
    // Admin connections as the workers' ones: idle for half the drain (at least 1 s), ended.
    const auto drain = controller.config().drain_timeout;
    const auto idle_for =
        std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(1), drain / 2);
    const bool over = std::chrono::steady_clock::now() - handed_at >= drain;
    const size_t admin_left = admin_server.close_idle(over ? std::chrono::seconds(0) : idle_for);
    if (controller.workers().drained() && (admin_left == 0 || over)) return control_io.stop();
    drain_watch.expires_after(std::chrono::milliseconds(20));
    drain_watch.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) watch_drain();
    });
  };
  weir::control::Upgrader upgrader(
      control_io, path,
      {[&] {
         weir::control::Listening listening;
         listening.listeners = controller.workers().listening_sockets();
         listening.control_path = control_server.path();
         listening.control_fd = control_server.native_handle();
         listening.admin = admin_config.address;
         listening.admin_fd = admin_server.native_handle();
         return weir::control::make_offer(listening, controller.handover_state());
       },
       [&] { return controller.handover_state(); },
       [&](bool new_has_control) {
         // All of it now, before this thread runs anything else: from the commit on, the new
         // process owns the sockets, the state and the service.
         handed_over = true;
         handed_at = std::chrono::steady_clock::now();
         commands.refuse_all(weir::control::kHandedOver);
         notifier.hand_over();
         controller.hand_off(); // the state file is the new process's now
         fleet.stop();          // the new process is the replica now
         rollouts.stop();
         controller.stop();
         // Its clients have a new weir to go to, on their next request: a connection idle for
         // half the drain (at least 1 s) is ended, one in use is told Connection: close.
         const auto drain = controller.config().drain_timeout;
         controller.workers().start_drain(
             drain, std::max<std::chrono::milliseconds>(std::chrono::seconds(1), drain / 2));
         if (new_has_control)
           control_server.close_keeping_file();
         else
           control_server.close();
         // The connections already open are answered to the end (an admin one is closed after
         // its next response): the control thread runs on until the workers have drained.
         admin_server.stop_accepting();
         watch_drain();
       }});
  upgrader.register_commands(commands);
  // A reload meanwhile would be lost: the new process has read the file already.
  controller.set_reload_refusal([&]() -> std::string {
    return upgrader.in_progress() ? "an upgrade is under way (the new weir has read the config "
                                    "file already): reload once it is over"
                                  : "";
  });

  std::optional<weir::control::Controller::Inherited> inherited;
  if (taken) {
    inherited.emplace();
    std::string bad = weir::control::Controller::parse_handover_state(taken->state, *inherited);
    if (!bad.empty()) {
      for (auto& l : taken->listening.listeners)
        for (int fd : l.fds)
          ::close(fd);
      return give_up("upgrade: the running weir's " + bad);
    }
    inherited->sockets = std::move(taken->listening.listeners);
  }
  auto started = controller.start(inherited ? &*inherited : nullptr);
  if (!started.ok()) return give_up(started.error().message);
  if (takeover) {
    // Set up, accepting nothing: the old weir may let go now. Until it says so (the commit),
    // it serves; without the commit this process leaves without having served.
    if (!takeover->ready(control_adopted)) return give_up("upgrade: the running weir went away");
    auto committed = takeover->wait_commit(std::chrono::seconds(10));
    takeover.reset();
    std::string bad = "state: none";
    weir::control::Controller::Inherited latest;
    if (committed.ok()) {
      bad = weir::control::Controller::parse_handover_state(*committed, latest);
      if (!bad.empty()) weir::log::error("upgrade: the old weir's last " + bad);
    } else if (process_alive(static_cast<pid_t>(taken->old_pid))) {
      // It lives and called the upgrade off: it serves on, this one must not.
      std::fprintf(stderr, "weir: upgrade called off: %s\n", committed.error().message.c_str());
      if (adopted_control) adopted_control->close_keeping_file();
      return 1;
    } else {
      // It died before its commit: nobody serves but this process, which has every socket.
      weir::log::warn("upgrade: the old weir (pid " + std::to_string(taken->old_pid) +
                      ") is gone without its commit; this one serves, with its state as handed "
                      "over");
    }
    controller.finish_takeover(bad.empty() ? latest : *inherited); // then the workers accept
    if (config->control.enabled && control_adopted) control_server.start_accepting();
    if (config->admin.enabled && admin_adopted) admin_server.start_accepting();
    adopted_control = nullptr; // ours now: removed when this weir stops
  }
  fleet.start();    // before the rollouts: a replica of a fleet runs none until it leads
  rollouts.start(); // resumes saved (or handed over) rollouts
  if (config->admin.enabled) dashboard.start(); // its weight history, once a second
  for (const auto& b : controller.workers().bound())
    std::printf("weir: listening %s\n", b.c_str());
  if (config->control.enabled)
    std::printf("weir: control socket %s\n", control_server.path().c_str());
  if (config->admin.enabled) std::printf("weir: admin %s\n", admin_server.address().c_str());
  std::printf("weir: %zu worker(s) ready, io %s\n", controller.workers().size(),
              controller.workers().io_backend());
  std::fflush(stdout);
  if (taken) {
    weir::log::info("weir " WEIR_VERSION " (build " + weir::build_id() + ") took over from pid " +
                    std::to_string(taken->old_pid) + " with " + path);
    notifier.took_over(); // MAINPID: systemd follows this process from now on
  } else {
    weir::log::info("weir " WEIR_VERSION " started with " + path);
    notifier.ready();
  }

  // SIGTERM: /ready turns 503 at once; weir serves on for shutdown_delay (a load balancer that
  // polls readiness stops sending meanwhile), then drains. A second signal drains at once.
  boost::asio::steady_timer shutdown_timer(control_io);
  bool stopping = false;
  std::function<void()> wait_stop = [&] {
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
      upgrader.abandon("weir received " + name);
      const auto delay = controller.config().shutdown_delay;
      if (stopping || delay.count() == 0) {
        if (!stopping) notifier.stopping();
        admin_server.set_shutting_down();
        weir::log::info("received " + name + ", draining");
        control_io.stop();
        return;
      }
      stopping = true;
      notifier.stopping();
      admin_server.set_shutting_down();
      weir::log::info("received " + name + ": /ready says 503, serving " +
                      weir::config::format_duration(delay) +
                      " more (shutdown_delay), then draining");
      shutdown_timer.expires_after(delay);
      shutdown_timer.async_wait([&](const boost::system::error_code& timer_ec) {
        if (timer_ec) return;
        weir::log::info("shutdown_delay over, draining");
        control_io.stop();
      });
      wait_stop();
    });
  };
  wait_stop();
  std::function<void()> wait_reload = [&] {
    reload_signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      controller.reload([](weir::Result<std::string>) {}); // the controller logs the outcome
      wait_reload();
    });
  };
  wait_reload();
  control_io.run();
  upgrader.abandon("weir is stopping");
  if (!handed_over) control_server.close();
  admin_server.close();
  dashboard.stop();
  fleet.stop(); // gives up the lead: another replica takes the rollouts at once
  rollouts.stop();
  controller.stop();
  controller.workers().drain_and_join(controller.config().drain_timeout);
  weir::log::info(handed_over ? "stopped (upgraded: the new process serves)" : "stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "import")
    return weir::gateway::run_import(std::vector<std::string>(argv + 2, argv + argc), stdout,
                                     stderr);
  using Action = weir::control::WeirArgs::Action;
  weir::control::WeirArgs args =
      weir::control::parse_weir_args(std::vector<std::string>(argv + 1, argv + argc));
  switch (args.action) {
  case Action::help:
    std::fputs(kUsage, stdout);
    return 0;
  case Action::version:
    std::printf("weir %s (build %s)\n", WEIR_VERSION, weir::build_id().c_str());
    return 0;
  case Action::usage_error:
    std::fprintf(stderr, "weir: %s\n\n%s", args.error.c_str(), kUsage);
    return 2;
  case Action::check: {
    auto config = load_or_print(args.config_path);
    if (!config) return 1;
    // What start would refuse too: a bad WEIR_IO, io: io_uring on a kernel without it.
    auto io = weir::runtime::WorkerGroup::resolve_io(config->io, std::getenv("WEIR_IO"));
    if (!io.ok()) {
      std::fprintf(stderr, "weir: %s\n", io.error().message.c_str());
      return 1;
    }
    std::printf("%s: ok\n", args.config_path.c_str());
    return 0;
  }
  case Action::run:
    break;
  }
  return run(args.config_path, args.upgrade_fd);
}
