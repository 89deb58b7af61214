#pragma once

#include "weir/config/config.h"
#include "weir/rollout/host.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace weir::rollout {

// One call of a rollout hook: POSTs `body` (JSON) to hook.url, each attempt bounded by
// hook.timeout, and after a failed attempt (no answer, or not 2xx) tries again up to
// hook.retries times, `backoff` apart (doubled each time, at most 1 s). `done` gets the last
// attempt's outcome, once, on the io_context's thread and never inside call_hook().
// Control thread only.
void call_hook(boost::asio::io_context& io, const config::RolloutHook& hook, std::string body,
               std::function<void(HookResult)> done,
               std::chrono::milliseconds backoff = std::chrono::milliseconds(100));

// The message of a HookResult: a 2xx or error answer's body with surrounding white space
// removed and cut to at most 256 bytes (never inside a UTF-8 sequence). Pure function.
std::string hook_message(std::string_view body);

} // namespace weir::rollout
