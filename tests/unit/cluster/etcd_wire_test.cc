// The etcd gateway's messages as EtcdStore writes and reads them: base64 both ways, the
// prefix's range end, request bodies as etcd 3.4 takes them, answers as it writes them (int64s
// as strings, empty values left out, errors in two shapes), and the watch stream cut anywhere.
#include "weir/base/json.h"
#include "weir/cluster/etcd_wire.h"

#include <gtest/gtest.h>
#include <random>

namespace weir::cluster::etcd {
namespace {

TEST(EtcdWire, Base64RoundTripsEveryLengthAndByte) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("/weir/a"), "L3dlaXIvYQ==");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); ++n) {
    const std::string bytes = all.substr(all.size() - n);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
  }
}

TEST(EtcdWire, Base64RefusesWhatIsNotBase64) {
  EXPECT_EQ(base64_decode("Zg"), std::nullopt) << "padding is required";
  EXPECT_EQ(base64_decode("Z==="), std::nullopt);
  EXPECT_EQ(base64_decode("Zg==Zm8="), std::nullopt) << "padding only at the end";
  EXPECT_EQ(base64_decode("Zm=v"), std::nullopt);
  EXPECT_EQ(base64_decode("Zm9*"), std::nullopt);
  EXPECT_EQ(base64_decode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(base64_decode(""), "");
}

TEST(EtcdWire, ThePrefixEndCoversEveryKeyUnderIt) {
  EXPECT_EQ(prefix_end("/weir/edge/"), "/weir/edge0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

json::Value parsed(const std::string& text) {
  auto r = json::parse(text);
  EXPECT_TRUE(r.value) << r.error << ": " << text;
  return r.value ? *r.value : json::Value();
}

TEST(EtcdWire, RequestBodiesCarryBase64AndInt64sAsStrings) {
  EXPECT_EQ(range_body("/weir/", "/weir0"), R"({"key":"L3dlaXIv","range_end":"L3dlaXIw"})");
  EXPECT_EQ(put_body("/weir/a", "x", 0), R"({"key":"L3dlaXIvYQ==","value":"eA=="})");
  EXPECT_EQ(put_body("/weir/a", "", 2324035732464091915),
            R"({"key":"L3dlaXIvYQ==","value":"","lease":"2324035732464091915"})");
  EXPECT_EQ(delete_body("/weir/a"), R"({"key":"L3dlaXIvYQ=="})");
  EXPECT_EQ(lease_grant_body(5), R"({"TTL":"5"})");
  EXPECT_EQ(lease_id_body(7), R"({"ID":"7"})");
  EXPECT_EQ(
      watch_create_body("/weir/", "/weir0", 12),
      R"({"create_request":{"key":"L3dlaXIv","range_end":"L3dlaXIw","start_revision":"12"}})");
  const json::Value txn = parsed(create_if_absent_body("/l", "weir-0", 9));
  const json::Value& compare = txn["compare"].as_array().at(0);
  EXPECT_EQ(compare.get_string("target"), "CREATE");
  EXPECT_EQ(compare.get_string("result"), "EQUAL");
  EXPECT_EQ(compare.get_string("create_revision"), "0");
  const json::Value& put = txn["success"].as_array().at(0)["request_put"];
  EXPECT_EQ(base64_decode(put.get_string("value")), "weir-0");
  EXPECT_EQ(put.get_string("lease"), "9");
  EXPECT_EQ(base64_decode(txn["failure"].as_array().at(0)["request_range"].get_string("key")),
            "/l");
}

TEST(EtcdWire, ARangeAnswerAsEtcdWritesIt) {
  const RangeAnswer a = parse_range(
      R"({"header":{"cluster_id":"324952591200643719","revision":"3","raft_term":"2"},)"
      R"("kvs":[{"key":"L3dlaXIvYQ==","create_revision":"2","mod_revision":"3","version":"2",)"
      R"("value":"eA=="},{"key":"L3dlaXIvYg==","create_revision":"3","mod_revision":"3",)"
      R"("version":"1","lease":"2324035732464091915"}],"count":"2"})");
  ASSERT_EQ(a.error, "");
  EXPECT_EQ(a.revision, 3);
  ASSERT_EQ(a.kvs.size(), 2u);
  EXPECT_EQ(a.kvs[0].key, "/weir/a");
  EXPECT_EQ(a.kvs[0].value, "x");
  EXPECT_EQ(a.kvs[0].create_revision, 2);
  EXPECT_EQ(a.kvs[0].mod_revision, 3);
  EXPECT_EQ(a.kvs[1].value, "") << "an empty value is left out of the JSON";
  EXPECT_EQ(a.kvs[1].lease, 2324035732464091915) << "beyond a double's precision";
  EXPECT_TRUE(parse_range(R"({"header":{"revision":"1"}})").kvs.empty()) << "no kvs: none";
}

TEST(EtcdWire, ErrorsInBothShapes) {
  const Answer unary =
      parse_write(R"({"error":"etcdserver: requested lease not found","message":"x","code":5})");
  EXPECT_EQ(unary.error, "etcdserver: requested lease not found");
  EXPECT_EQ(unary.code, 5);
  const WatchMessage stream = parse_watch_message(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  EXPECT_EQ(stream.error, "etcdserver: no leader");
  EXPECT_EQ(stream.code, 14);
  EXPECT_NE(parse_write("<html>").error, "");
  EXPECT_NE(parse_write("[]").error, "");
  EXPECT_NE(parse_write("{}").error, "") << "a write's answer has a revision";
  EXPECT_NE(parse_range(R"({"kvs":[{"key":"not base64!"}]})").error, "");
}

TEST(EtcdWire, LeaseAnswers) {
  const LeaseAnswer grant =
      parse_lease(R"({"header":{"revision":"2"},"ID":"2324035732464091912","TTL":"2"})");
  EXPECT_EQ(grant.error, "");
  EXPECT_EQ(grant.id, 2324035732464091912);
  EXPECT_EQ(grant.ttl, 2);
  const LeaseAnswer alive = parse_lease(R"({"result":{"header":{},"ID":"12","TTL":"5"}})");
  EXPECT_EQ(alive.ttl, 5);
  const LeaseAnswer gone = parse_lease(R"({"result":{"header":{"revision":"2"},"ID":"12"}})");
  EXPECT_EQ(gone.error, "");
  EXPECT_EQ(gone.ttl, 0) << "a keepalive of a lease that is gone has no TTL";
}

TEST(EtcdWire, CreateIfAbsentAnswers) {
  const CreateAnswer won = parse_create_if_absent(
      R"({"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{}}]})");
  EXPECT_TRUE(won.created);
  EXPECT_EQ(won.revision, 3);
  const CreateAnswer lost = parse_create_if_absent(
      R"({"header":{"revision":"3"},"responses":[{"response_range":{"header":{"revision":"3"},)"
      R"("kvs":[{"key":"L2w=","create_revision":"3","mod_revision":"3","version":"1",)"
      R"("value":"d2Vpci0x","lease":"9"}],"count":"1"}}]})");
  EXPECT_FALSE(lost.created);
  ASSERT_EQ(lost.holder.size(), 1u);
  EXPECT_EQ(lost.holder[0].value, "weir-1");
  EXPECT_EQ(lost.holder[0].lease, 9);
}

TEST(EtcdWire, WatchMessages) {
  const WatchMessage created =
      parse_watch_message(R"({"result":{"header":{"revision":"5"},"created":true}})");
  EXPECT_TRUE(created.created);
  EXPECT_TRUE(created.events.empty());
  const WatchMessage events = parse_watch_message(
      R"({"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"L3dlaXIvYg==",)"
      R"("create_revision":"6","mod_revision":"6","version":"1","value":"eQ=="}},)"
      R"({"type":"DELETE","kv":{"key":"L3dlaXIvYg==","mod_revision":"7"}}]}})");
  ASSERT_EQ(events.error, "");
  ASSERT_EQ(events.events.size(), 2u);
  EXPECT_FALSE(events.events[0].deleted);
  EXPECT_EQ(events.events[0].kv.value, "y");
  EXPECT_TRUE(events.events[1].deleted);
  EXPECT_EQ(events.events[1].kv.key, "/weir/b");
  EXPECT_EQ(events.events[1].kv.mod_revision, 7);
  const WatchMessage compacted =
      parse_watch_message(R"({"result":{"header":{},"canceled":true,"compact_revision":"5"}})");
  EXPECT_TRUE(compacted.canceled);
  EXPECT_EQ(compacted.compact_revision, 5);
  EXPECT_NE(parse_watch_message(R"({"header":{}})").error, "");
}

TEST(EtcdWire, TheWatchStreamSplitAnywhereGivesTheSameLines) {
  const std::string stream = "{\"a\":1}\n{\"b\":\"\xc3\xa9\"}\r\n\n{\"c\":3}\n{\"d\"";
  const std::vector<std::string> whole = {"{\"a\":1}", "{\"b\":\"\xc3\xa9\"}", "{\"c\":3}"};
  {
    LineSplitter s;
    EXPECT_EQ(s.feed(stream), whole);
    EXPECT_EQ(s.pending(), 4u) << "the incomplete last line waits";
  }
  {
    LineSplitter s; // byte by byte
    std::vector<std::string> lines;
    for (char c : stream)
      for (auto& l : s.feed(std::string_view(&c, 1)))
        lines.push_back(l);
    EXPECT_EQ(lines, whole);
  }
  std::mt19937 random(16);
  for (int round = 0; round < 200; ++round) {
    LineSplitter s;
    std::vector<std::string> lines;
    size_t at = 0;
    while (at < stream.size()) {
      const size_t n = std::uniform_int_distribution<size_t>(0, stream.size() - at)(random);
      for (auto& l : s.feed(std::string_view(stream).substr(at, n)))
        lines.push_back(l);
      at += n;
    }
    EXPECT_EQ(lines, whole) << "round " << round;
  }
}

} // namespace
} // namespace weir::cluster::etcd
