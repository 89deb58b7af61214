// data() as a replica of an etcd fleet sees it: the store's reports ordered by revision, under
// the replica's own writes until the store confirms them (read your writes), and never an
// older report over a newer one.
#include "weir/cluster/revisioned_view.h"

#include <gtest/gtest.h>

namespace weir::cluster {
namespace {

using Changes = RevisionedView::Changes;

std::optional<std::string> value_of(const RevisionedView& v, const std::string& key) {
  auto it = v.data().find(key);
  if (it == v.data().end()) return std::nullopt;
  return it->second;
}

TEST(RevisionedView, ReportsWhatChangedOnly) {
  RevisionedView v;
  Changes c;
  v.seen("a", "1", 5, c);
  v.seen("a", "1", 6, c);          // same value again
  v.seen("b", std::nullopt, 7, c); // gone, never there
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].key, "a");
  EXPECT_EQ(c[0].value, "1");
}

TEST(RevisionedView, AnOlderReportChangesNothing) {
  RevisionedView v;
  Changes c;
  v.seen("a", "new", 9, c);
  v.seen("a", "old", 8, c);
  v.seen("a", std::nullopt, 9, c);
  EXPECT_EQ(value_of(v, "a"), "new");
  EXPECT_EQ(c.size(), 1u);
}

TEST(RevisionedView, OwnWritesShowAtOnceAndStaleEchoesNeverUndoThem) {
  RevisionedView v;
  Changes c;
  v.seen("w", "0", 3, c);
  v.write("w", "1", c);
  v.write("w", "2", c);
  EXPECT_EQ(value_of(v, "w"), "2");
  v.confirmed("w", "1", 10, /*more=*/true, c); // "2" still on its way
  EXPECT_EQ(value_of(v, "w"), "2");
  v.seen("w", "1", 10, c); // the watch's echo of the first write
  EXPECT_EQ(value_of(v, "w"), "2");
  v.confirmed("w", "2", 11, false, c);
  v.seen("w", "1", 10, c); // late again
  EXPECT_EQ(value_of(v, "w"), "2");
  v.seen("w", "2", 11, c);
  ASSERT_EQ(c.size(), 3u) << "0, then the own writes 1 and 2, each once";
  EXPECT_EQ(c[1].value, "1");
  EXPECT_EQ(c[2].value, "2");
}

TEST(RevisionedView, AnotherReplicasLaterWriteWinsOverAConfirmedOwnWrite) {
  RevisionedView v;
  Changes c;
  v.write("w", "mine", c);
  v.seen("w", "theirs", 12, c); // made after mine, reported before my answer came
  EXPECT_EQ(value_of(v, "w"), "mine") << "unconfirmed: my write still shows";
  v.confirmed("w", "mine", 11, false, c);
  EXPECT_EQ(value_of(v, "w"), "theirs");
}

TEST(RevisionedView, ARefusedWriteShowsTheStoresValueAgain) {
  RevisionedView v;
  Changes c;
  v.seen("w", "stored", 2, c);
  v.write("w", "refused", c);
  v.dropped("w", false, c);
  EXPECT_EQ(value_of(v, "w"), "stored");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].value, "stored");
}

TEST(RevisionedView, AFullReadRemovesWhatItLacksUnlessKnownLater) {
  RevisionedView v;
  Changes c;
  v.seen("gone", "1", 3, c);
  v.seen("later", "1", 12, c);
  v.seen("kept", "1", 4, c);
  c.clear();
  v.seen_all({{"kept", {"1", 4}}, {"new", {"2", 9}}}, 10, c);
  EXPECT_EQ(value_of(v, "gone"), std::nullopt);
  EXPECT_EQ(value_of(v, "later"), "1") << "written after the read's revision";
  EXPECT_EQ(value_of(v, "new"), "2");
  ASSERT_EQ(c.size(), 2u) << "only what differs: gone and new";
  EXPECT_EQ(c[0].key, "gone");
  EXPECT_EQ(c[1].key, "new");
}

TEST(RevisionedView, AForgottenDeletionIsNotUndoneByALateConfirmation) {
  RevisionedView v;
  Changes c;
  v.write("w", "mine", c);
  v.seen("w", "mine", 5, c);             // the watch: my write...
  v.seen("w", std::nullopt, 6, c);       // ...then another replica's remove
  v.reported_up_to(6);                   // the deletion is forgotten
  v.confirmed("w", "mine", 5, false, c); // my answer, late
  EXPECT_EQ(value_of(v, "w"), std::nullopt);
}

} // namespace
} // namespace weir::cluster
