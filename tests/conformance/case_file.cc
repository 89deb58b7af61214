#include "case_file.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace weir::conformance {

namespace {

// Repetitions stay small enough that a typo cannot exhaust memory.
constexpr size_t kMaxRepeat = 1 << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> unescape_plain(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
    case 'r':
      out.push_back('\r');
      break;
    case 'n':
      out.push_back('\n');
      break;
    case 't':
      out.push_back('\t');
      break;
    case '0':
      out.push_back('\0');
      break;
    case '\\':
      out.push_back('\\');
      break;
    case '{':
      out.push_back('{');
      break;
    case 'x': {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_digit(text[i + 1]), lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      break;
    }
    default:
      return std::nullopt;
    }
  }
  return out;
}

[[noreturn]] void fail(const std::string& file, int line, const std::string& message) {
  throw std::runtime_error(file + ":" + std::to_string(line) + ": " + message);
}

Tristate parse_tristate(std::string_view v, const std::string& file, int line) {
  if (v == "yes") return Tristate::yes;
  if (v == "no") return Tristate::no;
  if (v == "any") return Tristate::any;
  fail(file, line, "expected yes, no or any, got '" + std::string(v) + "'");
}

// "none" | RESPONSE {", " RESPONSE}; RESPONSE = ["forwarded"] STATUS {"|" STATUS}.
std::vector<ExpectedResponse> parse_expect(std::string_view v, const std::string& file, int line) {
  std::vector<ExpectedResponse> out;
  if (v == "none") return out;
  while (!v.empty()) {
    size_t comma = v.find(',');
    std::string_view item = trim(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    ExpectedResponse r;
    if (item.rfind("forwarded", 0) == 0) {
      r.forwarded = true;
      item = trim(item.substr(9));
    }
    while (!item.empty()) {
      size_t bar = item.find('|');
      std::string_view code = trim(item.substr(0, bar));
      item = bar == std::string_view::npos ? std::string_view{} : item.substr(bar + 1);
      int status = 0;
      auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
      if (ec != std::errc() || end != code.data() + code.size() || status < 100 || status > 999)
        fail(file, line, "bad status '" + std::string(code) + "' in expect");
      r.statuses.push_back(status);
    }
    if (r.statuses.empty()) fail(file, line, "expect: a response without a status");
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace

std::optional<std::string> unescape(std::string_view text) {
  std::string out;
  for (;;) {
    size_t open = std::string_view::npos;
    // "{{" not preceded by a backslash starts a repetition.
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
        continue;
      }
      if (text[i] == '{' && text[i + 1] == '{') {
        open = i;
        break;
      }
    }
    if (open == std::string_view::npos) {
      auto tail = unescape_plain(text);
      if (!tail) return std::nullopt;
      return out + *tail;
    }
    auto before = unescape_plain(text.substr(0, open));
    if (!before) return std::nullopt;
    out += *before;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view inner = text.substr(open + 2, close - open - 2);
    size_t star = inner.find('*');
    if (star == std::string_view::npos) return std::nullopt;
    size_t count = 0;
    auto [end, ec] = std::from_chars(inner.data(), inner.data() + star, count);
    if (ec != std::errc() || end != inner.data() + star) return std::nullopt;
    auto unit = unescape_plain(inner.substr(star + 1));
    if (!unit || unit->empty() || count * unit->size() > kMaxRepeat) return std::nullopt;
    for (size_t i = 0; i < count; ++i)
      out += *unit;
    text.remove_prefix(close + 2);
  }
}

std::string printable(std::string_view bytes, size_t limit) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == limit) {
      out += "...(" + std::to_string(bytes.size()) + " bytes)";
      break;
    }
    unsigned char u = static_cast<unsigned char>(bytes[i]);
    if (u == '\r') {
      out += "\\r";
    } else if (u == '\n') {
      out += "\\n";
    } else if (u == '\t') {
      out += "\\t";
    } else if (u == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(static_cast<char>(u));
    }
  }
  return out;
}

bool Case::head_answer(size_t index) const {
  if (head_answers.empty()) return index == 0 && send.rfind("HEAD ", 0) == 0;
  return std::find(head_answers.begin(), head_answers.end(), static_cast<int>(index + 1)) !=
         head_answers.end();
}

std::vector<Case> parse_cases(std::string_view text, const std::string& file) {
  std::vector<Case> out;
  Case defaults;
  defaults.file = file;
  Case* current = nullptr;
  std::set<std::string> names;
  int line_no = 0;
  auto bytes = [&](std::string_view v) {
    auto b = unescape(v);
    if (!b) fail(file, line_no, "malformed escape or {{N*TEXT}} in '" + std::string(v) + "'");
    return *b;
  };
  while (!text.empty()) {
    ++line_no;
    size_t eol = text.find('\n');
    std::string_view line = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      if (line.rfind("[case ", 0) != 0 || line.back() != ']')
        fail(file, line_no, "expected [case NAME]");
      std::string name(trim(line.substr(6, line.size() - 7)));
      if (name.empty() || name.find_first_of(" \t") != std::string::npos)
        fail(file, line_no, "a case name is one word");
      if (!names.insert(name).second) fail(file, line_no, "duplicate case name " + name);
      out.push_back(defaults);
      current = &out.back();
      current->name = name;
      current->line = line_no;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) fail(file, line_no, "expected KEY: VALUE");
    std::string_view key = trim(line.substr(0, colon));
    std::string_view value = trim(line.substr(colon + 1));
    // Before the first [case], keys set the file's defaults (side, closed, upstream...).
    Case& c = current ? *current : defaults;
    if (key == "side") {
      if (value == "request") {
        c.side = Side::request;
      } else if (value == "response") {
        c.side = Side::response;
      } else {
        fail(file, line_no, "side is request or response");
      }
    } else if (key == "send") {
      if (!current) fail(file, line_no, "send: belongs to a case");
      c.send += bytes(value);
    } else if (key == "reply") {
      if (!current) fail(file, line_no, "reply: belongs to a case");
      c.reply += bytes(value);
    } else if (key == "reply-then") {
      if (value != "close" && value != "keep") fail(file, line_no, "reply-then: close or keep");
      c.reply_keep = value == "keep";
    } else if (key == "expect") {
      c.expect = parse_expect(value, file, line_no);
    } else if (key == "closed") {
      c.closed = parse_tristate(value, file, line_no);
    } else if (key == "reply-reused") {
      c.reply_reused = parse_tristate(value, file, line_no);
    } else if (key == "upstream") {
      if (value == "nothing") {
        c.upstream = UpstreamExpectation::nothing;
      } else if (value == "something") {
        c.upstream = UpstreamExpectation::something;
      } else if (value == "any") {
        c.upstream = UpstreamExpectation::any;
      } else {
        fail(file, line_no, "upstream is nothing, something or any");
      }
    } else if (key == "upstream-requests") {
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), c.upstream_requests);
      if (ec != std::errc() || end != value.data() + value.size() || c.upstream_requests < 0)
        fail(file, line_no, "upstream-requests is a number");
    } else if (key == "upstream-has") {
      c.upstream_has.push_back(bytes(value));
    } else if (key == "upstream-lacks") {
      c.upstream_lacks.push_back(bytes(value));
    } else if (key == "upstream-line") {
      c.upstream_lines.push_back(bytes(value));
    } else if (key == "client-has") {
      c.client_has.push_back(bytes(value));
    } else if (key == "client-lacks") {
      c.client_lacks.push_back(bytes(value));
    } else if (key == "head-answers") {
      while (!value.empty()) {
        size_t sp = value.find(' ');
        std::string_view n = value.substr(0, sp);
        int index = 0;
        auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), index);
        if (ec != std::errc() || end != n.data() + n.size() || index < 1)
          fail(file, line_no, "head-answers lists answer numbers from 1");
        c.head_answers.push_back(index);
        value = sp == std::string_view::npos ? std::string_view{} : trim(value.substr(sp));
      }
    } else if (key == "note") {
      if (!c.note.empty()) c.note += ' ';
      c.note += value;
    } else {
      fail(file, line_no, "unknown key '" + std::string(key) + "'");
    }
  }
  for (const Case& c : out) {
    if (c.side == Side::request && c.send.empty())
      fail(file, c.line, "case " + c.name + ": a request-side case needs send:");
    if (c.side == Side::response && c.reply.empty())
      fail(file, c.line, "case " + c.name + ": a response-side case needs reply:");
  }
  return out;
}

std::vector<Case> load_cases(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec))
      if (entry.path().extension() == ".case") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  if (files.empty()) throw std::runtime_error(path + ": no *.case files");
  std::vector<Case> all;
  std::set<std::string> names;
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw std::runtime_error(f + ": cannot read");
    std::ostringstream s;
    s << in.rdbuf();
    for (Case& c : parse_cases(s.str(), f)) {
      if (!names.insert(c.name).second)
        throw std::runtime_error(f + ":" + std::to_string(c.line) + ": case name " + c.name +
                                 " is used by another file too");
      all.push_back(std::move(c));
    }
  }
  return all;
}

} // namespace weir::conformance
