#include "load.h"

#include "client.h"
#include "wait.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <optional>

namespace weir::test {

LoadGen::LoadGen(uint16_t port, int threads, double target_rps, std::string path)
    : port_(port), path_(std::move(path)), started_(std::chrono::steady_clock::now()) {
  auto interval = std::chrono::duration<double>(threads / target_rps);
  for (int i = 0; i < threads; ++i)
    workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_)
    w->thread = std::thread([this, w = w.get(), interval] { run(*w, interval); });
}

void LoadGen::stop() {
  if (stop_.exchange(true)) return;
  for (auto& w : workers_)
    w->thread.join();
  stopped_ = std::chrono::steady_clock::now();
}

std::map<std::string, uint64_t> LoadGen::served_by(int epoch) const {
  std::map<std::string, uint64_t> out;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    auto it = w->by_epoch.find(epoch);
    if (it == w->by_epoch.end()) continue;
    for (const auto& [name, n] : it->second)
      out[name] += n;
  }
  return out;
}

uint64_t LoadGen::count(int epoch) const {
  uint64_t n = 0;
  for (const auto& [name, c] : served_by(epoch))
    n += c;
  return n;
}

bool LoadGen::wait_for(int epoch, uint64_t n, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return count(epoch) >= n; }, timeout);
}

uint64_t LoadGen::responses() const {
  uint64_t n = 0;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    n += w->responses;
  }
  return n;
}

uint64_t LoadGen::failures() const {
  uint64_t n = 0;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    n += w->failures;
  }
  return n;
}

std::string LoadGen::report() const {
  std::map<int, uint64_t> statuses;
  uint64_t socket_errors = 0;
  std::string notes;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    for (const auto& [s, n] : w->statuses)
      statuses[s] += n;
    socket_errors += w->socket_errors;
    for (const auto& note : w->notes)
      notes.append("  ").append(note).append("\n");
  }
  std::string out = "statuses:";
  for (const auto& [s, n] : statuses)
    out.append(" ").append(std::to_string(s)).append("=").append(std::to_string(n));
  out.append("; socket errors: ").append(std::to_string(socket_errors)).append("\n");
  out.append(notes);
  return out;
}

double LoadGen::rate() const {
  auto end = stop_.load() ? stopped_ : std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(end - started_).count();
  return secs > 0 ? static_cast<double>(responses()) / secs : 0;
}

std::chrono::milliseconds LoadGen::slowest() const {
  std::chrono::steady_clock::duration out{};
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    out = std::max(out, w->slowest);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(out);
}

void LoadGen::run(Worker& w, std::chrono::duration<double> interval) {
  const std::string request = build_request("GET", path_, {}, {});
  std::unique_ptr<RawClient> client;
  auto next = std::chrono::steady_clock::now();
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(w.mutex);
    ++w.failures;
    if (w.notes.size() < 5) w.notes.push_back(what);
  };
  while (!stop_.load()) {
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
    auto now = std::chrono::steady_clock::now();
    if (next > now)
      std::this_thread::sleep_until(next); // pacing, not synchronisation
    else if (now - next > 100ms)
      next = now; // fell behind: do not burst to catch up
    int epoch = epoch_.load(std::memory_order_acquire);
    bool fresh = false;
    if (!client) {
      client = RawClient::connect(port_);
      fresh = true;
      if (!client) {
        {
          std::lock_guard lock(w.mutex);
          ++w.socket_errors;
        }
        fail("connect to port " + std::to_string(port_) + " failed");
        continue;
      }
    }
    std::optional<HttpResponse> resp;
    const auto sent_at = std::chrono::steady_clock::now();
    const bool sent = client->send(request);
    if (sent) resp = client->read_response(5s);
    if (!resp || resp->status == 0 || !resp->complete) {
      {
        std::lock_guard lock(w.mutex);
        ++w.socket_errors;
      }
      const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started_)
                          .count();
      fail(std::string("no complete response on a ") + (fresh ? "new" : "reused") +
           " connection (" +
           (!sent  ? "send failed"
            : resp ? "response cut short"
                   : "none") +
           ", " + std::to_string(at) + " ms into the load)");
      client.reset();
      continue;
    }
    {
      std::lock_guard lock(w.mutex);
      ++w.responses;
      ++w.statuses[resp->status];
      w.slowest = std::max(w.slowest, std::chrono::steady_clock::now() - sent_at);
      if (resp->status >= 200 && resp->status < 300)
        ++w.by_epoch[epoch][resp->header("x-served-by")];
    }
    if (resp->status < 200 || resp->status >= 300)
      fail("status " + std::to_string(resp->status) + ": " + resp->body.substr(0, 200));
    if (iequals(resp->header("connection"), "close")) client.reset();
  }
}

std::map<std::string, int> served_by(uint16_t port, int n) {
  std::map<std::string, int> out;
  auto client = RawClient::connect(port);
  if (!client) {
    ADD_FAILURE() << "cannot connect to port " << port;
    return out;
  }
  const std::string request = build_request("GET", "/", {}, {});
  for (int i = 0; i < n; ++i) {
    std::optional<HttpResponse> r;
    if (client->send(request)) r = client->read_response(5s);
    if (!r || r->status != 200) {
      ADD_FAILURE() << "request " << i << ": status " << (r ? r->status : 0);
      return out;
    }
    ++out[r->header("x-served-by")];
  }
  return out;
}

} // namespace weir::test
