// Fuzz target `control`: control-socket lines (the input split at LF, a trailing CR dropped, as
// the server does) through split_words and CommandTable::dispatch with every command name weir
// registers. A line either reaches exactly one handler with its words after the command name,
// or gets an error reply (an unknown command, or arguments its usage refuses: a "--flag" it does
// not list); every reply must be a JSON object that json::parse reads back, since
// weirctl and scripts parse it.

#include "fuzz_target.h"
#include "weir/base/json.h"
#include "weir/control/command_table.h"

#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace weir;

// The names of src/control/commands.cc and src/rollout/manager.cc (register_commands).
constexpr std::string_view kNames[] = {
    "help",          "show routes",     "show services",  "set weight",      "clear weight",
    "drain",         "undrain",         "set health",     "show probes",     "reload",
    "show config",   "watch",           "rollout start",  "rollout pause",   "rollout resume",
    "rollout abort", "rollout promote", "rollout status", "rollout history",
};

// Any number of arguments, no flags: what check_arguments lets through.
constexpr std::string_view kUsage = "[ARG ...]";

struct Capture : control::Responder {
  std::string line;
  int replies = 0;
  void reply(std::string json_line) override {
    line = std::move(json_line);
    ++replies;
  }
  void stream(std::string json_line) override { reply(std::move(json_line)); }
  bool open() const override { return true; }
};

bool blank(char c) {
  return c == ' ' || c == '\t';
}

void run_line(const control::CommandTable& table, std::string_view line, std::string& called,
              control::Args& got) {
  std::vector<std::string> words = control::split_words(line);
  std::string rebuilt;
  for (const std::string& w : words) {
    WEIR_FUZZ_CHECK(!w.empty());
    for (char c : w)
      WEIR_FUZZ_CHECK(!blank(c));
    rebuilt += w;
  }
  std::string squeezed; // the line without its blanks
  for (char c : line)
    if (!blank(c)) squeezed += c;
  WEIR_FUZZ_CHECK(rebuilt == squeezed);

  auto capture = std::make_shared<Capture>();
  called.clear();
  got.clear();
  table.dispatch(line, capture);
  WEIR_FUZZ_CHECK(capture->replies == 1);
  json::ParseResult parsed = json::parse(capture->line);
  WEIR_FUZZ_CHECK(parsed.value.has_value());
  const json::Value& reply = *parsed.value;
  WEIR_FUZZ_CHECK(reply.is_object() && reply["ok"].is_bool());
  if (called.empty()) {
    WEIR_FUZZ_CHECK(!reply["ok"].as_bool() && reply["error"].is_string());
    // An unknown command, or an empty line.
    std::string_view known;
    for (std::string_view name : kNames)
      if ((!words.empty() && words[0] == name) ||
          (words.size() >= 2 && words[0] + " " + words[1] == name))
        known = name;
    if (known.empty()) return;
    // A known command refused: only by the argument check, with its message.
    size_t used = known.find(' ') == std::string_view::npos ? 1 : 2;
    std::string problem = control::check_arguments(
        known, kUsage,
        control::Args(words.begin() + static_cast<std::ptrdiff_t>(used), words.end()));
    WEIR_FUZZ_CHECK(!problem.empty() && reply["error"].as_string() == problem);
    return;
  }
  WEIR_FUZZ_CHECK(reply["ok"].as_bool());
  // The handler got the words after its name, in order.
  size_t used = called.find(' ') == std::string::npos ? 1 : 2;
  WEIR_FUZZ_CHECK(words.size() >= used);
  WEIR_FUZZ_CHECK(got ==
                  control::Args(words.begin() + static_cast<std::ptrdiff_t>(used), words.end()));
  const json::Value::Array& echoed = reply["args"].as_array();
  WEIR_FUZZ_CHECK(echoed.size() == got.size());
  for (size_t i = 0; i < got.size(); ++i)
    WEIR_FUZZ_CHECK(echoed[i].is_string());
}

} // namespace

WEIR_FUZZ_TARGET(control) {
  std::string called;
  control::Args got;
  control::CommandTable table;
  for (std::string_view name : kNames)
    table.add(
        {std::string(name), std::string(kUsage), "fuzz",
         [&called, &got, name](const control::Args& args, std::shared_ptr<control::Responder> r) {
           WEIR_FUZZ_CHECK(called.empty());
           called = std::string(name);
           got = args;
           r->reply(control::ok_reply([&](json::Writer& w) {
             w.key("command").value(name).key("args").begin_array();
             for (const std::string& a : args)
               w.value(a);
             w.end_array();
           }));
         }});

  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    run_line(table, line, called, got);
  }
  return 0;
}
