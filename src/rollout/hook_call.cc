#include "weir/rollout/hook_call.h"

#include "weir/net/http_client.h"
#include "weir/net/url.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace weir::rollout {
namespace {

namespace asio = boost::asio;

constexpr size_t kMaxMessage = 256;
constexpr std::chrono::milliseconds kMaxBackoff{1000};

// The attempts of one call, alive while an attempt or a backoff is pending.
class HookCall : public std::enable_shared_from_this<HookCall> {
public:
  HookCall(asio::io_context& io, const config::RolloutHook& hook, std::string body,
           std::function<void(HookResult)> done, std::chrono::milliseconds backoff)
      : io_(io), hook_(hook), body_(std::move(body)), done_(std::move(done)), backoff_(backoff),
        timer_(io) {}

  void start(net::Url url) {
    url_ = std::move(url);
    attempt();
  }

private:
  void attempt() {
    ++result_.attempts;
    net::HttpRequest request;
    request.method = "POST";
    request.url = url_;
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "*/*"}};
    request.body = body_;
    request.timeout = hook_.timeout;
    request.ca_file = hook_.ca_file;
    request.max_body_bytes = 64 * 1024;
    net::HttpClient::fetch(io_, std::move(request),
                           [self = shared_from_this()](net::HttpResponse r) { self->answered(r); });
  }

  void answered(const net::HttpResponse& r) {
    result_.status = r.status;
    result_.ok = r.error.empty() && r.status >= 200 && r.status < 300;
    if (!r.error.empty()) {
      result_.message = r.error;
    } else {
      result_.message = hook_message(r.body);
      if (!result_.ok && result_.message.empty())
        result_.message = "answered " + std::to_string(r.status);
    }
    if (result_.ok || result_.attempts > hook_.retries) {
      auto done = std::move(done_);
      return done(std::move(result_));
    }
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) return self->attempt();
      auto done = std::move(self->done_); // shut down during the backoff: the last outcome stands
      done(std::move(self->result_));
    });
  }

  asio::io_context& io_;
  config::RolloutHook hook_;
  net::Url url_;
  std::string body_;
  std::function<void(HookResult)> done_;
  std::chrono::milliseconds backoff_;
  asio::steady_timer timer_;
  HookResult result_;
};

} // namespace

std::string hook_message(std::string_view body) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!body.empty() && space(body.front()))
    body.remove_prefix(1);
  while (!body.empty() && space(body.back()))
    body.remove_suffix(1);
  if (body.size() > kMaxMessage) {
    size_t cut = kMaxMessage;
    // Back up over UTF-8 continuation bytes so the cut never splits a character.
    while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80)
      --cut;
    body = body.substr(0, cut);
  }
  return std::string(body);
}

void call_hook(asio::io_context& io, const config::RolloutHook& hook, std::string body,
               std::function<void(HookResult)> done, std::chrono::milliseconds backoff) {
  auto url = net::parse_url(hook.url);
  if (!url) {
    // The loader refuses such a URL; a Host fake or a test may still pass one.
    asio::post(io, [done = std::move(done), message = "bad hook url: " + url.error().message] {
      done(HookResult{false, 0, 0, message});
    });
    return;
  }
  std::make_shared<HookCall>(io, hook, std::move(body), std::move(done), backoff)
      ->start(std::move(*url));
}

} // namespace weir::rollout
