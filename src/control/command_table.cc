#include "weir/control/command_table.h"

namespace weir::control {

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t')
      ++i;
    if (i > start) words.emplace_back(line.substr(start, i - start));
  }
  return words;
}

void CommandTable::add(Command command) {
  commands_.push_back(std::move(command));
}

bool CommandTable::wrap(const std::string& name, const std::function<Handler(Handler)>& wrap) {
  for (auto& c : commands_)
    if (c.name == name) {
      c.handler = wrap(std::move(c.handler));
      return true;
    }
  return false;
}

void CommandTable::dispatch(std::string_view line, std::shared_ptr<Responder> responder) const {
  std::vector<std::string> words = split_words(line);
  if (words.empty()) return responder->reply(error_reply("empty command; try \"help\""));
  if (!refusal_.empty()) return responder->reply(error_reply(refusal_));
  const Command* found = nullptr;
  size_t used = 0;
  if (words.size() >= 2) {
    std::string two = words[0] + " " + words[1];
    for (const auto& c : commands_)
      if (c.name == two) found = &c, used = 2;
  }
  if (!found) {
    for (const auto& c : commands_)
      if (c.name == words[0]) found = &c, used = 1;
  }
  if (!found) {
    // A known first word with a wrong second one deserves the list of what exists.
    std::string candidates;
    for (const auto& c : commands_) {
      if (c.name.rfind(words[0] + " ", 0) == 0) {
        if (!candidates.empty()) candidates += ", ";
        candidates += c.name;
      }
    }
    if (!candidates.empty())
      return responder->reply(error_reply("unknown command \"" + std::string(line.substr(0, 80)) +
                                          "\"; did you mean one of: " + candidates));
    return responder->reply(
        error_reply("unknown command \"" + words[0].substr(0, 80) + "\"; try \"help\""));
  }
  Args args(words.begin() + static_cast<std::ptrdiff_t>(used), words.end());
  if (std::string problem = check_arguments(found->name, found->usage, args, checks_);
      !problem.empty())
    return responder->reply(error_reply(problem));
  found->handler(args, std::move(responder));
}

std::string ok_reply(const std::function<void(json::Writer&)>& fill) {
  json::Writer w;
  w.begin_object().key("ok").value(true);
  if (fill) fill(w);
  w.end_object();
  return w.take();
}

std::string error_reply(std::string_view message) {
  json::Writer w;
  w.begin_object().key("ok").value(false).key("error").value(message).end_object();
  return w.take();
}

} // namespace weir::control
