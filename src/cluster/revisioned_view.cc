#include "weir/cluster/revisioned_view.h"

namespace weir::cluster {

void RevisionedView::learn(const std::string& key, std::optional<std::string> value,
                           int64_t revision) {
  auto it = known_.find(key);
  if (it != known_.end()) {
    if (revision <= it->second.revision) return;
    it->second = Known{std::move(value), revision};
    return;
  }
  known_.emplace(key, Known{std::move(value), revision});
}

void RevisionedView::show(const std::string& key, Changes& changes) {
  std::optional<std::string> now;
  if (auto u = unconfirmed_.find(key); u != unconfirmed_.end()) {
    now = u->second;
  } else if (auto k = known_.find(key); k != known_.end()) {
    now = k->second.value;
  }
  auto d = data_.find(key);
  if (now) {
    if (d != data_.end() && d->second == *now) return;
    data_[key] = *now;
  } else {
    if (d == data_.end()) return;
    data_.erase(d);
  }
  changes.push_back(StoreChange{key, std::move(now)});
}

void RevisionedView::seen(const std::string& key, std::optional<std::string> value,
                          int64_t revision, Changes& changes) {
  learn(key, std::move(value), revision);
  show(key, changes);
}

void RevisionedView::seen_all(const std::map<std::string, std::pair<std::string, int64_t>>& entries,
                              int64_t revision, Changes& changes) {
  std::vector<std::string> gone;
  for (const auto& [key, known] : known_)
    if (known.value && known.revision <= revision && !entries.contains(key)) gone.push_back(key);
  for (const std::string& key : gone)
    seen(key, std::nullopt, revision, changes);
  for (const auto& [key, entry] : entries)
    seen(key, entry.first, entry.second, changes);
}

void RevisionedView::write(const std::string& key, std::optional<std::string> value,
                           Changes& changes) {
  unconfirmed_[key] = std::move(value);
  show(key, changes);
}

void RevisionedView::confirmed(const std::string& key, std::optional<std::string> value,
                               int64_t revision, bool more, Changes& changes) {
  // Nothing known of the key at a revision already reported: the watch reported this write and
  // then its deletion, which has since been forgotten. Learning it again would bring it back.
  if (known_.contains(key) || revision > reported_up_to_) learn(key, std::move(value), revision);
  if (!more) unconfirmed_.erase(key);
  show(key, changes);
}

void RevisionedView::dropped(const std::string& key, bool more, Changes& changes) {
  if (!more) unconfirmed_.erase(key);
  show(key, changes);
}

void RevisionedView::reported_up_to(int64_t revision) {
  if (revision <= reported_up_to_) return;
  reported_up_to_ = revision;
  std::erase_if(known_, [&](const auto& entry) {
    return !entry.second.value && entry.second.revision <= revision;
  });
}

} // namespace weir::cluster
