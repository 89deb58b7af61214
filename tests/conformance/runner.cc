#include "runner.h"

#include "support/client.h"

#include <algorithm>

namespace weir::conformance {

namespace {

using test::HttpResponse;
using test::RawClient;

constexpr int kMaxResponses = 8;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool icontains(std::string_view haystack, std::string_view needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// An exact line, except that a header field's name compares case-insensitively and the
// whitespace around its value is not significant.
bool same_line(std::string_view line, std::string_view pattern) {
  if (line == pattern) return true;
  size_t a = line.find(':'), b = pattern.find(':');
  if (a == std::string_view::npos || b == std::string_view::npos || a == 0 || b == 0) return false;
  return test::iequals(line.substr(0, a), pattern.substr(0, b)) &&
         trim(line.substr(a + 1)) == trim(pattern.substr(b + 1));
}

bool has_line(std::string_view bytes, std::string_view pattern) {
  while (!bytes.empty()) {
    size_t eol = bytes.find("\r\n");
    if (same_line(bytes.substr(0, eol), pattern)) return true;
    if (eol == std::string_view::npos) break;
    bytes.remove_prefix(eol + 2);
  }
  return false;
}

ObservedResponse observed(const HttpResponse& r) {
  ObservedResponse o;
  o.status = r.status;
  o.forwarded = r.has_header("x-conformance");
  o.target = r.header("x-conformance-target");
  o.text = r.version + " " + std::to_string(r.status) + " " + r.reason + "\r\n";
  for (const auto& [name, value] : r.headers)
    o.text += name + ": " + value + "\r\n";
  o.text += "\r\n" + r.body;
  o.complete = r.complete;
  return o;
}

bool interim(int status) {
  return status >= 100 && status < 200 && status != 101;
}

std::string short_form(const ObservedResponse& r) {
  std::string s = (r.forwarded ? "fwd " : "") + std::to_string(r.status);
  if (!r.complete) s += " (truncated)";
  return s;
}

// The expected final answers, or all of them when the case names an interim status.
bool expects_interim(const Case& c) {
  if (!c.expect) return false;
  for (const ExpectedResponse& e : *c.expect)
    for (int s : e.statuses)
      if (interim(s)) return true;
  return false;
}

} // namespace

Observation run_case(const Case& c, FakeUpstream& upstream, const RunOptions& options,
                     int sequence) {
  Observation o;
  upstream.begin_case(c.side == Side::response ? c.reply : std::string(), c.reply_keep);
  std::string send = c.send;
  if (send.empty())
    send = "GET /conformance/" + c.name + " HTTP/1.1\r\nHost: conformance.test\r\n\r\n";
  const std::string seq = std::to_string(sequence);
  {
    auto client = RawClient::connect(options.proxy_port);
    if (client) {
      client->send(send); // the proxy may close before it has read everything
      size_t wanted = c.expect && !c.expect->empty() ? c.expect->size() : 1;
      size_t counted = 0;
      while (counted < wanted && o.responses.size() < kMaxResponses) {
        auto r = client->read_response(options.timeout, c.head_answer(o.responses.size()));
        if (!r) break;
        o.responses.push_back(observed(*r));
        if (!interim(r->status) || expects_interim(c)) ++counted;
        if (r->status == 101 || !r->complete) break;
      }
      // A keep-alive probe: its own answer proves the connection open and in step; any other
      // answer before it is one the case should not have produced.
      const std::string probe_target = std::string(kRunnerPrefix) + "probe/" + seq;
      client->send("GET " + probe_target + " HTTP/1.1\r\nHost: conformance.test\r\n\r\n");
      bool answered = false;
      for (int i = 0; i < kMaxResponses && !answered; ++i) {
        auto r = client->read_response(options.timeout);
        if (!r) break;
        if (r->header("x-conformance-target") == probe_target) {
          answered = true;
        } else if (!interim(r->status)) {
          o.extra.push_back(observed(*r));
        }
      }
      if (answered) {
        o.connection = ConnectionState::open;
      } else {
        o.unparsed = std::string(client->buffered());
        o.connection = client->closed_by_peer(std::chrono::milliseconds(0))
                           ? ConnectionState::closed
                           : ConnectionState::silent;
      }
    }
  }
  // A barrier: a request on a new connection that the upstream must see before the case's
  // recording ends, and whose answer must be its own (not bytes left over from the case).
  const std::string barrier_target = std::string(kRunnerPrefix) + "barrier/" + seq;
  auto barrier = RawClient::connect(options.proxy_port);
  if (!barrier) {
    o.barrier_problem = "cannot connect for the next request";
  } else {
    barrier->send("GET " + barrier_target + " HTTP/1.1\r\nHost: conformance.test\r\n\r\n");
    auto r = barrier->read_response(options.timeout);
    while (r && interim(r->status))
      r = barrier->read_response(options.timeout);
    if (!r) {
      o.barrier_problem = "the next request (new connection) got no answer";
    } else if (r->header("x-conformance-target") != barrier_target) {
      o.barrier_problem = "the next request (new connection) got a foreign answer: " +
                          printable(observed(*r).text, 120);
    }
    upstream.wait_for_target(barrier_target, options.timeout);
  }
  o.upstream = upstream.end_case();
  return o;
}

std::vector<std::string> mismatches(const Case& c, const Observation& o) {
  std::vector<std::string> out;
  if (o.connection == ConnectionState::none) {
    out.push_back("cannot connect to the proxy");
    return out;
  }
  if (c.expect) {
    bool all = expects_interim(c);
    std::vector<const ObservedResponse*> got;
    for (const ObservedResponse& r : o.responses)
      if (all || !interim(r.status)) got.push_back(&r);
    bool ok = got.size() == c.expect->size();
    for (size_t i = 0; ok && i < got.size(); ++i) {
      const ExpectedResponse& e = (*c.expect)[i];
      ok = std::find(e.statuses.begin(), e.statuses.end(), got[i]->status) != e.statuses.end() &&
           (!e.forwarded || got[i]->forwarded);
    }
    if (!ok)
      out.push_back("answers: expected " + expected_answers(c) + ", got " + describe_responses(o));
  }
  bool truncated = std::any_of(o.responses.begin(), o.responses.end(),
                               [](const ObservedResponse& r) { return !r.complete; });
  if (truncated && o.connection != ConnectionState::closed)
    out.push_back("a truncated answer on a connection left " + describe_connection(o));
  if (!o.unparsed.empty())
    out.push_back("bytes that are no HTTP response: '" + printable(o.unparsed, 60) + "'");
  if (!o.extra.empty()) {
    std::string s = "unexpected extra answer(s) on the connection:";
    for (const ObservedResponse& r : o.extra) {
      s += ' ';
      s += short_form(r);
      if (!r.target.empty()) s.append(" for ").append(r.target);
    }
    out.push_back(s);
  }
  if (c.closed == Tristate::yes && o.connection != ConnectionState::closed)
    out.push_back("connection: expected closed, got " + describe_connection(o));
  if (c.closed == Tristate::no && o.connection != ConnectionState::open)
    out.push_back("connection: expected kept open, got " + describe_connection(o));
  if (c.upstream == UpstreamExpectation::nothing && !o.upstream.empty())
    out.push_back("upstream: expected nothing, got " + describe_upstream(o));
  if (c.upstream == UpstreamExpectation::something && o.upstream.empty())
    out.push_back("upstream: expected a request, got nothing");
  if (c.upstream_requests >= 0 &&
      o.upstream.request_lines.size() != static_cast<size_t>(c.upstream_requests))
    out.push_back("upstream: expected " + std::to_string(c.upstream_requests) +
                  " request(s), got " + describe_upstream(o));
  auto any_connection = [&](auto pred) {
    return std::any_of(o.upstream.connections.begin(), o.upstream.connections.end(), pred);
  };
  for (const std::string& s : c.upstream_has)
    if (!any_connection([&](const std::string& b) { return icontains(b, s); }))
      out.push_back("upstream lacks '" + printable(s) + "'");
  for (const std::string& s : c.upstream_lacks)
    if (any_connection([&](const std::string& b) { return icontains(b, s); }))
      out.push_back("upstream received '" + printable(s) + "'");
  for (const std::string& s : c.upstream_lines)
    if (!any_connection([&](const std::string& b) { return has_line(b, s); }))
      out.push_back("upstream has no line '" + printable(s) + "'");
  std::string client_text;
  for (const ObservedResponse& r : o.responses)
    client_text += r.text;
  for (const ObservedResponse& r : o.extra)
    client_text += r.text;
  for (const std::string& s : c.client_has)
    if (!icontains(client_text, s)) out.push_back("client did not get '" + printable(s) + "'");
  for (const std::string& s : c.client_lacks)
    if (icontains(client_text, s)) out.push_back("client got '" + printable(s) + "'");
  if (c.reply_reused == Tristate::no && o.upstream.reply_connection_reused)
    out.push_back("the upstream connection that carried the reply was used again");
  if (c.reply_reused == Tristate::yes && !o.upstream.reply_connection_reused)
    out.push_back("the upstream connection that carried the reply was not used again");
  if (!o.barrier_problem.empty()) out.push_back(o.barrier_problem);
  return out;
}

std::string expected_answers(const Case& c) {
  std::string s;
  if (!c.expect) {
    s = "any answer";
  } else if (c.expect->empty()) {
    s = "no answer";
  } else {
    for (const ExpectedResponse& e : *c.expect) {
      if (!s.empty()) s += ", ";
      if (e.forwarded) s += "fwd ";
      for (size_t i = 0; i < e.statuses.size(); ++i) {
        if (i) s += '|';
        s += std::to_string(e.statuses[i]);
      }
    }
  }
  return s;
}

std::string describe_expected(const Case& c) {
  std::string s = expected_answers(c);
  if (c.closed == Tristate::yes) s += "; closed";
  if (c.closed == Tristate::no) s += "; open";
  if (c.upstream == UpstreamExpectation::nothing) s += "; upstream: nothing";
  if (c.upstream == UpstreamExpectation::something) s += "; upstream: something";
  return s;
}

std::string describe_responses(const Observation& o) {
  if (o.connection == ConnectionState::none) return "no connection";
  std::string s;
  for (const ObservedResponse& r : o.responses) {
    if (!s.empty()) s += ", ";
    s += short_form(r);
  }
  if (s.empty()) s = "no answer";
  if (!o.unparsed.empty()) s += " + garbage '" + printable(o.unparsed, 40) + "'";
  return s;
}

std::string describe_connection(const Observation& o) {
  switch (o.connection) {
  case ConnectionState::closed:
    return "closed";
  case ConnectionState::open:
    return "open";
  case ConnectionState::silent:
    return "open, not answering";
  case ConnectionState::none:
    return "no connection";
  }
  return "?";
}

std::string describe_upstream(const Observation& o) {
  const Recording& r = o.upstream;
  if (r.empty()) return "nothing";
  size_t bytes = 0;
  for (const std::string& c : r.connections)
    bytes += c.size();
  std::string s;
  if (r.request_lines.empty()) {
    s = std::to_string(bytes) + " bytes, no complete request";
  } else {
    s = std::to_string(r.request_lines.size()) + " request(s):";
    for (const std::string& line : r.request_lines)
      s += " [" + printable(line, 60) + "]";
  }
  if (r.reply_connection_reused) s += "; reply connection reused";
  return s;
}

} // namespace weir::conformance
