#include "weir/discovery/resource_watch.h"

#include "weir/base/log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace weir::discovery {

namespace asio = boost::asio;

namespace {

constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount/";
constexpr size_t kMaxListBytes = 64u << 20;
constexpr size_t kMaxEventBytes = 16u << 20;
constexpr size_t kMaxTokenBytes = 64u << 10;
constexpr std::chrono::milliseconds kFirstRetry{200};
constexpr std::chrono::milliseconds kMaxRetry{10000};
constexpr std::chrono::seconds kHealthyWatch{30};

std::string trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  return s;
}

} // namespace

Result<ApiAccess> api_access(const config::Kubernetes& config,
                             const std::function<const char*(const char*)>& env) {
  ApiAccess a;
  std::string server = config.api_server;
  if (server.empty()) {
    const char* host = env("KUBERNETES_SERVICE_HOST");
    const char* port = env("KUBERNETES_SERVICE_PORT");
    if (!host || !*host)
      return Error{ErrorSource::config,
                   "kubernetes.api_server is not set and KUBERNETES_SERVICE_HOST is not in the "
                   "environment (weir is not in a pod)"};
    std::string h = host;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    server = "https://" + h + ":" + (port && *port ? port : "443");
  }
  auto url = net::parse_url(server);
  if (!url.ok()) return Error{ErrorSource::config, "kubernetes.api_server: " + url.error().message};
  a.url = *url;
  a.token_file =
      config.token_file.empty() ? std::string(kServiceAccountDir) + "token" : config.token_file;
  a.ca_file = config.ca_file.empty() ? std::string(kServiceAccountDir) + "ca.crt" : config.ca_file;
  return a;
}

std::string read_token(const std::string& token_file, std::string& error) {
  const int fd = ::open(token_file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read the token file " + token_file + ": " + std::strerror(errno);
    return "";
  }
  struct stat st {};
  std::string token;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "the token file " + token_file + " is not a regular file";
  } else if (st.st_size > static_cast<off_t>(kMaxTokenBytes)) {
    error = "the token file " + token_file + " is larger than 64 KiB";
  } else {
    token.resize(static_cast<size_t>(st.st_size));
    const ssize_t n = ::read(fd, token.data(), token.size());
    token.resize(n > 0 ? static_cast<size_t>(n) : 0);
    token = trim(std::move(token));
    if (token.empty()) error = "the token file " + token_file + " is empty";
    for (char c : token)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        error = "the token file " + token_file + " holds a line break or control character";
  }
  ::close(fd);
  if (!error.empty()) token.clear();
  return token;
}

net::HttpRequest api_request(const ApiAccess& api, const std::string& target, std::string& error) {
  net::HttpRequest r;
  r.url = api.url;
  r.ca_file = api.url.tls ? api.ca_file : "";
  std::string token = read_token(api.token_file, error);
  if (!error.empty()) return r;
  r.headers.emplace_back("Authorization", "Bearer " + token);
  r.headers.emplace_back("Accept", "application/json");
  // A path in api_server (a proxy in front of the API server) is a prefix of the API's paths.
  std::string prefix = api.url.target;
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  r.url.target = prefix + target;
  return r;
}

ResourceWatch::ResourceWatch(asio::io_context& io, ApiAccess api, What what, SourceStatus& status,
                             Handlers handlers)
    : io_(io), api_(std::move(api)), what_(std::move(what)), status_(status),
      handlers_(std::move(handlers)), retry_timer_(io), alive_(std::make_shared<bool>(true)) {}

ResourceWatch::~ResourceWatch() {
  *alive_ = false;
  if (abort_) abort_();
  retry_timer_.cancel();
}

void ResourceWatch::start() {
  list();
}

net::HttpRequest ResourceWatch::request(bool watch, std::string& error) const {
  // Like client-go, a watch asks the server to end it after 5 to 10 minutes (spread out, so
  // replicas do not all come back at once); the client's own deadline is a little later.
  static thread_local std::mt19937 random{std::random_device{}()};
  const int timeout_s = watch ? std::uniform_int_distribution<int>(300, 600)(random) : 0;
  net::HttpRequest r = api_request(api_,
                                   collection_target(what_.collection, what_.label_selector, watch,
                                                     watch ? resource_version_ : "", timeout_s),
                                   error);
  r.timeout = watch ? std::chrono::seconds(timeout_s + 30) : std::chrono::seconds(30);
  r.max_body_bytes = kMaxListBytes;
  return r;
}

std::string ResourceWatch::refusal(const char* verb, int status) const {
  std::string why = std::string(verb) + ": HTTP " + std::to_string(status);
  if (status == 401) why += " (the token in " + api_.token_file + " was refused)";
  if (status == 403)
    why += " (RBAC: weir may not " + std::string(verb) + " " + what_.resource + ")";
  return why;
}

void ResourceWatch::list() {
  std::string error;
  net::HttpRequest r = request(false, error);
  if (!error.empty()) return fail(error, true);
  abort_ =
      net::HttpClient::fetch(io_, std::move(r), [this, alive = alive_](net::HttpResponse response) {
        if (!*alive) return;
        abort_ = nullptr;
        on_list(std::move(response));
      });
}

void ResourceWatch::on_list(net::HttpResponse r) {
  if (!r.error.empty()) return fail("list: " + r.error, true);
  if (r.status != 200) return fail(refusal("list", r.status), true);
  RawList list = parse_raw_list(r.body);
  if (!list.error.empty()) return fail("list: " + list.error, true);
  if (std::string bad = handlers_.listed(list.items); !bad.empty())
    return fail("list: " + bad, true);
  resource_version_ = list.resource_version;
  const bool first = !status_.answered;
  if (first) log::info(what_.log_prefix + ": listed");
  status_.answered = true;
  status_.last_error.clear();
  handlers_.changed(first);
  // Without a version to watch from, a watch would start "now" and miss what changes between:
  // list again after a pause instead.
  if (resource_version_.empty()) return fail("list: the answer has no resourceVersion", true);
  watch();
}

void ResourceWatch::watch() {
  std::string error;
  net::HttpRequest r = request(true, error);
  if (!error.empty()) return fail(error, false);
  line_.clear();
  relist_ = false;
  watch_ok_ = false;
  watch_error_.clear();
  watch_started_ = std::chrono::steady_clock::now();
  auto alive = alive_;
  r.on_head = [this, alive](int status) { return *alive && on_watch_head(status); };
  r.on_body = [this, alive](std::string_view piece) { return *alive && on_watch_bytes(piece); };
  abort_ = net::HttpClient::fetch(io_, std::move(r), [this, alive](net::HttpResponse response) {
    if (!*alive) return;
    abort_ = nullptr;
    on_watch_end(std::move(response));
  });
}

bool ResourceWatch::on_watch_head(int status) {
  if (status == 200) {
    watch_ok_ = true;
    status_.last_error.clear();
    return true;
  }
  watch_error_ = refusal("watch", status);
  if (status == 410) relist_ = true;
  return false;
}

bool ResourceWatch::on_watch_bytes(std::string_view piece) {
  bool changed = false;
  bool keep_going = true;
  size_t start = 0;
  while (keep_going && start < piece.size()) {
    const size_t nl = piece.find('\n', start);
    if (nl == std::string_view::npos) {
      line_.append(piece.substr(start));
      if (line_.size() > kMaxEventBytes) {
        watch_error_ = "watch: an event larger than 16 MiB";
        if (changed) handlers_.changed(false); // what came before it counts
        return false;
      }
      break;
    }
    line_.append(piece.substr(start, nl - start));
    start = nl + 1;
    if (line_.find_first_not_of(" \r\t") == std::string::npos) {
      line_.clear();
      continue;
    }
    RawWatchEvent e = parse_raw_watch_event(line_);
    line_.clear();
    switch (e.type) {
    case WatchType::added:
    case WatchType::modified:
    case WatchType::deleted: {
      std::string error;
      const bool did = handlers_.event(e.type, e.object, error);
      if (!error.empty()) {
        watch_error_ = "watch: " + error;
        keep_going = false;
        break;
      }
      changed = did || changed;
      if (!e.resource_version.empty()) resource_version_ = e.resource_version;
      break;
    }
    case WatchType::bookmark:
      if (!e.resource_version.empty()) resource_version_ = e.resource_version;
      break;
    case WatchType::error:
      // 410 Gone: the version we watch from is older than the server keeps; list again.
      if (e.code == 410) {
        relist_ = true;
        watch_error_ = "watch: " + e.message + " (410 Gone: listing again)";
      } else {
        watch_error_ = "watch: " + e.message;
      }
      keep_going = false;
      break;
    }
  }
  if (changed) handlers_.changed(false);
  return keep_going;
}

void ResourceWatch::on_watch_end(net::HttpResponse r) {
  // Only a watch that stayed up for a healthy spell (kHealthyWatch) ends as a matter of course:
  // the server's timeout starts the next one at once, its 410 a list at once, and the pause
  // after errors starts over. One that ended sooner is a failure, whatever came on it, so a
  // server (or a proxy) that hangs up, or answers 410 after every list, is asked again only
  // after a growing pause (client-go, too, resets its back-off only after a healthy spell).
  const bool lasted =
      watch_ok_ && std::chrono::steady_clock::now() - watch_started_ >= kHealthyWatch;
  if (lasted) errors_in_a_row_ = 0;
  if (relist_ && lasted) {
    // The server keeps no history that old: list at once (not an error of ours).
    log::info(what_.log_prefix + ": " + watch_error_);
    return list();
  }
  if (!watch_error_.empty()) return fail(watch_error_, relist_);
  if (r.error.empty() && lasted) return resource_version_.empty() ? list() : watch();
  const std::string why = !r.error.empty() ? r.error
                          : watch_ok_      ? "ended before it had been up for 30 s"
                                           : "ended";
  return fail("watch: " + why, relist_);
}

void ResourceWatch::fail(std::string error, bool relist) {
  ++status_.failures;
  ++errors_in_a_row_;
  if (error != status_.last_error)
    log::warn(what_.log_prefix + ": " + error +
              (status_.answered ? " (last good state kept)" : ""));
  status_.last_error = std::move(error);
  retry_later(relist);
}

void ResourceWatch::retry_later(bool relist) {
  auto delay = kFirstRetry * (1 << std::min(std::max(errors_in_a_row_, 1) - 1, 6));
  delay = std::min<std::chrono::milliseconds>(delay, kMaxRetry);
  // ±20 %: replicas that lost the API server together do not all come back in the same instant.
  static thread_local std::mt19937 random{std::random_device{}()};
  delay = std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(delay.count()) *
                           std::uniform_real_distribution<double>(0.8, 1.2)(random)));
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this, relist, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    if (relist || resource_version_.empty())
      list();
    else
      watch();
  });
}

} // namespace weir::discovery
