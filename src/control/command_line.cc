#include "weir/control/command_line.h"

#include "weir/control/arguments.h"

#include <charconv>
#include <string_view>

namespace weir::control {

namespace {

// "--name=value" → {"--name", "value", true}; anything else → {arg, "", false}.
struct Split {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

Split split_value(std::string_view arg) {
  if (!arg.starts_with("--")) return {arg, {}, false};
  size_t eq = arg.find('=');
  if (eq == std::string_view::npos) return {arg, {}, false};
  return {arg.substr(0, eq), arg.substr(eq + 1), true};
}

// A word that looks like a flag, so it cannot be the value a flag before it is missing.
bool looks_like_flag(std::string_view word) {
  return word.size() > 1 && word[0] == '-';
}

} // namespace

WeirArgs parse_weir_args(const std::vector<std::string>& args) {
  WeirArgs out;
  auto fail = [&](std::string message) {
    out.action = WeirArgs::Action::usage_error;
    out.error = std::move(message);
    return out;
  };
  bool have_config = false;
  for (size_t i = 0; i < args.size(); ++i) {
    Split a = split_value(args[i]);
    if (a.name == "--help" || a.name == "-h") {
      out.action = WeirArgs::Action::help;
      return out;
    }
    if (a.name == "--version") {
      out.action = WeirArgs::Action::version;
      return out;
    }
    if (a.name == "--config" || a.name == "-c" || a.name == "--check-config") {
      std::string flag(a.name);
      std::string_view value = a.value;
      if (!a.has_value) {
        if (i + 1 >= args.size() || looks_like_flag(args[i + 1]))
          return fail(flag + " needs a file path");
        value = args[++i];
      }
      if (value.empty()) return fail(flag + " needs a file path");
      if (have_config)
        return fail(flag + ": the config file is given twice (use one --config or --check-config)");
      have_config = true;
      out.config_path = value;
      out.action = flag == "--check-config" ? WeirArgs::Action::check : WeirArgs::Action::run;
      continue;
    }
    if (a.name == "--upgrade-fd") {
      std::string_view value = a.value;
      if (!a.has_value) {
        if (i + 1 >= args.size()) return fail("--upgrade-fd needs a descriptor number");
        value = args[++i];
      }
      int fd = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fd);
      if (ec != std::errc() || end != value.data() + value.size() || fd < 0)
        return fail("--upgrade-fd: expected a descriptor number, got '" + std::string(value) + "'");
      out.upgrade_fd = fd;
      continue;
    }
    if (looks_like_flag(args[i])) return fail("unknown flag '" + std::string(a.name) + "'");
    return fail("unexpected argument '" + args[i] + "' (the config file goes after --config)");
  }
  if (!have_config) return fail("--config FILE is required");
  if (out.upgrade_fd >= 0 && out.action != WeirArgs::Action::run)
    return fail("--upgrade-fd goes with --config");
  return out;
}

WeirctlArgs parse_weirctl_args(const std::vector<std::string>& args, std::string default_socket) {
  WeirctlArgs out;
  out.socket = std::move(default_socket);
  auto fail = [&](std::string message) {
    out.action = WeirctlArgs::Action::usage_error;
    out.error = std::move(message);
    return out;
  };
  // "--force" and the like before the command's name: the command's, sent after its words. One
  // after the name stays where it is, so a flag that takes a value keeps it next to it.
  std::vector<std::string> command_flags;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || !looks_like_flag(arg)) {
      out.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    Split a = split_value(arg);
    auto take_value = [&](std::string_view& value) {
      if (a.has_value) {
        value = a.value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      value = args[++i];
      return true;
    };
    std::string_view value;
    if (a.name == "-h" || a.name == "--help") {
      out.action = WeirctlArgs::Action::help;
      return out;
    } else if (a.name == "--version") {
      out.action = WeirctlArgs::Action::version;
      return out;
    } else if (a.name == "--json") {
      if (a.has_value) return fail("--json takes no value");
      out.json = true;
    } else if (a.name == "--socket" || a.name == "-s") {
      if (!take_value(value)) return fail(std::string(a.name) + " needs a PATH");
      if (value.empty()) return fail(std::string(a.name) + ": the path is empty");
      out.socket = value;
    } else if (a.name == "--timeout") {
      if (!take_value(value)) return fail("--timeout needs a DURATION, e.g. 5s");
      auto d = parse_duration_argument("--timeout", value);
      if (!d) return fail(d.error().message);
      // Up to a day, as durations in the config: no overflow when it becomes a deadline.
      if (d->count() <= 0 || *d > std::chrono::hours(24))
        return fail("--timeout: must be more than 0 and at most 24h, got \"" +
                    std::string(value.substr(0, 40)) + "\"");
      out.timeout = *d;
      out.timeout_given = true;
    } else if (arg.starts_with("--")) {
      (out.words.empty() ? command_flags : out.words).push_back(arg);
    } else {
      return fail("unknown option " + arg.substr(0, 80));
    }
  }
  if (out.words.empty()) {
    if (!command_flags.empty())
      return fail("unknown option " + command_flags.front().substr(0, 80) +
                  " and no command given");
    return fail("no command given (\"weirctl help\" lists them)");
  }
  out.words.insert(out.words.end(), command_flags.begin(), command_flags.end());
  for (const auto& w : out.words)
    if (w.find_first_of("\r\n") != std::string::npos)
      return fail("arguments cannot contain line breaks");
  return out;
}

} // namespace weir::control
