#include "weir/mirror/fingerprint.h"

#include <gtest/gtest.h>

namespace weir::mirror {
namespace {

using Body = config::Compare::Body;

Answer answer(int status, std::string body, std::vector<std::string> headers = {}) {
  Answer a;
  a.status = status;
  a.body = std::move(body);
  a.headers = std::move(headers);
  return a;
}

config::Compare compare(Body body) {
  config::Compare c;
  c.enabled = true;
  c.body = body;
  return c;
}

std::string diff(const config::Compare& c, const Answer& client, const Answer& other) {
  return differences(c, fingerprint(c, client), fingerprint(c, other)).what;
}

TEST(MirrorFingerprint, StatusClassNotCode) {
  config::Compare c = compare(Body::none);
  EXPECT_EQ(diff(c, answer(200, "a"), answer(204, "b")), "");
  EXPECT_EQ(diff(c, answer(200, ""), answer(503, "")), "status 2xx vs 5xx");
  c.status_class = false;
  EXPECT_EQ(diff(c, answer(200, ""), answer(503, "")), "");
}

TEST(MirrorFingerprint, NoAnswerDiffers) {
  config::Compare c = compare(Body::hash);
  EXPECT_EQ(diff(c, answer(200, "x"), answer(0, "")), "no answer");
}

TEST(MirrorFingerprint, ListedHeadersCompareExactly) {
  config::Compare c = compare(Body::none);
  c.headers = {"content-type", "cache-control"};
  EXPECT_EQ(
      diff(c, answer(200, "", {"application/json", ""}), answer(200, "", {"application/json", ""})),
      "");
  EXPECT_EQ(diff(c, answer(200, "", {"application/json", "no-store"}),
                 answer(200, "", {"text/plain", ""})),
            "header content-type, header cache-control");
}

TEST(MirrorFingerprint, BodyHash) {
  config::Compare c = compare(Body::hash);
  EXPECT_EQ(diff(c, answer(200, "same"), answer(200, "same")), "");
  EXPECT_EQ(diff(c, answer(200, "one"), answer(200, "two")), "body");
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cULL); // the published FNV-1a 64 test vector
}

TEST(MirrorFingerprint, JsonFieldsByDottedPath) {
  config::Compare c = compare(Body::json_fields);
  c.json_fields = {"price", "item.id", "tags.1"};
  const std::string a = R"({"price": 10, "item": {"id": "x", "at": 1}, "tags": ["a", "b"]})";
  const std::string b = R"({"tags":["a","b"],"item":{"at":2,"id":"x"},"price":10})";
  EXPECT_EQ(diff(c, answer(200, a), answer(200, b)), ""); // other fields, key order ignored
  const std::string d = R"({"price": 11, "item": {"id": "y"}, "tags": ["a", "b"]})";
  EXPECT_EQ(diff(c, answer(200, a), answer(200, d)), "json field price, json field item.id");
  // A field only one side has differs; one neither has does not.
  EXPECT_EQ(diff(c, answer(200, a), answer(200, R"({"item": {"id": "x"}, "tags": ["a", "b"]})")),
            "json field price");
  c.json_fields = {"missing"};
  EXPECT_EQ(diff(c, answer(200, a), answer(200, d)), "");
}

TEST(MirrorFingerprint, JsonHashWithoutIgnoredFields) {
  config::Compare c = compare(Body::hash);
  c.ignore_json_fields = {"served_by", "meta.time"};
  EXPECT_EQ(diff(c, answer(200, R"({"v":1,"served_by":"a","meta":{"time":5,"k":1}})"),
                 answer(200, R"({"meta":{"k":1,"time":7},"v":1,"served_by":"b"})")),
            "");
  EXPECT_EQ(
      diff(c, answer(200, R"({"v":1,"served_by":"a"})"), answer(200, R"({"v":2,"served_by":"a"})")),
      "body");
}

// Two ignored indices of one array: each names the element it meant, whatever the other does
// (erasing the first shifted the second onto the third element, which hid a difference there).
TEST(MirrorFingerprint, IgnoredArrayElementsKeepTheOthersInPlace) {
  config::Compare c = compare(Body::hash);
  c.ignore_json_fields = {"a.0", "a.1"};
  EXPECT_EQ(diff(c, answer(200, R"({"a":[1,2,3]})"), answer(200, R"({"a":[7,8,3]})")), "");
  EXPECT_EQ(diff(c, answer(200, R"({"a":[1,2,3]})"), answer(200, R"({"a":[1,2,4]})")), "body");
  EXPECT_EQ(diff(c, answer(200, R"({"a":[1,2,3]})"), answer(200, R"({"a":[1,2]})")), "body");
}

TEST(MirrorFingerprint, NotJsonAgainstJson) {
  config::Compare c = compare(Body::json_fields);
  c.json_fields = {"v"};
  EXPECT_EQ(diff(c, answer(200, R"({"v":1})"), answer(200, "<html>")), "body not JSON");
  // Two bodies that are no JSON are compared as bytes.
  EXPECT_EQ(diff(c, answer(200, "oops"), answer(200, "oops")), "");
}

TEST(MirrorFingerprint, TooLargeIsNotCompared) {
  config::Compare c = compare(Body::hash);
  Answer big = answer(200, "");
  big.body_too_large = true;
  Difference d = differences(c, fingerprint(c, big), fingerprint(c, answer(200, "x")));
  EXPECT_FALSE(d.comparable);
  // Without a body comparison the size does not matter.
  c.body = Body::none;
  d = differences(c, fingerprint(c, big), fingerprint(c, answer(200, "x")));
  EXPECT_TRUE(d.comparable);
  EXPECT_EQ(d.what, "");
}

TEST(MirrorFingerprint, CanonicalJson) {
  std::string out;
  ASSERT_TRUE(canonical_json(R"( {"b": [1, {"d":1,"c":2}], "a": "x"} )", {"b.1.d"}, out));
  EXPECT_EQ(out, R"({"a":"x","b":[1,{"c":2}]})");
  ASSERT_TRUE(canonical_json(R"({"b":[1,2,3]})", {"b.1"}, out));
  EXPECT_EQ(out, R"({"b":[1,null,3]})");
  EXPECT_FALSE(canonical_json("{", {}, out));
  EXPECT_FALSE(canonical_json(std::string(200, '[') + std::string(200, ']'), {}, out));
}

} // namespace
} // namespace weir::mirror
