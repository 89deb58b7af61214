#include "weir/control/arguments.h"

#include "weir/config/duration.h"

#include <optional>

namespace weir::control {

namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

std::string quoted(std::string_view text) {
  // Bounded: an argument can be as long as a control line.
  constexpr size_t kMax = 80;
  std::string out = "\"";
  out.append(text.substr(0, kMax));
  if (text.size() > kMax) out += "...";
  return out + "\"";
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ')
      ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ')
      ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

bool is_flag(std::string_view word) {
  return word.size() > 2 && word.starts_with("--");
}

// A command's usage line, read as the arguments it takes.
struct Usage {
  struct Slot {
    std::string_view placeholder;
    bool required = true;
  };
  std::vector<Slot> slots;                             // positional arguments in order
  std::optional<std::string_view> more;                // the placeholder that "..." repeats
  std::map<std::string_view, bool, std::less<>> flags; // flag → takes a value

  size_t required() const {
    size_t n = 0;
    for (const Slot& s : slots)
      n += s.required;
    return n;
  }
};

Usage parse_usage(std::string_view usage) {
  Usage u;
  std::vector<std::string_view> group;
  bool in_group = false;
  auto end_group = [&] {
    if (group.empty()) return;
    if (is_flag(group[0])) {
      u.flags[group[0]] = group.size() > 1 && group[1] != "...";
    } else {
      for (std::string_view w : group) {
        if (w == "...") {
          if (!u.slots.empty()) u.more = u.slots.back().placeholder;
        } else {
          u.slots.push_back({w, false});
        }
      }
    }
    group.clear();
  };
  for (std::string_view w : words(usage)) {
    bool opens = w.starts_with("[");
    bool closes = w.ends_with("]");
    if (opens) w.remove_prefix(1), in_group = true;
    if (closes && !w.empty()) w.remove_suffix(1);
    if (in_group) {
      if (!w.empty()) group.push_back(w);
      if (closes) {
        in_group = false;
        end_group();
      }
      continue;
    }
    if (is_flag(w))
      u.flags[w] = false;
    else if (w == "...")
      u.more = u.slots.empty() ? std::nullopt : std::optional(u.slots.back().placeholder);
    else
      u.slots.push_back({w, true});
  }
  end_group();
  return u;
}

// "up|down|auto" → the alternatives, or none for a placeholder that names no literal words.
std::vector<std::string_view> alternatives(std::string_view placeholder) {
  if (placeholder.find('|') == std::string_view::npos) return {};
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t bar = placeholder.find('|', start);
    out.push_back(placeholder.substr(start, bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return out;
}

} // namespace

Result<config::Duration> parse_duration_argument(std::string_view name, std::string_view text) {
  if (auto d = config::parse_duration(text)) return *d;
  std::string prefix = std::string(name) + ": ";
  if (all_digits(text))
    return Error{ErrorSource::config, prefix + quoted(text) + " needs a unit, e.g. " +
                                          std::string(text.substr(0, 20)) + "s"};
  if (text.empty()) return Error{ErrorSource::config, prefix + "the duration is empty"};
  return Error{ErrorSource::config,
               prefix + "expected a duration such as 5s, 500ms or 2m, got " + quoted(text)};
}

std::string unknown_route(std::string_view route) {
  return "unknown route " + quoted(route);
}

std::string unknown_service(std::string_view service) {
  return "unknown service " + quoted(service);
}

std::string check_arguments(std::string_view name, std::string_view usage,
                            const std::vector<std::string>& args, const NameChecks& checks) {
  const Usage u = parse_usage(usage);
  std::string usage_line = " (usage: ";
  usage_line.append(name);
  if (!usage.empty()) usage_line.append(" ").append(usage);
  usage_line.append(")");
  auto problem = [&](const std::string& what) {
    return std::string(name) + ": " + what + usage_line;
  };

  std::vector<std::string_view> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (!is_flag(a)) {
      positional.push_back(a);
      continue;
    }
    auto f = u.flags.find(a);
    if (f == u.flags.end()) return problem("unknown flag " + quoted(a));
    if (f->second) {
      if (i + 1 >= args.size()) return problem(std::string(a) + " needs a value");
      ++i;
    }
  }
  if (positional.size() < u.required()) {
    size_t seen = 0;
    for (const Usage::Slot& s : u.slots) {
      if (!s.required) continue;
      if (seen++ == positional.size()) return problem("missing " + std::string(s.placeholder));
    }
  }
  if (positional.size() > u.slots.size() && !u.more)
    return problem("unexpected argument " + quoted(positional[u.slots.size()]));

  for (size_t i = 0; i < positional.size(); ++i) {
    std::string_view placeholder = i < u.slots.size() ? u.slots[i].placeholder : *u.more;
    if (auto c = checks.find(placeholder); c != checks.end() && !c->second.known(positional[i]))
      return c->second.unknown(positional[i]);
    if (auto choices = alternatives(placeholder); !choices.empty()) {
      bool ok = false;
      for (std::string_view choice : choices)
        ok = ok || choice == positional[i];
      if (!ok)
        return problem("expected " + std::string(placeholder) + ", got " + quoted(positional[i]));
    }
  }
  return "";
}

} // namespace weir::control
