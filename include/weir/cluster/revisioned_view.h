#pragma once

#include "weir/cluster/store.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weir::cluster {

// data() of a store whose writes carry a revision that only grows (etcd's mod_revision): the
// entries as the store last reported them, under this replica's own writes that the store has
// not confirmed yet (read your writes). A report older than what is known of a key — a watch
// event that arrives after the answer to this replica's later write — changes nothing, so a
// replica never sees its own write undone by a stale event.
// Every call appends to `changes` the keys whose value in data() changed, in order.
// Pure bookkeeping; one thread (the store's).
class RevisionedView {
public:
  using Changes = std::vector<StoreChange>;

  const std::map<std::string, std::string>& data() const { return data_; }

  // The store holds `key` = `value` (nullopt: it is gone) since `revision`.
  void seen(const std::string& key, std::optional<std::string> value, int64_t revision,
            Changes& changes);
  // A full read at `revision` found exactly `entries` (key → value, mod_revision): a known key
  // it lacks is gone, unless known from a later revision.
  void seen_all(const std::map<std::string, std::pair<std::string, int64_t>>& entries,
                int64_t revision, Changes& changes);

  // This replica wrote `key` (nullopt: removed it); shows at once.
  void write(const std::string& key, std::optional<std::string> value, Changes& changes);
  // The store made that write of `value` at `revision`. `more`: a later write of the key is still
  // to be made, and keeps showing.
  void confirmed(const std::string& key, std::optional<std::string> value, int64_t revision,
                 bool more, Changes& changes);
  // The write will never be made (the store refused it): the store's value shows again, unless
  // `more`.
  void dropped(const std::string& key, bool more, Changes& changes);

  // Every change up to `revision` has been reported (the watch got that far), so any later
  // report is newer than them: deletions that old need not be remembered any more.
  void reported_up_to(int64_t revision);

private:
  struct Known {
    std::optional<std::string> value; // nullopt: deleted (kept to order later reports)
    int64_t revision = 0;
  };
  void learn(const std::string& key, std::optional<std::string> value, int64_t revision);
  void show(const std::string& key, Changes& changes);

  std::map<std::string, Known> known_;
  std::map<std::string, std::optional<std::string>> unconfirmed_;
  std::map<std::string, std::string> data_;
  int64_t reported_up_to_ = 0;
};

} // namespace weir::cluster
