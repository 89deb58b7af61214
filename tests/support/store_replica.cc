#include "store_replica.h"

#include "wait.h"

namespace weir::test {

StoreReplica::StoreReplica(const Make& make)
    : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {
  call([&](cluster::Store*) {
    store_ = make(io_);
    cluster::Store::Callbacks callbacks;
    callbacks.changed = [this](const std::vector<cluster::StoreChange>& changes) {
      if (in_call_) callback_inside_ = true;
      changes_.insert(changes_.end(), changes.begin(), changes.end());
    };
    callbacks.status_changed = [this] {
      if (in_call_) callback_inside_ = true;
      ++status_changes_;
    };
    in_call_ = true;
    store_->start(std::move(callbacks));
    in_call_ = false;
  });
}

StoreReplica::~StoreReplica() {
  stop();
  work_.reset();
  io_.stop();
  thread_.join();
}

void StoreReplica::put(const std::string& key, const std::string& value,
                       cluster::Store::Lifetime lifetime) {
  call([&](cluster::Store* store) {
    if (!store) return;
    in_call_ = true;
    store->put(key, value, lifetime);
    in_call_ = false;
  });
}

void StoreReplica::remove(const std::string& key) {
  call([&](cluster::Store* store) {
    if (!store) return;
    in_call_ = true;
    store->remove(key);
    in_call_ = false;
  });
}

std::map<std::string, std::string> StoreReplica::put_and_read(const std::string& key,
                                                              const std::string& value) {
  return call([&](cluster::Store* store) {
    if (!store) return std::map<std::string, std::string>{};
    in_call_ = true;
    store->put(key, value);
    in_call_ = false;
    return store->data();
  });
}

std::optional<std::string> StoreReplica::value(const std::string& key) {
  return call([&](cluster::Store* store) -> std::optional<std::string> {
    if (!store) return std::nullopt;
    auto it = store->data().find(key);
    if (it == store->data().end()) return std::nullopt;
    return it->second;
  });
}

std::map<std::string, std::string> StoreReplica::data() {
  return call([](cluster::Store* store) {
    return store ? store->data() : std::map<std::string, std::string>{};
  });
}

cluster::StoreStatus StoreReplica::status() {
  return call(
      [](cluster::Store* store) { return store ? store->status() : cluster::StoreStatus{}; });
}

std::vector<cluster::StoreChange> StoreReplica::changes() {
  return call([this](cluster::Store*) { return changes_; });
}

int StoreReplica::status_changes() {
  return call([this](cluster::Store*) { return status_changes_; });
}

bool StoreReplica::callback_inside_a_call() {
  return call([this](cluster::Store*) { return callback_inside_; });
}

std::chrono::milliseconds StoreReplica::stop() {
  return call([this](cluster::Store*) {
    if (!store_) return std::chrono::milliseconds(0);
    const auto start = std::chrono::steady_clock::now();
    store_->stop();
    const auto took = std::chrono::steady_clock::now() - start;
    store_.reset();
    return std::chrono::duration_cast<std::chrono::milliseconds>(took);
  });
}

void StoreReplica::crash() {
  call([this](cluster::Store*) { store_.reset(); });
}

bool StoreReplica::wait_value(const std::string& key, const std::optional<std::string>& expected,
                              std::chrono::milliseconds timeout) {
  return wait_until([&] { return value(key) == expected; }, timeout, 2ms);
}

bool StoreReplica::wait_status(const std::function<bool(const cluster::StoreStatus&)>& condition,
                               std::chrono::milliseconds timeout) {
  return wait_until([&] { return condition(status()); }, timeout, 5ms);
}

} // namespace weir::test
