// weir: wires the modules together — flags, config, workers, signals.
#include "weir/base/build_id.h"
#include "weir/base/log.h"
#include "weir/config/duration.h"
#include "weir/config/loader.h"
#include "weir/control/admin_server.h"
#include "weir/control/command_line.h"
#include "weir/control/command_table.h"
#include "weir/control/controller.h"
#include "weir/control/server.h"
#include "weir/rollout/manager.h"
#include "weir/runtime/worker_group.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage: weir --config FILE        run the proxy in the foreground
       weir --check-config FILE  validate FILE; print every error as FILE:LINE:COL: key: message
       weir --version
       weir --help

Signals: SIGTERM/SIGINT drain in-flight requests and exit 0 (after shutdown_delay, during
which /ready answers 503; a second signal drains at once); SIGHUP reloads the config file
(an invalid file is refused and the running config stays). Under systemd (NOTIFY_SOCKET set),
weir reports READY=1, RELOADING=1 and STOPPING=1 (Type=notify).
)";

using weir::config::Config;

std::shared_ptr<const Config> load_or_print(const std::string& path) {
  auto result = weir::config::load_file(path);
  if (auto* errors = std::get_if<std::vector<weir::config::ConfigError>>(&result)) {
    std::fputs(weir::config::format_errors(*errors).c_str(), stderr);
    return nullptr;
  }
  return std::make_shared<const Config>(std::move(std::get<Config>(result)));
}

int run(const std::string& path) {
  auto config = load_or_print(path);
  if (!config) return 1;
  // Writes to a client that went away must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  boost::asio::io_context control_io;
  // The signal handlers go in before anything else: a SIGTERM that arrives while weir starts
  // (or just after it printed "ready") is held until control_io runs, then drains and exits 0,
  // instead of killing the process with the default action.
  boost::asio::signal_set stop_signals(control_io, SIGTERM, SIGINT);
  boost::asio::signal_set reload_signals(control_io, SIGHUP);
  weir::control::CommandTable commands;
  weir::control::Server control_server(control_io, commands);
  // The control socket first: a second weir with the same socket must stop before it binds
  // any listener.
  if (config->control.enabled) {
    auto opened = control_server.open(config->control);
    if (!opened.ok()) {
      std::fprintf(stderr, "weir: %s\n", opened.error().message.c_str());
      return 1;
    }
  }
  weir::control::Controller controller(control_io, path, config);
  weir::control::SystemdNotifier notifier; // Type=notify: READY, RELOADING, STOPPING
  controller.set_notifier(&notifier);
  controller.register_commands(commands);
  weir::rollout::Manager rollouts(control_io, controller);
  rollouts.register_commands(commands);
  // The admin listener before the workers' listeners too: a taken admin port stops weir before
  // it serves anything. It answers /ready with 503 until the workers run.
  weir::control::AdminServer admin_server(control_io, controller);
  if (config->admin.enabled) {
    auto opened = admin_server.open(config->admin, config->limits);
    if (!opened.ok()) {
      std::fprintf(stderr, "weir: %s\n", opened.error().message.c_str());
      return 1;
    }
  }
  auto started = controller.start();
  if (started.ok()) rollouts.start(); // resumes saved rollouts
  if (!started.ok()) {
    std::fprintf(stderr, "weir: %s\n", started.error().message.c_str());
    return 1;
  }
  for (const auto& b : controller.workers().bound())
    std::printf("weir: listening %s\n", b.c_str());
  if (config->control.enabled)
    std::printf("weir: control socket %s\n", control_server.path().c_str());
  if (config->admin.enabled) std::printf("weir: admin %s\n", admin_server.address().c_str());
  std::printf("weir: %zu worker(s) ready, io %s\n", controller.workers().size(),
              controller.workers().io_backend());
  std::fflush(stdout);
  weir::log::info("weir " WEIR_VERSION " started with " + path);
  notifier.ready();

  // SIGTERM: /ready turns 503 at once; weir serves on for shutdown_delay (a load balancer that
  // polls readiness stops sending meanwhile), then drains. A second signal drains at once.
  boost::asio::steady_timer shutdown_timer(control_io);
  bool stopping = false;
  std::function<void()> wait_stop = [&] {
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
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
  control_server.close();
  admin_server.close();
  rollouts.stop();
  controller.stop();
  controller.workers().drain_and_join(controller.config().drain_timeout);
  weir::log::info("stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
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
  return run(args.config_path);
}
