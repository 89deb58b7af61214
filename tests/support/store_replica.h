#pragma once

#include "weir/cluster/store.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace weir::test {

// One replica's cluster::Store as a weir replica runs it: on an io_context of its own, run by a
// thread of its own (its control thread). The test touches the store only through call(), which
// runs a function on that thread and waits for it, so nothing races. The store's callbacks are
// recorded there too.
// Thread contract: every member from the thread that owns the object.
class StoreReplica {
public:
  using Make = std::function<std::unique_ptr<cluster::Store>(boost::asio::io_context&)>;
  // Makes the store on its thread and starts it.
  explicit StoreReplica(const Make& make);
  StoreReplica(const StoreReplica&) = delete;
  StoreReplica& operator=(const StoreReplica&) = delete;
  ~StoreReplica(); // stop() if still running, then the thread ends

  // f(store) on the store's thread (store nullptr once stopped or crashed); its result.
  template <typename F> auto call(F f) -> std::invoke_result_t<F, cluster::Store*> {
    using R = std::invoke_result_t<F, cluster::Store*>;
    std::promise<R> done;
    auto result = done.get_future();
    boost::asio::post(io_, [&] {
      try {
        if constexpr (std::is_void_v<R>) {
          f(store_.get());
          done.set_value();
        } else {
          done.set_value(f(store_.get()));
        }
      } catch (...) {
        done.set_exception(std::current_exception());
      }
    });
    return result.get();
  }

  void put(const std::string& key, const std::string& value,
           cluster::Store::Lifetime lifetime = cluster::Store::Lifetime::durable);
  void remove(const std::string& key);
  // data() right after the put, in the same turn of the store's thread (read your writes).
  std::map<std::string, std::string> put_and_read(const std::string& key, const std::string& value);
  std::optional<std::string> value(const std::string& key);
  std::map<std::string, std::string> data();
  cluster::StoreStatus status();
  // Every change the store reported, in order, and how many times it reported a status change.
  std::vector<cluster::StoreChange> changes();
  int status_changes();
  // True if a callback ever ran inside put(), remove() or start() (the contract forbids it).
  bool callback_inside_a_call();

  // Store::stop() on its thread, then the store destroyed; how long stop() took.
  std::chrono::milliseconds stop();
  // The store destroyed without stop(), as if the process died: its lease is left to expire.
  void crash();

  // Waits until value(key) == expected (nullopt: absent); false after `timeout`.
  bool wait_value(const std::string& key, const std::optional<std::string>& expected,
                  std::chrono::milliseconds timeout);
  bool wait_status(const std::function<bool(const cluster::StoreStatus&)>& condition,
                   std::chrono::milliseconds timeout);

private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<cluster::Store> store_;
  std::thread thread_;
  // Touched on the store's thread only.
  std::vector<cluster::StoreChange> changes_;
  int status_changes_ = 0;
  bool in_call_ = false;
  bool callback_inside_ = false;
};

} // namespace weir::test
