// weir-conformance: sends raw-byte cases through any HTTP/1.1 proxy on a loopback port and
// compares what the proxy answered, whether it closed the connection and what reached the
// upstream (a fake one this program runs) with each case's expectations (written for weir).
// See tests/conformance/README.md.
#include "case_file.h"
#include "fake_upstream.h"
#include "runner.h"

#include <charconv>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace weir::conformance;

constexpr std::string_view kUsage =
    R"(usage: weir-conformance --proxy-port P --upstream-port U --cases DIR|FILE
                        [--filter TEXT[,TEXT...]] [--report FILE] [--observe] [--verbose]
                        [--timeout-ms N]

Runs a fake upstream on 127.0.0.1:U, sends every case through the proxy on 127.0.0.1:P and prints
one line per case (PASS name / FAIL name: ...), then "N passed, N failed". Exit status 0 when
every case passed, 1 otherwise, 2 on a usage or case-file error.

  --filter TEXT   only cases whose name contains TEXT (several: comma-separated, any matches)
  --report FILE   a tab-separated line per case: name, side, result, expected, answers,
                  connection, upstream, mismatches, note
  --observe       print what the proxy did for every case (answers | connection | upstream);
                  the exit status is 0 whatever the results (for proxies other than weir)
  --verbose       on a failure, also print the bytes the upstream received and the answers
  --timeout-ms N  longest wait for one answer (default 3000)
)";

bool parse_port(std::string_view s, uint16_t& out) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

std::string tsv(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

bool selected(const std::string& name, const std::string& filter) {
  if (filter.empty()) return true;
  std::string_view f = filter;
  while (!f.empty()) {
    size_t comma = f.find(',');
    std::string_view item = f.substr(0, comma);
    if (!item.empty() && name.find(item) != std::string::npos) return true;
    if (comma == std::string_view::npos) break;
    f.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  RunOptions options;
  uint16_t upstream_port = 0;
  bool have_proxy = false, have_upstream = false, observe = false, verbose = false;
  std::string cases_path, filter, report_path;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) {
        std::cerr << "weir-conformance: " << a << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--proxy-port") {
      have_proxy = parse_port(value(), options.proxy_port) && options.proxy_port != 0;
    } else if (a == "--upstream-port") {
      have_upstream = parse_port(value(), upstream_port) && upstream_port != 0;
    } else if (a == "--cases") {
      cases_path = value();
    } else if (a == "--filter") {
      filter = value();
    } else if (a == "--report") {
      report_path = value();
    } else if (a == "--observe") {
      observe = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--timeout-ms") {
      std::string_view v = value();
      unsigned ms = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
      if (ec != std::errc() || end != v.data() + v.size() || ms == 0) {
        std::cerr << "weir-conformance: bad --timeout-ms\n";
        return 2;
      }
      options.timeout = std::chrono::milliseconds(ms);
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "weir-conformance: unknown argument " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (!have_proxy || !have_upstream || cases_path.empty()) {
    std::cerr << "weir-conformance: --proxy-port, --upstream-port and --cases are required\n"
              << kUsage;
    return 2;
  }

  std::vector<Case> cases;
  try {
    cases = load_cases(cases_path);
  } catch (const std::exception& e) {
    std::cerr << "weir-conformance: " << e.what() << "\n";
    return 2;
  }

  std::unique_ptr<FakeUpstream> upstream;
  try {
    upstream = std::make_unique<FakeUpstream>(upstream_port);
  } catch (const std::exception& e) {
    std::cerr << "weir-conformance: " << e.what() << "\n";
    return 2;
  }

  std::ofstream report;
  if (!report_path.empty()) {
    report.open(report_path, std::ios::trunc);
    if (!report) {
      std::cerr << "weir-conformance: cannot write " << report_path << "\n";
      return 2;
    }
    report << "name\tside\tresult\texpected\tanswers\tconnection\tupstream\tmismatches\tnote\n";
  }

  int passed = 0, failed = 0, sequence = 0;
  std::vector<std::string> failed_names;
  for (const Case& c : cases) {
    if (!selected(c.name, filter)) continue;
    Observation o = run_case(c, *upstream, options, ++sequence);
    std::vector<std::string> bad = mismatches(c, o);
    std::string joined;
    for (const std::string& m : bad)
      joined += (joined.empty() ? "" : "; ") + m;
    if (bad.empty()) {
      ++passed;
    } else {
      ++failed;
      failed_names.push_back(c.name);
    }
    if (observe) {
      std::cout << (bad.empty() ? "SAME " : "DIFF ") << c.name << " | " << describe_responses(o)
                << " | " << describe_connection(o) << " | upstream: " << describe_upstream(o)
                << "\n";
    } else if (bad.empty()) {
      std::cout << "PASS " << c.name << "\n";
    } else {
      std::cout << "FAIL " << c.name << ": " << joined << "\n";
    }
    if (verbose && !bad.empty()) {
      std::cout << "  expected: " << describe_expected(c) << "\n  sent: " << printable(c.send, 400)
                << "\n";
      for (const ObservedResponse& r : o.responses)
        std::cout << "  answer: " << printable(r.text, 400) << "\n";
      for (const ObservedResponse& r : o.extra)
        std::cout << "  extra answer: " << printable(r.text, 400) << "\n";
      if (!o.unparsed.empty()) std::cout << "  unparsed: " << printable(o.unparsed, 400) << "\n";
      for (size_t i = 0; i < o.upstream.connections.size(); ++i)
        std::cout << "  upstream connection " << i + 1 << ": "
                  << printable(o.upstream.connections[i], 600) << "\n";
    }
    std::cout.flush();
    if (report) {
      report << c.name << '\t' << (c.side == Side::request ? "request" : "response") << '\t'
             << (bad.empty() ? "PASS" : "FAIL") << '\t' << tsv(describe_expected(c)) << '\t'
             << tsv(describe_responses(o)) << '\t' << describe_connection(o) << '\t'
             << tsv(describe_upstream(o)) << '\t' << tsv(joined) << '\t' << tsv(c.note) << '\n';
    }
  }
  if (observe) {
    std::cout << passed << " as expected for weir, " << failed << " different\n";
    return 0;
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  if (!failed_names.empty()) {
    std::cout << "failed:";
    for (const std::string& n : failed_names)
      std::cout << ' ' << n;
    std::cout << "\n";
  }
  return failed == 0 ? 0 : 1;
}
