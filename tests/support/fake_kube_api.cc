#include "fake_kube_api.h"

#include "fake_kube_objects.h"
#include "tls_pki.h"
#include "wait.h"
#include "weir.h"
#include "weir/http/head.h"
#include "weir/http/parser.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

namespace weir::test {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

// Where resourceVersions start: a cluster that has lived a while, so a client that mistakes the
// version for a small counter, or compares it as text, shows it soon enough.
constexpr uint64_t kFirstResourceVersion = 95000;
// How long a clean end waits for the peer's close_notify before the socket is closed anyway.
constexpr auto kTlsShutdownGrace = std::chrono::seconds(2);

constexpr std::string_view kSlices = "/apis/discovery.k8s.io/v1/endpointslices";
constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
constexpr std::string_view kManagedBy = "endpointslice-controller.k8s.io";

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
        out += escaped;
      } else {
        out += c;
      }
    }
  }
  return out + "\"";
}

// A meta/v1 Status, as the API server sends with every refusal.
std::string status_json(int code, std::string_view reason, std::string_view message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)" +
         json_string(message) + R"(,"reason":)" + json_string(reason) + R"(,"code":)" +
         std::to_string(code) + "}";
}

std::string reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 431:
    return "Request Header Fields Too Large";
  default:
    return "Status";
  }
}

std::string formatted_utc(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  std::strftime(text, sizeof text, format, &utc);
  return text;
}

// A uuid-shaped string (what uids look like) made from a number.
std::string uid_from(uint64_t n) {
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(n >> 32),
                static_cast<unsigned>((n >> 16) & 0xffff), static_cast<unsigned>(n & 0xfff),
                static_cast<unsigned>((n >> 12) & 0xfff),
                static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return text;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t hash = 1469598103934665603ULL;
  for (char c : s) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// Query strings are form-encoded: %XX and '+' for a space (as Go's url.ParseQuery reads them).
std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = percent_decode(pair.substr(0, eq));
    params.emplace(key, eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)));
  }
  return params;
}

// Go's strconv.ParseBool, which the API server uses for watch and allowWatchBookmarks.
std::optional<bool> parse_bool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False")
    return false;
  return std::nullopt;
}

std::optional<uint64_t> parse_number(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return std::string(s);
}

using Labels = std::vector<std::pair<std::string, std::string>>;

// One term of a label or field selector. The set-based forms ("in", "notin") are not needed by
// any client under test and are refused rather than misread.
struct Requirement {
  enum class Op { equals, not_equals, exists, not_exists };
  std::string key;
  Op op = Op::equals;
  std::string value;
};

std::optional<std::vector<Requirement>> parse_selector(std::string_view text) {
  std::vector<Requirement> terms;
  if (trim(text).empty()) return terms;
  if (text.find('(') != std::string_view::npos) return std::nullopt;
  while (true) {
    const size_t comma = text.find(',');
    const std::string term = trim(text.substr(0, comma));
    Requirement r;
    size_t op_at;
    if (term.empty()) {
      return std::nullopt;
    } else if ((op_at = term.find("!=")) != std::string::npos) {
      r = {trim(term.substr(0, op_at)), Requirement::Op::not_equals, trim(term.substr(op_at + 2))};
    } else if ((op_at = term.find("==")) != std::string::npos) {
      r = {trim(term.substr(0, op_at)), Requirement::Op::equals, trim(term.substr(op_at + 2))};
    } else if ((op_at = term.find('=')) != std::string::npos) {
      r = {trim(term.substr(0, op_at)), Requirement::Op::equals, trim(term.substr(op_at + 1))};
    } else if (term.front() == '!') {
      r = {trim(term.substr(1)), Requirement::Op::not_exists, ""};
    } else {
      r = {term, Requirement::Op::exists, ""};
    }
    if (r.key.empty() || r.key.find(' ') != std::string::npos ||
        r.value.find(' ') != std::string::npos)
      return std::nullopt;
    terms.push_back(std::move(r));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return terms;
}

bool selects(const std::vector<Requirement>& terms, const Labels& labels) {
  for (const auto& term : terms) {
    const std::string* value = nullptr;
    for (const auto& [key, v] : labels)
      if (key == term.key) value = &v;
    switch (term.op) {
    case Requirement::Op::equals:
      if (!value || *value != term.value) return false;
      break;
    case Requirement::Op::not_equals:
      if (value && *value == term.value) return false;
      break;
    case Requirement::Op::exists:
      if (!value) return false;
      break;
    case Requirement::Op::not_exists:
      if (value) return false;
      break;
    }
  }
  return true;
}

// Which slices a LIST or WATCH is about.
struct Filter {
  std::string collection; // "/apis/discovery.k8s.io/v1/endpointslices"
  std::string ns;         // empty: every namespace
  std::vector<Requirement> labels;
  std::vector<Requirement> fields; // on metadata.name and metadata.namespace

  bool matches(const std::string& of_collection, const std::string& slice_ns,
               const std::string& name, const Labels& labels_of) const {
    if (of_collection != collection) return false;
    if (!ns.empty() && slice_ns != ns) return false;
    return selects(labels, labels_of) &&
           selects(fields, {{"metadata.name", name}, {"metadata.namespace", slice_ns}});
  }
};

Labels labels_of(const FakeSlice& slice) {
  Labels labels;
  if (!slice.service.empty()) labels.emplace_back(kServiceNameLabel, slice.service);
  labels.emplace_back(kManagedByLabel, kManagedBy);
  return labels;
}

// A slice as the API server stores it: what the test gave plus what the server filled in.
struct StoredSlice {
  FakeSlice slice;
  std::string uid;
  std::string created; // creationTimestamp
  uint64_t resource_version = 0;
  uint64_t generation = 0; // 1 when made, one more with each change
};

// The EndpointSlice JSON in the field order of the Go types. `with_type` adds kind and
// apiVersion: watch events carry them, a LIST's items do not (the API server omits them there).
std::string slice_json(const StoredSlice& stored, uint64_t resource_version, bool with_type) {
  const FakeSlice& s = stored.slice;
  std::string out = "{";
  if (with_type) out += R"("kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1",)";
  out += R"("metadata":{"name":)" + json_string(s.name);
  if (!s.service.empty() && s.name.starts_with(s.service + "-"))
    out += R"(,"generateName":)" + json_string(s.service + "-");
  out += R"(,"namespace":)" + json_string(s.ns) + R"(,"uid":)" + json_string(stored.uid) +
         R"(,"resourceVersion":)" + json_string(std::to_string(resource_version)) +
         R"(,"generation":)" + std::to_string(stored.generation) + R"(,"creationTimestamp":)" +
         json_string(stored.created) + R"(,"labels":{)";
  bool first = true;
  for (const auto& [key, value] : labels_of(s)) {
    out += (first ? "" : ",") + json_string(key) + ":" + json_string(value);
    first = false;
  }
  out += R"(}},"addressType":)" + json_string(s.address_type) + R"(,"endpoints":)";
  if (s.endpoints.empty() && s.null_endpoints) {
    out += "null";
  } else {
    out += "[";
    for (size_t i = 0; i < s.endpoints.size(); ++i) {
      const FakeEndpoint& e = s.endpoints[i];
      std::string pod = (s.service.empty() ? s.name : s.service) + "-" + e.address;
      for (char& c : pod)
        if (c == '.' || c == ':') c = '-';
      auto flag = [](bool b) { return b ? "true" : "false"; };
      out += std::string(i ? "," : "") + R"({"addresses":[)" + json_string(e.address) +
             R"(],"conditions":{"ready":)" + flag(e.ready) + R"(,"serving":)" + flag(e.serving) +
             R"(,"terminating":)" + flag(e.terminating) +
             R"(},"targetRef":{"kind":"Pod","namespace":)" + json_string(s.ns) + R"(,"name":)" +
             json_string(pod) + R"(,"uid":)" + json_string(uid_from(fnv1a(s.ns + "/" + pod))) +
             "}}";
    }
    out += "]";
  }
  out += R"(,"ports":[)";
  for (size_t i = 0; i < s.ports.size(); ++i)
    out += std::string(i ? "," : "") + R"({"name":)" + json_string(s.ports[i].first) +
           R"(,"protocol":"TCP","port":)" + std::to_string(s.ports[i].second) + "}";
  return out + "]}";
}

// One change, kept in the history for watches that start from an older resourceVersion.
struct Event {
  uint64_t resource_version = 0;
  std::string type; // ADDED, MODIFIED, DELETED
  std::string collection;
  std::string ns;
  std::string name;
  Labels labels;
  std::string object; // the slice JSON at this version
};

std::string event_line(std::string_view type, std::string_view object) {
  return R"({"type":")" + std::string(type) + R"(","object":)" + std::string(object) + "}\n";
}

std::string expired_line(uint64_t asked, uint64_t oldest) {
  const std::string message =
      "too old resource version: " + std::to_string(asked) + " (" + std::to_string(oldest) + ")";
  return event_line("ERROR", status_json(410, "Expired", message));
}

std::string bookmark_line(uint64_t resource_version) {
  return event_line("BOOKMARK",
                    R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":)"
                    R"({"resourceVersion":")" +
                        std::to_string(resource_version) + R"("}})");
}

std::string chunk(std::string_view data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

constexpr std::string_view kLastChunk = "0\r\n\r\n";

// The head of every answer. Content-Length for a whole answer, chunked for a watch.
std::string response_head(int status, std::optional<size_t> content_length) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                     "\r\nCache-Control: no-cache, private\r\nContent-Type: application/json\r\n"
                     "Date: " +
                     formatted_utc("%a, %d %b %Y %H:%M:%S GMT") + "\r\nConnection: close\r\n";
  if (content_length)
    head += "Content-Length: " + std::to_string(*content_length) + "\r\n\r\n";
  else
    head += "Transfer-Encoding: chunked\r\n\r\n";
  return head;
}

} // namespace

struct FakeKubeApi::Impl {
  class Connection;
  struct Request {
    std::string method;
    std::string target;
    std::string authorization;
    std::string content_type;
    std::string body;
  };

  std::unique_ptr<ssl::context> tls; // outlives the io_context and the streams its handlers hold
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  uint16_t port = 0;
  std::string ca_file;
  std::string token_file;

  mutable std::mutex mutex;
  // Under mutex: the cluster's state, its history and what was seen.
  std::string token;
  std::map<std::pair<std::string, std::string>, StoredSlice> slices; // by (ns, name)
  uint64_t resource_version = kFirstResourceVersion;
  uint64_t oldest_watchable = 0; // a watch from a version below this one gets 410
  std::deque<Event> history;
  uint64_t slices_made = 0;
  int lists = 0;
  int watches = 0;
  int unauthorized = 0;
  std::vector<std::string> requests;
  // Objects of other resources than EndpointSlices, by (collection, ns, name).
  std::map<std::tuple<std::string, std::string, std::string>, GenericObject> objects;
  uint64_t objects_made = 0;
  // The collections of generic objects it serves (LIST, WATCH, GET, PATCH): those the Gateway API
  // controller watches, and any put_object used. Others are unknown resources (404).
  std::set<std::string> served{"/apis/gateway.networking.k8s.io/v1/gatewayclasses",
                               "/apis/gateway.networking.k8s.io/v1/gateways",
                               "/apis/gateway.networking.k8s.io/v1/httproutes",
                               "/apis/gateway.networking.k8s.io/v1beta1/referencegrants",
                               "/apis/gateway.networking.k8s.io/v1/referencegrants",
                               "/api/v1/services",
                               "/api/v1/namespaces",
                               "/apis/coordination.k8s.io/v1/leases",
                               "/api/v1/configmaps"};
  std::vector<FakePatch> patches;
  int patch_failures = 0; // PATCHes still to refuse with patch_failure_status
  int patch_failure_status = 500;

  std::atomic<int> open_watches{0};
  std::atomic<bool> down{false}; // set_down(): every connection is reset on arrival

  // Serving thread only: every connection not yet closed, so changes reach the watches among
  // them and the destructor can close them all.
  std::set<std::shared_ptr<Connection>> connections;

  void accept();
  void handle(const std::shared_ptr<Connection>& connection, Request request);
  // Caller holds mutex. The generic objects' LIST (as the body), their replay to a new watch,
  // a GET of one, and a merge patch of one's status subresource.
  std::string list_objects(const Filter& filter) const;
  void replay_objects(Connection& connection) const;
  std::pair<int, std::string> get_object(const ResourcePath& path) const;
  std::pair<int, std::string> patch_status(const ResourcePath& path, const Request& request,
                                           std::future<void>& delivered);
  // A client's POST, PUT or DELETE of one object (checked_write() says what is refused).
  std::pair<int, std::string> write_object(const ResourcePath& path, const Request& request,
                                           std::future<void>& delivered);
  // Caller holds mutex: stores `object` under `collection` and publishes the change.
  std::future<void> store(const std::string& collection, const json::Value& object,
                          uint64_t& version);
  // Caller holds mutex: removes the object, if there is one, and publishes DELETED with its
  // last state under a new resourceVersion (`version`, 0 when there was none).
  std::future<void> remove(const std::string& collection, const std::string& ns,
                           const std::string& name, uint64_t& version);
  // Caller holds mutex: records the change and queues its delivery, so deliveries run in
  // resourceVersion order. The returned future is ready once the watches have it.
  std::future<void> publish(Event event);
  // Runs `action` on every connection on the serving thread; the future is ready after.
  template <typename Action> std::future<void> on_each_connection(Action action);
};

// One client connection: TLS handshake, one request, then either one answer or a watch stream.
// Serving thread only (the server reaches it through posted handlers).
class FakeKubeApi::Impl::Connection : public std::enable_shared_from_this<Connection> {
public:
  Connection(Impl& server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)), tls_(socket_, *server.tls),
        watch_timer_(server.io), shutdown_timer_(server.io),
        parser_(http::Parser::Kind::request, {}), buffer_(16384) {
    parser_.start_connection();
    parser_.reset();
  }

  void start() {
    tls_.async_handshake(ssl::stream_base::server,
                         [self = shared_from_this()](const error_code& ec) {
                           if (self->closed_) return;
                           if (ec) return self->close_socket();
                           self->read_request();
                         });
  }

  // A whole answer, then a clean end.
  void respond(int status, const std::string& body) {
    send(response_head(status, body.size()) + body);
    end_cleanly();
  }

  // The 200 head of a watch that is refused in its body: one ERROR event, then the end.
  void refuse_watch(const std::string& error_line) {
    send(response_head(200, std::nullopt) + chunk(error_line) + std::string(kLastChunk));
    end_cleanly();
  }

  // Caller holds the server's mutex (handle()).
  void begin_watch(Filter filter, bool bookmarks, int timeout_seconds) {
    filter_ = std::move(filter);
    bookmarks_ = bookmarks;
    watching_ = true;
    ++server_.open_watches;
    send(response_head(200, std::nullopt));
    if (timeout_seconds > 0) {
      watch_timer_.expires_after(std::chrono::seconds(timeout_seconds));
      watch_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->end_watch("");
      });
    }
    read_while_watching();
  }

  const Filter& filter() const { return filter_; }

  // An event from the history or the replay of the current state, sent whatever last_sent_ is;
  // the caller moves last_sent_ past it.
  void send_event(const std::string& type, const std::string& object) {
    send(chunk(event_line(type, object)));
  }
  void set_last_sent(uint64_t resource_version) { last_sent_ = resource_version; }

  // A live change: sent once, to a watch it concerns.
  void deliver(const Event& event) {
    if (!watching_ || event.resource_version <= last_sent_) return;
    if (!filter_.matches(event.collection, event.ns, event.name, event.labels)) return;
    last_sent_ = event.resource_version;
    send_event(event.type, event.object);
  }

  void bookmark(uint64_t resource_version) {
    if (!watching_ || !bookmarks_) return;
    last_sent_ = std::max(last_sent_, resource_version);
    send(chunk(bookmark_line(resource_version)));
  }

  void expire(uint64_t oldest) {
    if (watching_) end_watch(expired_line(last_sent_, oldest));
  }

  void reset() {
    if (watching_) reset_now();
  }

  // A TCP reset whatever the connection is doing (set_down()).
  void reset_now() {
    socket_.set_option(tcp::socket::linger(true, 0), ignored_);
    close_socket();
  }

  void cut_mid_chunk(uint64_t resource_version) {
    if (!watching_) return;
    stop_watching();
    const std::string whole = chunk(bookmark_line(resource_version));
    send(whole.substr(0, whole.size() / 2));
    end_ = End::fin;
    if (!writing_) fin_close();
  }

  // The socket closes at once, whatever is still queued: where every connection ends, and what
  // the server's destructor does to all of them.
  void close_socket() {
    if (closed_) return;
    closed_ = true;
    stop_watching();
    watch_timer_.cancel();
    shutdown_timer_.cancel();
    socket_.close(ignored_);
    server_.connections.erase(shared_from_this());
  }

private:
  enum class End { none, clean, fin };

  void read_request() {
    if (filled_ == buffer_.size()) return respond(431, status_json(431, "BadRequest", "too big"));
    tls_.async_read_some(asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_),
                         [self = shared_from_this()](const error_code& ec, size_t n) {
                           if (self->closed_) return;
                           if (ec) return self->close_socket();
                           self->filled_ += n;
                           self->parse();
                         });
  }

  void parse() {
    for (;;) { // also with nothing left: a bodiless request's end comes after its head
      size_t consumed = 0;
      auto event = parser_.execute(buffer_.data() + parsed_, filled_ - parsed_, consumed);
      parsed_ += consumed;
      if (event == http::Parser::Event::error)
        return respond(400, status_json(400, "BadRequest", std::string(parser_.error_reason())));
      for (auto piece : parser_.body())
        body_.append(piece);
      if (event == http::Parser::Event::done) {
        const http::Head& head = parser_.head();
        const http::Header* authorization = head.find("authorization");
        const http::Header* content_type = head.find("content-type");
        return server_.handle(shared_from_this(),
                              Request{std::string(head.method_name), std::string(head.target),
                                      authorization ? std::string(authorization->value) : "",
                                      content_type ? std::string(content_type->value) : "",
                                      std::move(body_)});
      }
      if (event == http::Parser::Event::need_more) break;
    }
    read_request();
  }

  // While a watch streams, a read stays pending: it sees the client leave, which ends the watch
  // (open_watches() counts only live ones). What the client sends meanwhile is ignored.
  void read_while_watching() {
    read_pending_ = true;
    tls_.async_read_some(asio::buffer(buffer_),
                         [self = shared_from_this()](const error_code& ec, size_t) {
                           self->read_pending_ = false;
                           if (self->closed_) return;
                           if (self->end_ == End::clean && !self->writing_)
                             return self->shutdown_tls(); // cancelled by end_cleanly()
                           if (ec) return self->close_socket();
                           self->read_while_watching();
                         });
  }

  // The stream ends cleanly: `last_line` (an event, or nothing), the last chunk, close_notify.
  void end_watch(const std::string& last_line) {
    if (!watching_) return;
    stop_watching();
    if (!last_line.empty()) send(chunk(last_line));
    send(std::string(kLastChunk));
    end_cleanly();
  }

  void stop_watching() {
    if (!watching_) return;
    watching_ = false;
    --server_.open_watches;
    watch_timer_.cancel();
  }

  void send(std::string bytes) {
    if (closed_ || end_ != End::none) return;
    out_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty()) {
      writing_ = false;
      if (end_ == End::clean) return end_cleanly();
      if (end_ == End::fin) return fin_close();
      return;
    }
    writing_ = true;
    asio::async_write(tls_, asio::buffer(out_.front()),
                      [self = shared_from_this()](const error_code& ec, size_t) {
                        if (self->closed_) return;
                        if (ec) return self->close_socket();
                        self->out_.pop_front();
                        self->write_next();
                      });
  }

  // Once everything queued is written: close_notify, then the socket. A pending read is
  // cancelled first (the TLS stream must not read for two operations at once); its handler
  // continues here.
  void end_cleanly() {
    end_ = End::clean;
    if (writing_) return;
    if (read_pending_) {
      socket_.cancel(ignored_);
      return;
    }
    shutdown_tls();
  }

  void shutdown_tls() {
    if (shutting_down_) return;
    shutting_down_ = true;
    shutdown_timer_.expires_after(kTlsShutdownGrace);
    shutdown_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->close_socket();
    });
    tls_.async_shutdown([self = shared_from_this()](const error_code&) { self->close_socket(); });
  }

  void fin_close() {
    socket_.shutdown(tcp::socket::shutdown_both, ignored_);
    close_socket();
  }

  Impl& server_;
  tcp::socket socket_;
  ssl::stream<tcp::socket&> tls_;
  asio::steady_timer watch_timer_;    // timeoutSeconds
  asio::steady_timer shutdown_timer_; // kTlsShutdownGrace
  http::Parser parser_;
  std::vector<char> buffer_;
  size_t filled_ = 0;
  size_t parsed_ = 0;
  std::string body_;            // of the request
  std::deque<std::string> out_; // front: being written
  bool writing_ = false;
  bool read_pending_ = false;
  End end_ = End::none;
  bool shutting_down_ = false;
  bool closed_ = false;
  bool watching_ = false; // counted in open_watches
  bool bookmarks_ = false;
  Filter filter_;
  uint64_t last_sent_ = 0; // the resourceVersion this watch has seen up to
  error_code ignored_;
};

void FakeKubeApi::Impl::accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec) return;
    if (down) {
      error_code ignored;
      socket.set_option(tcp::socket::linger(true, 0), ignored);
      socket.close(ignored);
      return accept();
    }
    auto connection = std::make_shared<Connection>(*this, std::move(socket));
    connections.insert(connection);
    connection->start();
    accept();
  });
}

std::future<void> FakeKubeApi::Impl::publish(Event event) {
  history.push_back(event);
  return on_each_connection(
      [event = std::move(event)](Connection& connection) { connection.deliver(event); });
}

template <typename Action> std::future<void> FakeKubeApi::Impl::on_each_connection(Action action) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  asio::post(io, [this, action = std::move(action), done] {
    // A copy: an action may close a connection, which leaves the set.
    const std::vector<std::shared_ptr<Connection>> all(connections.begin(), connections.end());
    for (const auto& connection : all)
      action(*connection);
    done->set_value();
  });
  return future;
}

void FakeKubeApi::Impl::handle(const std::shared_ptr<Connection>& connection, Request request) {
  const std::string& method = request.method;
  const std::string& target = request.target;
  const std::string& authorization = request.authorization;
  std::lock_guard lock(mutex);
  if (down) return connection->reset_now(); // came in before set_down(true)
  auto answer = [&](int status, const std::string& body) {
    requests.push_back(method + " " + target + " status=" + std::to_string(status));
    connection->respond(status, body);
  };
  auto bad_request = [&](const std::string& message) {
    answer(400, status_json(400, "BadRequest", message));
  };
  // Authentication comes before routing, as in the API server: no token, no 404 either.
  if (token.empty() || authorization != "Bearer " + token) {
    ++unauthorized;
    return answer(401, status_json(401, "Unauthorized", "Unauthorized"));
  }

  const size_t question = target.find('?');
  const std::string path = target.substr(0, question);
  const auto params = parse_query(question == std::string::npos ? "" : target.substr(question + 1));
  auto param = [&](const std::string& name) {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };

  const std::optional<ResourcePath> resource = parse_resource_path(path);
  if (!resource)
    return answer(404, status_json(404, "NotFound",
                                   "the server could not find the requested "
                                   "resource"));
  const bool slices_wanted = resource->collection == kSlices;
  if (!slices_wanted && !served.count(resource->collection))
    return answer(404, status_json(404, "NotFound",
                                   "the server could not find the requested "
                                   "resource"));
  if (method == "PATCH" && !resource->name.empty() && !slices_wanted) {
    std::future<void> delivered; // the watches get it after this handler: not waited for here
    auto [status, body] = patch_status(*resource, request, delivered);
    return answer(status, body);
  }
  const bool to_collection = resource->name.empty() && method == "POST";
  const bool to_object = !resource->name.empty() && resource->subresource.empty() &&
                         (method == "PUT" || method == "DELETE");
  if (!slices_wanted && (to_collection || to_object)) {
    std::future<void> delivered; // as for PATCH
    auto [status, body] = write_object(*resource, request, delivered);
    return answer(status, body);
  }
  if (method != "GET" || (slices_wanted && !resource->name.empty()))
    return answer(405, status_json(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested "
                                   "resource"));
  if (!resource->name.empty()) {
    auto [status, body] = get_object(*resource);
    return answer(status, body);
  }
  const std::optional<std::string> ns = resource->ns;

  Filter filter;
  filter.collection = resource->collection;
  filter.ns = *ns;
  auto labels = parse_selector(param("labelSelector"));
  if (!labels) return bad_request("unable to parse requirement: " + param("labelSelector"));
  filter.labels = std::move(*labels);
  auto fields = parse_selector(param("fieldSelector"));
  if (!fields) return bad_request("invalid field selector: " + param("fieldSelector"));
  for (const auto& term : *fields)
    if ((term.key != "metadata.name" && term.key != "metadata.namespace") ||
        term.op == Requirement::Op::exists || term.op == Requirement::Op::not_exists)
      return bad_request("field label not supported: " + term.key);
  filter.fields = std::move(*fields);

  const auto watch = parse_bool(param("watch").empty() ? "false" : param("watch"));
  if (!watch) return bad_request("watch: invalid value: " + param("watch"));
  if (!*watch) {
    ++lists;
    if (!slices_wanted) return answer(200, list_objects(filter));
    std::string body = R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1",)"
                       R"("metadata":{"resourceVersion":)" +
                       json_string(std::to_string(resource_version)) + R"(},"items":[)";
    bool first = true;
    for (const auto& [key, stored] : slices) {
      if (!filter.matches(std::string(kSlices), stored.slice.ns, stored.slice.name,
                          labels_of(stored.slice)))
        continue;
      body += (first ? "" : ",") + slice_json(stored, stored.resource_version, false);
      first = false;
    }
    return answer(200, body + "]}");
  }

  const auto bookmarks =
      parse_bool(param("allowWatchBookmarks").empty() ? "false" : param("allowWatchBookmarks"));
  if (!bookmarks) return bad_request("allowWatchBookmarks: invalid value");
  std::optional<uint64_t> timeout_seconds{0};
  if (!param("timeoutSeconds").empty()) timeout_seconds = parse_number(param("timeoutSeconds"));
  if (!timeout_seconds) return bad_request("timeoutSeconds: invalid value");
  std::optional<uint64_t> from{0};
  if (!param("resourceVersion").empty()) from = parse_number(param("resourceVersion"));
  if (!from) return bad_request("resourceVersion: invalid value: " + param("resourceVersion"));

  ++watches;
  requests.push_back(method + " " + target + " status=200");
  if (*from != 0 && *from < oldest_watchable)
    return connection->refuse_watch(expired_line(*from, oldest_watchable));
  connection->begin_watch(std::move(filter), *bookmarks,
                          static_cast<int>(std::min<uint64_t>(*timeout_seconds, 86400)));
  if (*from == 0 && !slices_wanted) {
    replay_objects(*connection);
  } else if (*from == 0) {
    // No version (or "0"): the current state as ADDED events, then what changes, as the API
    // server does for a watch without a starting point.
    for (const auto& [key, stored] : slices)
      if (connection->filter().matches(std::string(kSlices), stored.slice.ns, stored.slice.name,
                                       labels_of(stored.slice)))
        connection->send_event("ADDED", slice_json(stored, stored.resource_version, true));
  } else {
    for (const Event& event : history)
      if (event.resource_version > *from &&
          connection->filter().matches(event.collection, event.ns, event.name, event.labels))
        connection->send_event(event.type, event.object);
  }
  // Live deliveries of changes already replayed are still queued behind this handler: they are
  // skipped as not newer than this.
  connection->set_last_sent(std::max(*from, resource_version));
}

std::string FakeKubeApi::Impl::list_objects(const Filter& filter) const {
  std::string kind = "List";
  std::string items;
  for (const auto& [key, stored] : objects) {
    const auto& [collection, ns, name] = key;
    if (!filter.matches(collection, ns, name, stored.labels)) continue;
    if (kind == "List") kind = stored.object.get_string("kind") + "List";
    // A LIST's items carry no kind and apiVersion (the API server omits them there).
    items += (items.empty() ? "" : ",") +
             to_json(with_member(with_member(stored.object, "kind", std::nullopt), "apiVersion",
                                 std::nullopt));
  }
  return R"({"kind":)" + json_string(kind) +
         R"(,"apiVersion":"v1","metadata":{"resourceVersion":)" +
         json_string(std::to_string(resource_version)) + R"(},"items":[)" + items + "]}";
}

void FakeKubeApi::Impl::replay_objects(Connection& connection) const {
  for (const auto& [key, stored] : objects) {
    const auto& [collection, ns, name] = key;
    if (connection.filter().matches(collection, ns, name, stored.labels))
      connection.send_event("ADDED", to_json(stored.object));
  }
}

std::pair<int, std::string> FakeKubeApi::Impl::get_object(const ResourcePath& path) const {
  auto it = objects.find({path.collection, path.ns, path.name});
  if (it == objects.end() || !path.subresource.empty())
    return {404, status_json(404, "NotFound", "\"" + path.name + "\" not found")};
  return {200, to_json(it->second.object)};
}

std::pair<int, std::string> FakeKubeApi::Impl::patch_status(const ResourcePath& path,
                                                            const Request& request,
                                                            std::future<void>& delivered) {
  FakePatch recorded{request.target.substr(0, request.target.find('?')), request.content_type,
                     request.body, 0};
  auto refuse = [&](int status, const std::string& reason, const std::string& message) {
    recorded.status = status;
    patches.push_back(recorded);
    return std::pair<int, std::string>{status, status_json(status, reason, message)};
  };
  if (path.subresource != "status")
    return refuse(405, "MethodNotAllowed", "the fake patches only the status subresource");
  if (patch_failures > 0) {
    --patch_failures;
    return refuse(patch_failure_status, "InternalError", "a failure the test asked for");
  }
  if (request.content_type != "application/merge-patch+json")
    return refuse(415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format; accepted media types "
                  "include: application/merge-patch+json");
  auto parsed = json::parse(request.body);
  if (!parsed.value || !parsed.value->is_object())
    return refuse(400, "BadRequest", "the patch is not a JSON object: " + parsed.error);
  auto it = objects.find({path.collection, path.ns, path.name});
  if (it == objects.end()) return refuse(404, "NotFound", "\"" + path.name + "\" not found");
  // A resourceVersion in the patch is a precondition, as the API server has it.
  if (const json::Value* meta = parsed.value->find("metadata"); meta && meta->is_object()) {
    const std::string wanted = meta->get_string("resourceVersion");
    if (!wanted.empty() && wanted != it->second.object["metadata"].get_string("resourceVersion"))
      return refuse(409, "Conflict",
                    "Operation cannot be fulfilled on " + path.name +
                        ": the object has been modified; please apply your changes to the "
                        "latest version and try again");
  }
  // The status subresource takes the patch's status and nothing else.
  const json::Value* status = parsed.value->find("status");
  json::Value object = it->second.object;
  if (status) object = with_member(object, "status", merge_patch(object["status"], *status));
  const uint64_t version = ++resource_version;
  json::Value meta =
      with_member(object["metadata"], "resourceVersion", json::Value(std::to_string(version)));
  it->second.object = with_member(object, "metadata", std::move(meta));
  recorded.status = 200;
  patches.push_back(recorded);
  const std::string text = to_json(it->second.object);
  delivered = publish(
      Event{version, "MODIFIED", path.collection, path.ns, path.name, it->second.labels, text});
  return {200, text};
}

std::pair<int, std::string> FakeKubeApi::Impl::write_object(const ResourcePath& path,
                                                            const Request& request,
                                                            std::future<void>& delivered) {
  auto it = objects.find({path.collection, path.ns, path.name});
  const GenericObject* present = it == objects.end() ? nullptr : &it->second;
  if (request.method == "DELETE") {
    if (!present) return {404, status_json(404, "NotFound", "\"" + path.name + "\" not found")};
    uint64_t version = 0;
    json::Value last = present->object;
    delivered = remove(path.collection, path.ns, path.name, version);
    json::Value meta =
        with_member(last["metadata"], "resourceVersion", json::Value(std::to_string(version)));
    return {200, to_json(with_member(last, "metadata", std::move(meta)))};
  }
  if (request.method == "POST") {
    // The name is in the body, not the path.
    auto parsed = json::parse(request.body);
    const std::string name = parsed.value ? (*parsed.value)["metadata"].get_string("name") : "";
    auto named = objects.find({path.collection, path.ns, name});
    present = named == objects.end() ? nullptr : &named->second;
  }
  CheckedWrite write = checked_write(request.method, path, request.body, present);
  if (!write.object) return {write.status, status_json(write.status, write.reason, write.message)};
  uint64_t version = 0;
  delivered = store(path.collection, *write.object, version);
  const json::Value& meta = (*write.object)["metadata"];
  return {request.method == "POST" ? 201 : 200,
          to_json(objects.at({path.collection, path.ns, meta.get_string("name")}).object)};
}

std::future<void> FakeKubeApi::Impl::remove(const std::string& collection, const std::string& ns,
                                            const std::string& name, uint64_t& version) {
  auto it = objects.find({collection, ns, name});
  version = 0;
  if (it == objects.end()) return {};
  version = ++resource_version;
  json::Value meta = with_member(it->second.object["metadata"], "resourceVersion",
                                 json::Value(std::to_string(version)));
  std::future<void> delivered =
      publish(Event{version, "DELETED", collection, ns, name, it->second.labels,
                    to_json(with_member(it->second.object, "metadata", std::move(meta)))});
  objects.erase(it);
  return delivered;
}

std::future<void> FakeKubeApi::Impl::store(const std::string& collection, const json::Value& object,
                                           uint64_t& version) {
  const std::string ns = object["metadata"].get_string("namespace");
  const std::string name = object["metadata"].get_string("name");
  version = ++resource_version;
  served.insert(collection);
  auto key = std::make_tuple(collection, ns, name);
  auto it = objects.find(key);
  const bool added = it == objects.end();
  GenericObject next = stored_object(object, added ? nullptr : &it->second, version,
                                     uid_from(fnv1a("object") + ++objects_made),
                                     formatted_utc("%Y-%m-%dT%H:%M:%SZ"));
  it = objects.insert_or_assign(key, std::move(next)).first;
  return publish(Event{version, added ? "ADDED" : "MODIFIED", collection, ns, name,
                       it->second.labels, to_json(it->second.object)});
}

FakeKubeApi::FakeKubeApi() : impl_(std::make_unique<Impl>()) {}

FakeKubeApi::~FakeKubeApi() {
  if (!impl_->thread.joinable()) return; // start() failed before serving
  asio::post(impl_->io, [impl = impl_.get()] {
    error_code ignored;
    impl->acceptor.close(ignored);
    const std::vector<std::shared_ptr<Impl::Connection>> all(impl->connections.begin(),
                                                             impl->connections.end());
    for (const auto& connection : all)
      connection->close_socket();
    impl->io.stop();
  });
  impl_->thread.join();
}

std::unique_ptr<FakeKubeApi> FakeKubeApi::start() {
  TestCa ca = TestCa::make("weir fake kube CA");
  if (!ca.ok()) return nullptr;
  const CertKey cert = ca.server("IP:127.0.0.1,DNS:localhost");
  if (!cert.ok()) return nullptr;

  std::unique_ptr<FakeKubeApi> api(new FakeKubeApi());
  Impl& impl = *api->impl_;
  impl.ca_file = ca.cert_file();
  try {
    impl.tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    impl.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1);
    impl.tls->use_certificate_chain_file(cert.cert_file);
    impl.tls->use_private_key_file(cert.key_file, ssl::context::pem);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    impl.acceptor.open(endpoint.protocol());
    impl.acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl.acceptor.bind(endpoint);
    impl.acceptor.listen();
    impl.port = impl.acceptor.local_endpoint().port();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "fake kube API server: " << e.what();
    return nullptr;
  }

  // Random, so a client that sends some other token it found lying around is caught.
  std::random_device random;
  std::string token = "fake-kube-token-";
  for (int i = 0; i < 4; ++i)
    token += std::to_string(random() % 100000);
  impl.token_file = temp_path("kube-token");
  api->set_token(token);
  api->write_token_file(token);
  if (read_file(impl.token_file) != token) {
    ADD_FAILURE() << "fake kube API server: cannot write " << impl.token_file;
    return nullptr;
  }
  impl.accept();
  impl.thread = std::thread([&impl] { impl.io.run(); });
  return api;
}

uint16_t FakeKubeApi::port() const {
  return impl_->port;
}

std::string FakeKubeApi::url() const {
  return "https://127.0.0.1:" + std::to_string(port());
}

const std::string& FakeKubeApi::ca_file() const {
  return impl_->ca_file;
}

const std::string& FakeKubeApi::token_file() const {
  return impl_->token_file;
}

std::string FakeKubeApi::token() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->token;
}

void FakeKubeApi::set_token(std::string token) {
  std::lock_guard lock(impl_->mutex);
  impl_->token = std::move(token);
}

void FakeKubeApi::write_token_file(const std::string& token) {
  // A reader never sees a half-written token: the new file replaces the old one by rename.
  const std::string temporary = impl_->token_file + ".new";
  if (!write_file(temporary, token) ||
      std::rename(temporary.c_str(), impl_->token_file.c_str()) != 0)
    ADD_FAILURE() << "fake kube API server: cannot replace " << impl_->token_file;
}

uint64_t FakeKubeApi::put_slice(FakeSlice slice) {
  std::future<void> delivered;
  uint64_t version;
  {
    std::lock_guard lock(impl_->mutex);
    version = ++impl_->resource_version;
    const auto key = std::make_pair(slice.ns, slice.name);
    auto it = impl_->slices.find(key);
    const bool added = it == impl_->slices.end();
    if (added) {
      StoredSlice stored;
      stored.uid = uid_from(fnv1a("slice") + ++impl_->slices_made);
      stored.created = formatted_utc("%Y-%m-%dT%H:%M:%SZ");
      it = impl_->slices.emplace(key, std::move(stored)).first;
    }
    it->second.slice = std::move(slice);
    it->second.resource_version = version;
    ++it->second.generation;
    const FakeSlice& s = it->second.slice;
    delivered =
        impl_->publish(Event{version, added ? "ADDED" : "MODIFIED", std::string(kSlices), s.ns,
                             s.name, labels_of(s), slice_json(it->second, version, true)});
  }
  delivered.wait();
  return version;
}

uint64_t FakeKubeApi::delete_slice(const std::string& ns, const std::string& name) {
  std::future<void> delivered;
  uint64_t version;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->slices.find({ns, name});
    if (it == impl_->slices.end()) return 0;
    version = ++impl_->resource_version;
    const FakeSlice& s = it->second.slice;
    delivered = impl_->publish(Event{version, "DELETED", std::string(kSlices), ns, name,
                                     labels_of(s), slice_json(it->second, version, true)});
    impl_->slices.erase(it);
  }
  delivered.wait();
  return version;
}

uint64_t FakeKubeApi::resource_version() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->resource_version;
}

void FakeKubeApi::disconnect_watches(bool mid_chunk) {
  std::future<void> done;
  {
    std::lock_guard lock(impl_->mutex);
    const uint64_t version = impl_->resource_version;
    done = impl_->on_each_connection([mid_chunk, version](Impl::Connection& connection) {
      if (mid_chunk)
        connection.cut_mid_chunk(version);
      else
        connection.reset();
    });
  }
  done.wait();
}

void FakeKubeApi::expire_history() {
  std::lock_guard lock(impl_->mutex);
  impl_->oldest_watchable = ++impl_->resource_version;
  impl_->history.clear();
}

void FakeKubeApi::expire_open_watches() {
  std::future<void> done;
  {
    std::lock_guard lock(impl_->mutex);
    const uint64_t oldest = impl_->resource_version;
    done = impl_->on_each_connection(
        [oldest](Impl::Connection& connection) { connection.expire(oldest); });
  }
  done.wait();
}

void FakeKubeApi::send_bookmark() {
  std::future<void> done;
  {
    // Under the mutex, so the bookmark is queued behind every change up to its version.
    std::lock_guard lock(impl_->mutex);
    const uint64_t version = impl_->resource_version;
    done = impl_->on_each_connection(
        [version](Impl::Connection& connection) { connection.bookmark(version); });
  }
  done.wait();
}

int FakeKubeApi::lists() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->lists;
}

int FakeKubeApi::watches() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->watches;
}

int FakeKubeApi::unauthorized() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->unauthorized;
}

int FakeKubeApi::open_watches() const {
  return impl_->open_watches.load();
}

std::vector<std::string> FakeKubeApi::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

bool FakeKubeApi::wait_open_watches(int n, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return open_watches() >= n; }, timeout);
}

uint64_t FakeKubeApi::put_object(const std::string& collection, const std::string& object_json) {
  auto parsed = json::parse(object_json);
  if (!parsed.value || !parsed.value->is_object() ||
      (*parsed.value)["metadata"].get_string("name").empty()) {
    ADD_FAILURE() << "fake kube API server: not an object with metadata.name: " << object_json
                  << " " << parsed.error;
    return 0;
  }
  std::future<void> delivered;
  uint64_t version = 0;
  {
    std::lock_guard lock(impl_->mutex);
    delivered = impl_->store(collection, *parsed.value, version);
  }
  delivered.wait();
  return version;
}

uint64_t FakeKubeApi::delete_object(const std::string& collection, const std::string& ns,
                                    const std::string& name) {
  std::future<void> delivered;
  uint64_t version = 0;
  {
    std::lock_guard lock(impl_->mutex);
    delivered = impl_->remove(collection, ns, name, version);
  }
  if (delivered.valid()) delivered.wait();
  return version;
}

std::string FakeKubeApi::object(const std::string& collection, const std::string& ns,
                                const std::string& name) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->objects.find({collection, ns, name});
  return it == impl_->objects.end() ? "" : to_json(it->second.object);
}

std::vector<FakePatch> FakeKubeApi::patches() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->patches;
}

void FakeKubeApi::set_down(bool down) {
  impl_->down = down;
  if (down)
    impl_->on_each_connection([](Impl::Connection& connection) { connection.reset_now(); }).wait();
}

void FakeKubeApi::fail_patches(int status, int times) {
  std::lock_guard lock(impl_->mutex);
  impl_->patch_failure_status = status;
  impl_->patch_failures = times;
}

} // namespace weir::test
