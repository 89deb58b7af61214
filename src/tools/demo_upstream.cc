// weir-demo-upstream: a small, fast HTTP/1.1 origin for the demo, integration tests and
// benchmarks. It must never be the bottleneck behind the proxy, so it follows the same habits as
// the data plane: one io_context and one SO_REUSEPORT listener per thread, fixed per-connection
// buffers, parse in place, one gathered write per batch of pipelined responses, and no heap
// allocation per request once a connection is warm.
#include "weir/http/parser.h"
#include "weir/http/rewrite.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using weir::http::Framing;
using weir::http::Head;
using weir::http::Parser;

constexpr const char* kUsage =
    R"(usage: weir-demo-upstream --listen ADDR --name NAME [options]

A demo HTTP/1.1 upstream. Prints "listening on HOST:PORT" once it accepts connections.

  --listen ADDR     host:port or [v6]:port; port 0 picks a free port
  --name NAME       sent as "x-served-by: NAME" and as the body "NAME\n" of plain GETs
  --delay-ms N      delay every response (except /healthz) by N ms
  --status N        status of failed responses (default 500); without --fail-rate every
                    response gets it
  --fail-rate F     share of requests (0..1) answered with --status, pseudo-random
  --seed N          seed of the failure sequence (default 1)
  --threads N       worker threads, each with its own SO_REUSEPORT listener (default 1)
  --count-header H  count requests with and without header H (e.g. x-weir-synthetic); GET
                    /counts answers "with N\nwithout M\n" (/healthz and /counts not counted)
  --metrics PATH    count responses by status class; GET PATH (e.g. /metrics) answers them in
                    Prometheus' text format: weir_demo_responses_total{code="2xx"} N, ...
                    (/healthz and PATH not counted)
  --json-field K=V  plain GETs answer the JSON {"K":"V","served_by":"NAME"} instead of
                    "NAME\n" (K and V: letters, digits, '_', '.', '-')
  --json-diverge-rate F  with --json-field, a share F (0..1) of those answers, pseudo-random,
                    carry "V-diverged" instead: a canary that differs in one JSON field
  --help            this text

Endpoints (any path unless named):
  GET /healthz          200 "ok\n"; never delayed, never failed
  GET /counts           with --count-header: the counts; never delayed, never failed
  GET /echo-headers     body: the request headers, one "Name: value\n" each, in order
  POST, PUT             echo the request body as it arrives (Content-Length or chunked, as sent)
  GET + Upgrade: websocket   101, then echo every frame (ping -> pong, close -> close)
Query overrides: ?status=N ?delay_ms=N ?bytes=N (body of N pattern bytes) ?chunked=1
  ?close_after_bytes=N (declare more, close after N body bytes) ?headers=N (x-h-1..x-h-N: v)
The pattern body repeats the 64-byte line "0-9a-zA-Z-\n": byte i is line[i % 64].
SIGTERM/SIGINT exit 0.
)";

constexpr size_t kReadBufferBytes = 32 * 1024; // twice the largest head the parser accepts
constexpr size_t kMinReadRoom = 4096;          // below this a partial head is moved to the front
constexpr size_t kPatternChunk = 16 * 1024;
constexpr size_t kChunksPerWrite = 4;
constexpr size_t kMaxFreeConnections = 256;
constexpr size_t kAcceptBatch = 64;
constexpr uint64_t kMaxDelayMs = 3600 * 1000;
constexpr uint64_t kMaxExtraHeaders = 100000;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// 64-byte lines, so every 16 KiB chunk starts at the same phase and one static chunk serves
// any offset of any body.
constexpr std::string_view kPatternLine =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
static_assert(kPatternLine.size() == 64 && kPatternChunk % 64 == 0);

constexpr std::array<char, kPatternChunk> make_pattern() {
  std::array<char, kPatternChunk> p{};
  for (size_t i = 0; i < p.size(); ++i)
    p[i] = kPatternLine[i % kPatternLine.size()];
  return p;
}
constexpr std::array<char, kPatternChunk> kPattern = make_pattern();

// ---------------------------------------------------------------------------------------------
// Options and the immutable configuration every worker reads.

struct Options {
  asio::ip::address address;
  uint16_t port = 0;
  std::string name;
  uint64_t delay_ms = 0;
  int status = 500;
  bool status_set = false;
  double fail_rate = 0;
  bool fail_rate_set = false;
  unsigned threads = 1;
  uint64_t seed = 1;
  std::string count_header;
  std::string metrics_path;
  std::string json_field; // "K=V"
  double json_diverge_rate = 0;
};

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_rate(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && out >= 0.0 && out <= 1.0;
}

bool valid_status(uint64_t status) {
  return status >= 200 && status <= 599;
}

bool parse_listen(std::string_view text, Options& opt, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "--listen: expected [v6]:port, got '" + std::string(text) + "'";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "--listen: expected host:port, got '" + std::string(text) + "'";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint64_t p = 0;
  if (!parse_u64(port, p) || p > 65535) {
    error = "--listen: bad port '" + std::string(port) + "'";
    return false;
  }
  opt.port = static_cast<uint16_t>(p);
  if (host == "localhost") host = "127.0.0.1";
  error_code ec;
  opt.address = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    error = "--listen: '" + std::string(host) + "' is not an IPv4 or IPv6 address";
    return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

// Returns 0 to run, or the exit status (0 for --help, 2 for bad arguments).
int parse_options(int argc, char** argv, Options& opt) {
  bool have_listen = false;
  std::string error;
  auto fail = [&](const std::string& message) {
    std::fprintf(stderr, "weir-demo-upstream: %s\n(see --help)\n", message.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    }
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return fail("option " + arg + " needs a value");
      value = argv[++i];
    } else {
      return fail("unexpected argument '" + arg + "'");
    }
    uint64_t n = 0;
    if (arg == "--listen") {
      if (!parse_listen(value, opt, error)) return fail(error);
      have_listen = true;
    } else if (arg == "--name") {
      if (!valid_name(value))
        return fail("--name: must be 1-256 visible ASCII characters without spaces");
      opt.name = value;
    } else if (arg == "--delay-ms") {
      if (!parse_u64(value, n) || n > kMaxDelayMs)
        return fail("--delay-ms: expected 0.." + std::to_string(kMaxDelayMs));
      opt.delay_ms = n;
    } else if (arg == "--status") {
      if (!parse_u64(value, n) || !valid_status(n)) return fail("--status: expected 200..599");
      opt.status = static_cast<int>(n);
      opt.status_set = true;
    } else if (arg == "--fail-rate") {
      if (!parse_rate(value, opt.fail_rate)) return fail("--fail-rate: expected a number in 0..1");
      opt.fail_rate_set = true;
    } else if (arg == "--threads") {
      if (!parse_u64(value, n) || n < 1 || n > 256) return fail("--threads: expected 1..256");
      opt.threads = static_cast<unsigned>(n);
    } else if (arg == "--count-header") {
      if (!valid_name(value) || value.find(':') != std::string::npos)
        return fail("--count-header: expected a header name");
      opt.count_header = value;
    } else if (arg == "--metrics") {
      if (value.empty() || value[0] != '/' || !valid_name(value))
        return fail("--metrics: expected a path like /metrics");
      opt.metrics_path = value;
    } else if (arg == "--json-field") {
      const size_t eq = value.find('=');
      const bool sane = eq != std::string::npos && eq > 0 && eq + 1 < value.size() &&
                        std::all_of(value.begin(), value.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                 c == '.' || c == '-' || c == '=';
                        });
      if (!sane) return fail("--json-field: expected KEY=VALUE of letters, digits, _ . -");
      opt.json_field = value;
    } else if (arg == "--json-diverge-rate") {
      if (!parse_rate(value, opt.json_diverge_rate))
        return fail("--json-diverge-rate: expected a number in 0..1");
    } else if (arg == "--seed") {
      if (!parse_u64(value, n)) return fail("--seed: expected an unsigned integer");
      opt.seed = n;
    } else {
      return fail("unknown option " + arg);
    }
  }
  if (!have_listen) return fail("--listen is required");
  if (opt.name.empty()) return fail("--name is required");
  return 0;
}

// Read-only after start; shared by every worker thread.
struct Config {
  std::string name;
  std::string name_line; // the plain GET body: NAME + "\n"
  uint64_t delay_ms = 0;
  int fail_status = 500;
  bool always_fail = false;
  uint64_t fail_threshold = 0; // fail when the next random value is below it
  uint64_t seed = 1;
  std::string ok_response;  // complete 200 keep-alive response to a plain GET
  std::string count_header; // "" = nothing counted
  std::string metrics_path; // "" = no response counts
  std::string json_body;    // --json-field: the plain GET body ("" = name_line)
  std::string json_diverged_body;
  uint64_t diverge_threshold = 0; // diverge when the next random value is below it
};

// --count-header: requests with and without the header, over every worker thread. Only bumped
// when the option is given (a test's tool, not on the benchmark path).
std::atomic<uint64_t> g_with_header{0};
std::atomic<uint64_t> g_without_header{0};

// --metrics: responses by status class (index status / 100), over every worker thread; like the
// header counts, only bumped when the option is given (an external-metrics test's source).
std::array<std::atomic<uint64_t>, 6> g_responses{};

std::string metrics_text() {
  std::string out = "# HELP weir_demo_responses_total Responses by status class.\n"
                    "# TYPE weir_demo_responses_total counter\n";
  for (size_t i = 1; i < g_responses.size(); ++i)
    out += "weir_demo_responses_total{code=\"" + std::to_string(i) + "xx\"} " +
           std::to_string(g_responses[i].load(std::memory_order_relaxed)) + "\n";
  return out;
}

Config make_config(const Options& opt) {
  Config c;
  c.name = opt.name;
  c.name_line = opt.name + "\n";
  c.delay_ms = opt.delay_ms;
  c.fail_status = opt.status;
  c.seed = opt.seed;
  c.count_header = opt.count_header;
  c.metrics_path = opt.metrics_path;
  double rate = opt.fail_rate_set ? opt.fail_rate : (opt.status_set ? 1.0 : 0.0);
  c.always_fail = rate >= 1.0;
  c.fail_threshold = rate <= 0.0 ? 0 : static_cast<uint64_t>(rate * 18446744073709551616.0);
  if (!opt.json_field.empty()) {
    const size_t eq = opt.json_field.find('=');
    const std::string key = opt.json_field.substr(0, eq);
    const std::string value = opt.json_field.substr(eq + 1);
    auto body = [&](const std::string& v) {
      return "{\"" + key + "\":\"" + v + "\",\"served_by\":\"" + opt.name + "\"}\n";
    };
    c.json_body = body(value);
    c.json_diverged_body = body(value + "-diverged");
    c.diverge_threshold =
        opt.json_diverge_rate <= 0.0
            ? 0
            : static_cast<uint64_t>(opt.json_diverge_rate * 18446744073709551616.0);
  }
  c.ok_response = "HTTP/1.1 200 OK\r\nx-served-by: " + c.name +
                  "\r\nContent-Length: " + std::to_string(c.name_line.size()) + "\r\n\r\n" +
                  c.name_line;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_hex(std::string& out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, r.ptr);
}

bool contains_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (weir::http::iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2.
std::string_view websocket_accept(std::string_view key, std::array<char, 32>& out) {
  char input[128];
  if (key.size() + kWebSocketGuid.size() > sizeof input) key = key.substr(0, 64);
  std::memcpy(input, key.data(), key.size());
  std::memcpy(input + key.size(), kWebSocketGuid.data(), kWebSocketGuid.size());
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input), key.size() + kWebSocketGuid.size(), digest);
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, sizeof digest);
  return {out.data(), static_cast<size_t>(n)};
}

// XORs a WebSocket payload piece with the mask; `phase` is the payload offset of p[0].
void unmask(char* p, size_t n, const uint8_t mask[4], size_t phase) {
  uint8_t m[8];
  for (size_t i = 0; i < 8; ++i)
    m[i] = mask[(phase + i) & 3];
  uint64_t m64;
  std::memcpy(&m64, m, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    v ^= m64;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; ++i)
    p[i] = static_cast<char>(p[i] ^ m[i & 7]);
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Query overrides; unknown keys are ignored.
struct Query {
  int status = 0;
  bool has_delay = false;
  uint64_t delay_ms = 0;
  bool has_bytes = false;
  uint64_t bytes = 0;
  bool chunked = false;
  bool has_close_after = false;
  uint64_t close_after = 0;
  uint64_t headers = 0;
};

bool parse_query(std::string_view q, Query& out) {
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
    uint64_t n = 0;
    if (key == "status") {
      if (!parse_u64(value, n) || !valid_status(n)) return false;
      out.status = static_cast<int>(n);
    } else if (key == "delay_ms") {
      if (!parse_u64(value, n) || n > kMaxDelayMs) return false;
      out.has_delay = true;
      out.delay_ms = n;
    } else if (key == "bytes") {
      if (!parse_u64(value, out.bytes)) return false;
      out.has_bytes = true;
    } else if (key == "chunked") {
      if (value != "0" && value != "1" && value != "true" && value != "false") return false;
      out.chunked = value == "1" || value == "true";
    } else if (key == "close_after_bytes") {
      if (!parse_u64(value, out.close_after)) return false;
      out.has_close_after = true;
    } else if (key == "headers") {
      if (!parse_u64(value, out.headers) || out.headers > kMaxExtraHeaders) return false;
    }
  }
  return true;
}

// Splits an origin-form or absolute-form target into path and query.
void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
  size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.front() != '/') {
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// ---------------------------------------------------------------------------------------------

class Worker;

// One client connection. Worker thread only. At most one socket wait or write is outstanding at
// a time (plus the delay or linger timer), so the connection is a plain state machine: run()
// advances it until it has to wait, and every completion handler calls run() again.
class Connection {
public:
  explicit Connection(Worker& worker);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  tcp::socket& socket() { return socket_; }
  void start();
  void shutdown_now();

  Connection* prev_ = nullptr; // worker's list of live connections
  Connection* next_ = nullptr;

private:
  enum class Phase : uint8_t { head, delay, respond, stream, body, websocket, closing, lingering };
  enum class BodyKind : uint8_t { none, text, pattern, echo_headers, echo };

  // What to answer to the current request, decided once its head is parsed.
  struct Plan {
    int status = 200;
    BodyKind body = BodyKind::text;
    std::string_view text;
    uint64_t length = 0;            // pattern: declared Content-Length
    uint64_t send = 0;              // pattern: bytes actually sent
    bool truncate = false;          // close after `send` bytes
    bool chunked = false;           // Transfer-Encoding: chunked response
    bool until_close = false;       // no framing header; the body ends when we close
    bool close = false;             // close the connection after this response
    bool keep_alive_header = false; // HTTP/1.0 keep-alive client
    bool head_only = false;         // HEAD: headers as for GET, no body
    bool websocket = false;
    bool parse_error = false;
    bool expect_continue = false;
    uint64_t delay_ms = 0;
    uint64_t extra_headers = 0;
  };

  // A piece of the next write: bytes of wbuf_ (ext == nullptr) or bytes owned elsewhere (the read
  // buffer or the static pattern), which stay put until the write completes.
  struct Segment {
    const char* ext;
    size_t offset;
    size_t size;
  };

  template <class F> auto handler(F f);
  void resume();
  void run();
  void close();

  bool step_head();
  bool step_delay();
  bool step_respond();
  bool step_stream();
  bool step_body();
  bool step_websocket();
  bool step_closing();
  bool step_linger();

  void plan_request();
  void plan_error();
  void finish_message();
  void write_head(uint64_t length);
  void append_body_text(std::string_view text);
  void websocket_protocol_error();

  bool read_more();
  void compact();
  void wait(tcp::socket::wait_type type);
  bool flush();

  bool out_empty() const { return segs_.empty(); }
  void out(std::string_view s);
  void commit(size_t start);
  void out_ref(const char* p, size_t n);

  Worker& worker_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  Parser parser_;
  Plan plan_;
  Phase phase_ = Phase::head;
  bool dead_ = true;
  uint32_t ops_ = 0;

  size_t rpos_ = 0;      // next unparsed byte
  size_t rlen_ = 0;      // bytes in rbuf_
  size_t msg_start_ = 0; // where the current request head starts (head phase)
  uint64_t stream_left_ = 0;

  // WebSocket frame being echoed.
  uint64_t ws_left_ = 0;
  size_t ws_phase_ = 0;
  uint8_t ws_mask_[4] = {};
  bool ws_echo_ = false;
  bool ws_close_ = false;

  std::string wbuf_;
  std::string counts_body_; // GET /counts, or the --metrics path
  std::vector<Segment> segs_;
  std::vector<asio::const_buffer> bufs_;
  size_t bufs_pos_ = 0;

  alignas(64) char rbuf_[kReadBufferBytes];
};

// One thread's server: its io_context, its SO_REUSEPORT listener, its connections. Worker
// thread only, except construction/listen (before the thread starts) and stop().
class Worker {
public:
  Worker(const Config& config, unsigned index)
      : ctx_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), config_(config), acceptor_(ctx_), retry_(ctx_),
        rng_(config.seed + 0x1000193ULL * index) {
    free_.reserve(kMaxFreeConnections);
  }
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  error_code listen(const tcp::endpoint& endpoint);
  uint16_t port() const {
    error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }
  void run() {
    accept();
    ctx_.run();
  }
  void stop() { ctx_.stop(); }

  asio::io_context& context() { return ctx_; }
  const Config& config() const { return config_; }
  // --json-diverge-rate: whether this answer carries the changed field.
  bool roll_divergence() {
    return config_.diverge_threshold != 0 && splitmix64(rng_) < config_.diverge_threshold;
  }
  bool roll_failure() {
    if (config_.always_fail) return true;
    return config_.fail_threshold != 0 && splitmix64(rng_) < config_.fail_threshold;
  }
  void release(Connection* c);

private:
  Connection* acquire();
  void accept();
  void on_accept(Connection* c, const error_code& ec);

  asio::io_context ctx_;
  const Config& config_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::vector<Connection*> free_;
  Connection* live_ = nullptr;
  Connection* accepting_ = nullptr; // waiting in async_accept
  uint64_t rng_;
};

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(Worker& worker)
    : worker_(worker), socket_(worker.context()), timer_(worker.context()),
      parser_(Parser::Kind::request, weir::http::ParserLimits{}) {
  wbuf_.reserve(4096);
  segs_.reserve(64);
  bufs_.reserve(64);
}

void Connection::start() {
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  parser_.start_connection();
  phase_ = Phase::head;
  dead_ = false;
  ops_ = 0;
  rpos_ = rlen_ = msg_start_ = 0;
  wbuf_.clear();
  segs_.clear();
  bufs_.clear();
  bufs_pos_ = 0;
  if (ec) close();
  resume();
}

// Every completion runs through here: the connection is recycled only once it is closed and
// no operation of it is outstanding.
template <class F> auto Connection::handler(F f) {
  ++ops_;
  return [this, f](const error_code& ec, auto... result) {
    --ops_;
    if (!dead_) {
      if (ec)
        close(); // EOF, reset, or the peer vanished while we waited
      else
        f(result...);
    }
    if (dead_ && ops_ == 0) worker_.release(this);
  };
}

void Connection::resume() {
  if (!dead_) run();
  if (dead_ && ops_ == 0) worker_.release(this);
}

void Connection::close() {
  if (dead_) return;
  dead_ = true;
  error_code ec;
  socket_.close(ec);
  timer_.cancel();
}

// Closes without waiting for anything; the worker is stopping.
void Connection::shutdown_now() {
  dead_ = true;
  error_code ec;
  socket_.close(ec);
}

void Connection::run() {
  bool more = true;
  while (more && !dead_) {
    switch (phase_) {
    case Phase::head:
      more = step_head();
      break;
    case Phase::delay:
      more = step_delay();
      break;
    case Phase::respond:
      more = step_respond();
      break;
    case Phase::stream:
      more = step_stream();
      break;
    case Phase::body:
      more = step_body();
      break;
    case Phase::websocket:
      more = step_websocket();
      break;
    case Phase::closing:
      more = step_closing();
      break;
    case Phase::lingering:
      more = step_linger();
      break;
    }
  }
}

bool Connection::step_head() {
  if (rpos_ == rlen_) return read_more();
  size_t used = 0;
  Parser::Event ev = parser_.execute(rbuf_ + rpos_, rlen_ - rpos_, used);
  rpos_ += used;
  switch (ev) {
  case Parser::Event::need_more:
    return read_more();
  case Parser::Event::head:
    plan_request();
    return true;
  case Parser::Event::body:
  case Parser::Event::done:
  case Parser::Event::error:
    plan_error();
    return true;
  }
  return true;
}

void Connection::plan_error() {
  plan_ = Plan{};
  plan_.status = parser_.error() == weir::http::ParseError::none
                     ? 400
                     : weir::http::status_for(parser_.error());
  plan_.text = "bad request\n";
  plan_.close = true;
  plan_.parse_error = true;
  phase_ = Phase::respond;
}

void Connection::plan_request() {
  const Head& h = parser_.head();
  const Config& cfg = worker_.config();
  plan_ = Plan{};
  plan_.close = !h.keep_alive;
  plan_.keep_alive_header = h.version_minor == 0 && h.keep_alive;
  plan_.head_only = h.method_name == "HEAD";
  bool has_body =
      h.framing == Framing::chunked || (h.framing == Framing::length && h.content_length > 0);
  plan_.expect_continue = h.expect_continue && has_body && h.version_minor == 1;
  // After an Upgrade request llhttp hands over the rest of the stream; unless we switch
  // protocols, the connection ends with this response.
  if (h.upgrade) plan_.close = true;

  std::string_view path;
  std::string_view query;
  split_target(h.target, path, query);

  if (path == "/healthz") {
    plan_.text = "ok\n";
    phase_ = Phase::respond;
    return;
  }
  if (!cfg.metrics_path.empty() && path == cfg.metrics_path) {
    counts_body_ = metrics_text();
    plan_.text = counts_body_;
    phase_ = Phase::respond;
    return;
  }
  if (!cfg.count_header.empty()) {
    if (path == "/counts") {
      counts_body_ = "with " + std::to_string(g_with_header.load(std::memory_order_relaxed)) +
                     "\nwithout " +
                     std::to_string(g_without_header.load(std::memory_order_relaxed)) + "\n";
      plan_.text = counts_body_;
      phase_ = Phase::respond;
      return;
    }
    (h.find(cfg.count_header) ? g_with_header : g_without_header)
        .fetch_add(1, std::memory_order_relaxed);
  }
  Query q;
  if (!parse_query(query, q)) {
    plan_.status = 400;
    plan_.text = "bad query\n";
    plan_.close = true;
    phase_ = Phase::respond;
    return;
  }
  plan_.status = q.status != 0 ? q.status : (worker_.roll_failure() ? cfg.fail_status : 200);
  if (!cfg.metrics_path.empty())
    g_responses[static_cast<size_t>(plan_.status / 100) % g_responses.size()].fetch_add(
        1, std::memory_order_relaxed);
  plan_.delay_ms = q.has_delay ? q.delay_ms : cfg.delay_ms;
  plan_.extra_headers = q.headers;

  bool chunked_ok = h.version_minor == 1;
  if (h.method_name == "POST" || h.method_name == "PUT") {
    plan_.body = BodyKind::echo;
    if (h.framing == Framing::chunked) {
      plan_.chunked = chunked_ok;
      // An HTTP/1.0 client cannot read chunked framing: end the body by closing.
      plan_.until_close = !chunked_ok;
      plan_.close = plan_.close || !chunked_ok;
    } else {
      plan_.length = h.content_length;
    }
  } else {
    if (h.upgrade && h.method_name == "GET" && plan_.status == 200) {
      const auto* upgrade = h.find("upgrade");
      const auto* key = h.find("sec-websocket-key");
      if (upgrade && key && !key->value.empty() && contains_token(upgrade->value, "websocket")) {
        plan_.websocket = true;
        plan_.status = 101;
        plan_.close = false;
        plan_.body = BodyKind::none;
      }
    }
    if (!plan_.websocket) {
      if (path == "/echo-headers") {
        plan_.body = BodyKind::echo_headers;
      } else if (q.has_bytes || q.has_close_after) {
        plan_.body = BodyKind::pattern;
        plan_.length = q.has_bytes ? q.bytes : 0;
        plan_.send = plan_.length;
        if (q.has_close_after) {
          if (plan_.length <= q.close_after) plan_.length = q.close_after + kPatternChunk;
          plan_.send = q.close_after;
          plan_.truncate = true;
        }
      } else if (!cfg.json_body.empty()) {
        plan_.text = worker_.roll_divergence() ? cfg.json_diverged_body : cfg.json_body;
      } else {
        plan_.text = cfg.name_line;
      }
      plan_.chunked = q.chunked && chunked_ok;
    }
  }
  if (plan_.status == 204 || plan_.status == 304) {
    plan_.body = BodyKind::none; // a request body is read and dropped
    plan_.chunked = false;
    plan_.truncate = false;
  }
  phase_ = plan_.delay_ms > 0 ? Phase::delay : Phase::respond;
}

bool Connection::step_delay() {
  if (plan_.expect_continue) {
    out(kContinue);
    plan_.expect_continue = false;
  }
  if (!out_empty()) return flush();
  timer_.expires_after(std::chrono::milliseconds(plan_.delay_ms));
  timer_.async_wait(handler([this] {
    phase_ = Phase::respond;
    run();
  }));
  return false;
}

void Connection::write_head(uint64_t length) {
  const Config& cfg = worker_.config();
  wbuf_.append("HTTP/1.1 ");
  append_number(wbuf_, static_cast<uint64_t>(plan_.status));
  wbuf_.push_back(' ');
  wbuf_.append(weir::http::reason_phrase(plan_.status));
  wbuf_.append("\r\nx-served-by: ");
  wbuf_.append(cfg.name);
  wbuf_.append("\r\n");
  if (plan_.websocket) {
    std::array<char, 32> accept;
    const auto* key = parser_.head().find("sec-websocket-key");
    wbuf_.append("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    wbuf_.append(websocket_accept(key ? key->value : std::string_view(), accept));
    wbuf_.append("\r\n\r\n");
    return;
  }
  if (plan_.status == 204 || plan_.status == 304 || plan_.until_close) {
    // No framing header: 204/304 have no body; an until-close body ends with the connection.
  } else if (plan_.chunked) {
    wbuf_.append("Transfer-Encoding: chunked\r\n");
  } else {
    wbuf_.append("Content-Length: ");
    append_number(wbuf_, length);
    wbuf_.append("\r\n");
  }
  for (uint64_t i = 1; i <= plan_.extra_headers; ++i) {
    wbuf_.append("x-h-");
    append_number(wbuf_, i);
    wbuf_.append(": v\r\n");
  }
  if (plan_.close)
    wbuf_.append("Connection: close\r\n");
  else if (plan_.keep_alive_header)
    wbuf_.append("Connection: keep-alive\r\n");
  wbuf_.append("\r\n");
}

void Connection::append_body_text(std::string_view text) {
  if (plan_.head_only || text.empty()) return;
  if (plan_.chunked) {
    append_hex(wbuf_, text.size());
    wbuf_.append("\r\n");
    wbuf_.append(text);
    wbuf_.append("\r\n0\r\n\r\n");
  } else {
    wbuf_.append(text);
  }
}

bool Connection::step_respond() {
  if (plan_.expect_continue) out(kContinue);
  const Config& cfg = worker_.config();
  // The common case of every benchmark: one prebuilt response, one copy.
  if (plan_.body == BodyKind::text && plan_.status == 200 && !plan_.close &&
      !plan_.keep_alive_header && !plan_.chunked && !plan_.head_only && plan_.extra_headers == 0 &&
      plan_.text.data() == cfg.name_line.data()) {
    out(cfg.ok_response);
    phase_ = Phase::body;
    return true;
  }
  size_t start = wbuf_.size();
  switch (plan_.body) {
  case BodyKind::none:
    write_head(0);
    break;
  case BodyKind::text:
    write_head(plan_.text.size());
    append_body_text(plan_.text);
    break;
  case BodyKind::echo_headers: {
    const Head& h = parser_.head();
    uint64_t size = 0;
    for (const auto& hdr : h.headers)
      size += hdr.name.size() + 2 + hdr.value.size() + 1;
    write_head(size);
    if (!plan_.head_only && size > 0) {
      if (plan_.chunked) {
        append_hex(wbuf_, size);
        wbuf_.append("\r\n");
      }
      for (const auto& hdr : h.headers) {
        wbuf_.append(hdr.name);
        wbuf_.append(": ");
        wbuf_.append(hdr.value);
        wbuf_.push_back('\n');
      }
      if (plan_.chunked) wbuf_.append("\r\n0\r\n\r\n");
    }
    break;
  }
  case BodyKind::pattern:
    write_head(plan_.length);
    stream_left_ = plan_.head_only ? 0 : plan_.send;
    break;
  case BodyKind::echo:
    write_head(plan_.length);
    break;
  }
  commit(start);

  if (plan_.parse_error)
    phase_ = Phase::closing;
  else if (plan_.body == BodyKind::pattern)
    phase_ = Phase::stream;
  else
    phase_ = Phase::body;
  return true;
}

bool Connection::step_stream() {
  if (!out_empty()) return flush();
  if (stream_left_ == 0) {
    if (plan_.truncate) {
      phase_ = Phase::closing;
    } else {
      if (plan_.chunked && !plan_.head_only) out(kLastChunk);
      phase_ = Phase::body;
    }
    return true;
  }
  for (size_t i = 0; i < kChunksPerWrite && stream_left_ > 0; ++i) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kPatternChunk, stream_left_));
    if (plan_.chunked) {
      size_t at = wbuf_.size();
      append_hex(wbuf_, n);
      wbuf_.append("\r\n");
      commit(at);
    }
    out_ref(kPattern.data(), n);
    if (plan_.chunked) out("\r\n");
    stream_left_ -= n;
  }
  return flush();
}

bool Connection::step_body() {
  size_t used = 0;
  Parser::Event ev = parser_.execute(rbuf_ + rpos_, rlen_ - rpos_, used);
  rpos_ += used;
  if (ev == Parser::Event::body || ev == Parser::Event::done) {
    if (plan_.body == BodyKind::echo && !plan_.head_only) {
      uint64_t total = 0;
      for (std::string_view s : parser_.body())
        total += s.size();
      if (total > 0) {
        if (plan_.chunked) {
          size_t at = wbuf_.size();
          append_hex(wbuf_, total);
          wbuf_.append("\r\n");
          commit(at);
        }
        for (std::string_view s : parser_.body())
          if (!s.empty()) out_ref(s.data(), s.size());
        if (plan_.chunked) out("\r\n");
      }
    }
  }
  switch (ev) {
  case Parser::Event::body:
    // An empty call reports an empty body piece: nothing more is buffered.
    if (used == 0) return read_more();
    return true;
  case Parser::Event::need_more:
    return read_more();
  case Parser::Event::done:
    finish_message();
    return true;
  case Parser::Event::head:
  case Parser::Event::error:
    // The response is already under way; a broken body can only end the connection.
    phase_ = Phase::closing;
    return true;
  }
  return true;
}

void Connection::finish_message() {
  if (plan_.body == BodyKind::echo && plan_.chunked) out(kLastChunk);
  if (plan_.websocket) {
    phase_ = Phase::websocket;
    ws_left_ = 0;
    ws_close_ = false;
    return;
  }
  if (plan_.close) {
    phase_ = Phase::closing;
    return;
  }
  parser_.reset();
  msg_start_ = rpos_;
  phase_ = Phase::head;
}

void Connection::websocket_protocol_error() {
  static constexpr char kClose1002[] = {'\x88', '\x02', '\x03', '\xea'};
  out(std::string_view(kClose1002, sizeof kClose1002));
  phase_ = Phase::closing;
}

bool Connection::step_websocket() {
  if (ws_left_ > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(rlen_ - rpos_, ws_left_));
    if (n == 0) return read_more();
    char* p = rbuf_ + rpos_;
    unmask(p, n, ws_mask_, ws_phase_);
    if (ws_echo_) out_ref(p, n);
    rpos_ += n;
    ws_left_ -= n;
    ws_phase_ = (ws_phase_ + n) & 3;
    if (ws_left_ == 0 && ws_close_) phase_ = Phase::closing;
    return true;
  }
  size_t avail = rlen_ - rpos_;
  if (avail < 2) return read_more();
  auto* b = reinterpret_cast<const uint8_t*>(rbuf_ + rpos_);
  uint8_t b0 = b[0];
  uint8_t len7 = b[1] & 0x7f;
  bool masked = (b[1] & 0x80) != 0;
  size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
  if (avail < need) return read_more();
  uint64_t len = len7;
  size_t at = 2;
  if (len7 == 126) {
    len = (uint64_t{b[2]} << 8) | b[3];
    at = 4;
  } else if (len7 == 127) {
    len = 0;
    for (size_t i = 0; i < 8; ++i)
      len = (len << 8) | b[2 + i];
    at = 10;
  }
  uint8_t opcode = b0 & 0x0f;
  bool control = (opcode & 0x08) != 0;
  bool known = opcode <= 2 || (opcode >= 8 && opcode <= 10);
  if ((b0 & 0x70) != 0 || !known || !masked || (len >> 63) != 0 ||
      (control && ((b0 & 0x80) == 0 || len > 125)) || (opcode == 8 && len == 1)) {
    websocket_protocol_error();
    return true;
  }
  std::memcpy(ws_mask_, b + at, 4);
  rpos_ += need;
  ws_left_ = len;
  ws_phase_ = 0;
  ws_echo_ = opcode != 0x0a; // pongs are not answered
  ws_close_ = opcode == 0x08;
  if (ws_echo_) {
    uint8_t hdr[10];
    size_t hn = 2;
    hdr[0] = opcode == 0x09 ? uint8_t{0x8a} : b0;
    if (len < 126) {
      hdr[1] = static_cast<uint8_t>(len);
    } else if (len <= 0xffff) {
      hdr[1] = 126;
      hdr[2] = static_cast<uint8_t>(len >> 8);
      hdr[3] = static_cast<uint8_t>(len);
      hn = 4;
    } else {
      hdr[1] = 127;
      for (size_t i = 0; i < 8; ++i)
        hdr[2 + i] = static_cast<uint8_t>(len >> (56 - 8 * i));
      hn = 10;
    }
    out(std::string_view(reinterpret_cast<const char*>(hdr), hn));
  }
  if (ws_left_ == 0 && ws_close_) phase_ = Phase::closing;
  return true;
}

bool Connection::step_closing() {
  if (!out_empty()) return flush();
  // Half-close and drain what the client still sends, so unread request bytes cannot turn our
  // FIN into a RST that destroys the response before the client reads it.
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  phase_ = Phase::lingering;
  rpos_ = rlen_ = 0;
  timer_.expires_after(kLingerTime);
  timer_.async_wait(handler([this] { close(); }));
  return true;
}

bool Connection::step_linger() {
  for (;;) {
    error_code ec;
    socket_.read_some(asio::buffer(rbuf_, sizeof rbuf_), ec);
    if (ec == asio::error::would_block) {
      wait(tcp::socket::wait_read);
      return false;
    }
    if (ec) {
      close();
      return false;
    }
  }
}

// Makes the bytes consumed so far reusable. Only a partial request head (whose views must stay
// valid) or a partial WebSocket frame header is kept.
void Connection::compact() {
  if (phase_ == Phase::head) {
    if (msg_start_ == rlen_) {
      rpos_ = rlen_ = msg_start_ = 0;
    } else if (sizeof rbuf_ - rlen_ < kMinReadRoom && msg_start_ > 0) {
      std::memmove(rbuf_, rbuf_ + msg_start_, rlen_ - msg_start_);
      rlen_ -= msg_start_;
      msg_start_ = 0;
      rpos_ = 0;
      // The parser saw these bytes at their old place; let it parse them again.
      parser_.start_connection();
    }
    return;
  }
  if (rpos_ == rlen_) {
    rpos_ = rlen_ = 0;
  } else if (rpos_ > 0) {
    std::memmove(rbuf_, rbuf_ + rpos_, rlen_ - rpos_);
    rlen_ -= rpos_;
    rpos_ = 0;
  }
}

// Queued output goes first (the body pieces it references live in rbuf_); then one read into
// the free tail of rbuf_. Returns true to keep stepping (the flush finished at once), false
// when the connection now waits.
bool Connection::read_more() {
  if (!out_empty()) return flush();
  compact();
  if (rlen_ == sizeof rbuf_) {
    close(); // cannot happen: the parser refuses a head long before the buffer is full
    return false;
  }
  // Not a non-blocking read + async_wait: asio re-arms the descriptor with epoll_ctl on every
  // async_wait, which costs more than async_read_some's speculative recv (measured: 94k vs
  // 114k req/s on one core).
  socket_.async_read_some(asio::buffer(rbuf_ + rlen_, sizeof rbuf_ - rlen_),
                          handler([this](size_t n) {
                            rlen_ += n;
                            run();
                          }));
  return false;
}

// Only for the rare cases (a full socket buffer, lingering close): asio re-arms the descriptor
// with epoll_ctl on every wait.
void Connection::wait(tcp::socket::wait_type type) {
  socket_.async_wait(type, handler([this] { run(); }));
}

void Connection::out(std::string_view s) {
  size_t at = wbuf_.size();
  wbuf_.append(s);
  commit(at);
}

// Queues the bytes appended to wbuf_ since `start`.
void Connection::commit(size_t start) {
  size_t n = wbuf_.size() - start;
  if (n == 0) return;
  if (!segs_.empty() && segs_.back().ext == nullptr &&
      segs_.back().offset + segs_.back().size == start)
    segs_.back().size += n;
  else
    segs_.push_back({nullptr, start, n});
}

void Connection::out_ref(const char* p, size_t n) {
  segs_.push_back({p, 0, n});
}

// Writes everything queued. Returns true when all of it went out now; false when the
// connection waits for the socket to drain (run() resumes afterwards) or failed.
bool Connection::flush() {
  if (bufs_.empty()) {
    for (const Segment& s : segs_)
      if (s.size > 0) bufs_.emplace_back(s.ext ? s.ext : wbuf_.data() + s.offset, s.size);
    bufs_pos_ = 0;
  }
  while (bufs_pos_ < bufs_.size()) {
    error_code ec;
    size_t n = socket_.write_some(
        std::span<const asio::const_buffer>(bufs_.data() + bufs_pos_, bufs_.size() - bufs_pos_),
        ec);
    if (ec == asio::error::would_block) {
      wait(tcp::socket::wait_write);
      return false;
    }
    if (ec) {
      close();
      return false;
    }
    while (n > 0) {
      asio::const_buffer& b = bufs_[bufs_pos_];
      if (n >= b.size()) {
        n -= b.size();
        ++bufs_pos_;
      } else {
        b += n;
        n = 0;
      }
    }
  }
  bufs_.clear();
  bufs_pos_ = 0;
  segs_.clear();
  wbuf_.clear();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Worker

Worker::~Worker() {
  // The io_context has stopped; pending handlers are destroyed with it, never invoked.
  while (live_) {
    Connection* c = live_;
    live_ = c->next_;
    c->shutdown_now();
    delete c;
  }
  for (Connection* c : free_)
    delete c;
  delete accepting_;
}

error_code Worker::listen(const tcp::endpoint& endpoint) {
  error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return ec;
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  int one = 1;
  if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    return error_code(errno, boost::system::system_category());
  acceptor_.bind(endpoint, ec);
  if (ec) return ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  acceptor_.non_blocking(true, ec);
  return ec;
}

Connection* Worker::acquire() {
  Connection* c;
  if (!free_.empty()) {
    c = free_.back();
    free_.pop_back();
  } else {
    c = new Connection(*this);
  }
  return c;
}

void Worker::release(Connection* c) {
  if (c->prev_) c->prev_->next_ = c->next_;
  if (c->next_) c->next_->prev_ = c->prev_;
  if (live_ == c) live_ = c->next_;
  c->prev_ = c->next_ = nullptr;
  if (free_.size() < kMaxFreeConnections)
    free_.push_back(c);
  else
    delete c;
}

void Worker::accept() {
  Connection* c = acquire();
  accepting_ = c;
  acceptor_.async_accept(c->socket(), [this, c](const error_code& ec) {
    accepting_ = nullptr;
    on_accept(c, ec);
  });
}

void Worker::on_accept(Connection* c, const error_code& ec) {
  auto adopt = [this](Connection* conn) {
    conn->next_ = live_;
    if (live_) live_->prev_ = conn;
    live_ = conn;
    conn->start();
  };
  if (ec) {
    free_.push_back(c); // never started: nothing to undo
    if (ec == asio::error::operation_aborted) return;
    // Out of descriptors or similar: back off instead of spinning.
    retry_.expires_after(kAcceptRetry);
    retry_.async_wait([this](const error_code& e) {
      if (!e) accept();
    });
    return;
  }
  adopt(c);
  // Drain the backlog before waiting again.
  for (size_t i = 0; i < kAcceptBatch; ++i) {
    Connection* next = acquire();
    error_code e;
    acceptor_.accept(next->socket(), e);
    if (e) {
      free_.push_back(next);
      break;
    }
    adopt(next);
  }
  accept();
}

std::string format_endpoint(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// SO_REUSEPORT would let us silently share a fixed port with another server of the same user
// (a stale demo upstream, say) and split its traffic; a plain bind first refuses that.
error_code check_port_free(const tcp::endpoint& endpoint) {
  if (endpoint.port() == 0) return {};
  asio::io_context ctx;
  tcp::acceptor probe(ctx);
  error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  return ec;
}

} // namespace

int main(int argc, char** argv) {
  Options opt;
  if (int rc = parse_options(argc, argv, opt); rc != 0) return rc < 0 ? 0 : rc;
  const Config config = make_config(opt);

  // Workers inherit the blocked set; the main thread alone takes SIGTERM/SIGINT via sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<Worker>> workers;
  tcp::endpoint endpoint(opt.address, opt.port);
  if (error_code ec = check_port_free(endpoint)) {
    std::fprintf(stderr, "weir-demo-upstream: cannot listen on %s: %s\n",
                 format_endpoint(endpoint).c_str(), ec.message().c_str());
    return 1;
  }
  for (unsigned i = 0; i < opt.threads; ++i) {
    auto w = std::make_unique<Worker>(config, i);
    if (error_code ec = w->listen(endpoint)) {
      std::fprintf(stderr, "weir-demo-upstream: cannot listen on %s: %s\n",
                   format_endpoint(endpoint).c_str(), ec.message().c_str());
      return 1;
    }
    // Port 0: the others join the port the first one got.
    if (i == 0) endpoint.port(w->port());
    workers.push_back(std::move(w));
  }
  std::printf("listening on %s\n", format_endpoint(endpoint).c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });

  int sig = 0;
  sigwait(&signals, &sig);
  for (auto& w : workers)
    w->stop();
  for (auto& t : threads)
    t.join();
  workers.clear();
  return 0;
}
