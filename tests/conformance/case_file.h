#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Conformance cases: raw bytes a client sends (request side) or a fake upstream answers
// (response side), with what a proxy is expected to do. The text format is described in
// tests/conformance/README.md; this is its only reader.
namespace weir::conformance {

enum class Side { request, response };
enum class Tristate { any, yes, no };
enum class UpstreamExpectation { any, nothing, something };

// One expected response: any of `statuses`; `forwarded` requires the fake upstream's marker
// header (x-conformance), i.e. the proxy relayed the upstream's answer rather than its own.
struct ExpectedResponse {
  std::vector<int> statuses;
  bool forwarded = false;
};

struct Case {
  std::string name;
  std::string file;
  int line = 0;
  Side side = Side::request;
  std::string send;        // what the client sends; response side: a default GET if empty
  std::string reply;       // response side: what the fake upstream answers
  bool reply_keep = false; // response side: the upstream keeps the connection after the reply
  // nullopt: no expectation (observe only); an empty vector: no response at all.
  std::optional<std::vector<ExpectedResponse>> expect;
  Tristate closed = Tristate::any; // the proxy closed the client connection afterwards
  UpstreamExpectation upstream = UpstreamExpectation::any;
  int upstream_requests = -1;            // exact number of requests the upstream must see; -1: any
  std::vector<std::string> upstream_has; // case-insensitive substrings
  std::vector<std::string> upstream_lacks; // case-insensitive substrings
  std::vector<std::string> upstream_lines; // exact lines (a header's name case-insensitive)
  std::vector<std::string> client_has;     // case-insensitive, in the responses as received
  std::vector<std::string> client_lacks;
  Tristate reply_reused = Tristate::any; // response side: another request on the reply's conn
  // Answers (1-based, in order) that belong to HEAD requests and so carry no body; by default
  // the first when the case sends "HEAD ...".
  std::vector<int> head_answers;
  std::string note;

  bool head_answer(size_t index) const; // 0-based
};

// Reads every *.case file of `path` (a directory, sorted by name) or the single file `path`.
// Throws std::runtime_error("FILE:LINE: message") on the first malformed line.
std::vector<Case> load_cases(const std::string& path);

// Parses one file's text; `file` names it in errors and in Case::file.
std::vector<Case> parse_cases(std::string_view text, const std::string& file);

// C escapes (\r \n \t \0 \\ \xNN \{) and repetitions {{N*TEXT}} to bytes. nullopt if malformed.
std::optional<std::string> unescape(std::string_view text);

// Bytes as C-escaped text, cut after `limit` bytes.
std::string printable(std::string_view bytes, size_t limit = 200);

} // namespace weir::conformance
