#include "weir/control/command_table.h"

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace weir::control {
namespace {

// Records what a command answered.
class Recorder : public Responder {
public:
  void reply(std::string json_line) override { replies.push_back(std::move(json_line)); }
  void stream(std::string json_line) override { streamed.push_back(std::move(json_line)); }
  bool open() const override { return true; }

  std::vector<std::string> replies;
  std::vector<std::string> streamed;
};

// The error message of a {"ok":false,"error":...} reply; fails the test for any other shape.
std::string error_of(const std::string& reply) {
  auto parsed = json::parse(reply);
  if (!parsed.value) {
    ADD_FAILURE() << "not JSON: " << reply << " (" << parsed.error << ")";
    return {};
  }
  EXPECT_TRUE(parsed.value->is_object()) << reply;
  EXPECT_FALSE(parsed.value->get_bool("ok", true)) << reply;
  return parsed.value->get_string("error");
}

class CommandTableTest : public ::testing::Test {
protected:
  void SetUp() override {
    // "show" alone exists too, so two-word names must be tried first.
    for (const char* name : {"help", "show", "show routes", "show services", "set weight"})
      table_.add({name, "[ARG ...]", std::string("the ") + name + " command",
                  [this, name](const Args& args, std::shared_ptr<Responder> r) {
                    calls_.push_back({name, args});
                    r->reply(ok_reply());
                  }});
  }

  std::shared_ptr<Recorder> dispatch(std::string_view line) {
    auto r = std::make_shared<Recorder>();
    table_.dispatch(line, r);
    return r;
  }

  struct Call {
    std::string name;
    Args args;
  };
  CommandTable table_;
  std::vector<Call> calls_;
};

TEST_F(CommandTableTest, TwoWordNamesAreMatchedBeforeOneWordNames) {
  auto r = dispatch("show routes");
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].name, "show routes");
  EXPECT_TRUE(calls_[0].args.empty());
  ASSERT_EQ(r->replies.size(), 1u);
  EXPECT_EQ(r->replies[0], R"({"ok":true})");

  dispatch("show services extra");
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[1].name, "show services");
  EXPECT_EQ(calls_[1].args, Args({"extra"}));
}

TEST_F(CommandTableTest, OneWordNameTakesTheRestAsArguments) {
  dispatch("show something else");
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].name, "show");
  EXPECT_EQ(calls_[0].args, Args({"something", "else"}));

  dispatch("help");
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[1].name, "help");
  EXPECT_TRUE(calls_[1].args.empty());
}

TEST_F(CommandTableTest, ArgumentsArePassedInOrderWhateverTheSpacing) {
  dispatch("  set \t weight   web\tapp-v1/app=90   app-v2/app=10  ");
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].name, "set weight");
  EXPECT_EQ(calls_[0].args, Args({"web", "app-v1/app=90", "app-v2/app=10"}));
}

TEST_F(CommandTableTest, UnknownCommandPointsAtHelp) {
  auto r = dispatch("bogus arg");
  EXPECT_TRUE(calls_.empty());
  ASSERT_EQ(r->replies.size(), 1u);
  EXPECT_EQ(error_of(r->replies[0]), "unknown command \"bogus\"; try \"help\"");
  EXPECT_TRUE(r->streamed.empty());
}

TEST_F(CommandTableTest, KnownFirstWordListsTheCommandsItStarts) {
  auto r = dispatch("set wieght web a=1");
  EXPECT_TRUE(calls_.empty());
  ASSERT_EQ(r->replies.size(), 1u);
  EXPECT_EQ(error_of(r->replies[0]),
            "unknown command \"set wieght web a=1\"; did you mean one of: set weight");
}

TEST_F(CommandTableTest, DidYouMeanListsEveryCandidateInTableOrder) {
  CommandTable table;
  for (const char* name : {"show routes", "show services", "show config", "reload"})
    table.add({name, "", "", [](const Args&, std::shared_ptr<Responder> r) { r->reply("x"); }});
  auto r = std::make_shared<Recorder>();
  table.dispatch("show bogus", r);
  ASSERT_EQ(r->replies.size(), 1u);
  EXPECT_EQ(error_of(r->replies[0]), "unknown command \"show bogus\"; did you mean one of: "
                                     "show routes, show services, show config");
}

TEST_F(CommandTableTest, UnknownCommandTextIsCutShort) {
  auto r = dispatch(std::string(500, 'x'));
  ASSERT_EQ(r->replies.size(), 1u);
  EXPECT_EQ(error_of(r->replies[0]),
            "unknown command \"" + std::string(80, 'x') + "\"; try \"help\"");
}

TEST_F(CommandTableTest, EmptyAndBlankLinesAreRefused) {
  for (std::string_view line : {"", " ", "\t", "  \t  "}) {
    auto r = dispatch(line);
    ASSERT_EQ(r->replies.size(), 1u) << "line: \"" << line << "\"";
    EXPECT_EQ(error_of(r->replies[0]), "empty command; try \"help\"");
  }
  EXPECT_TRUE(calls_.empty());
}

TEST_F(CommandTableTest, KeepsCommandsInTheOrderAdded) {
  std::vector<std::string> names;
  for (const auto& c : table_.commands())
    names.push_back(c.name);
  EXPECT_EQ(names, std::vector<std::string>(
                       {"help", "show", "show routes", "show services", "set weight"}));
}

TEST(SplitWords, SplitsOnSpacesAndTabs) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_words("a b c"), V({"a", "b", "c"}));
  EXPECT_EQ(split_words("a\tb\t\tc"), V({"a", "b", "c"}));
  EXPECT_EQ(split_words("  a    b  "), V({"a", "b"}));
  EXPECT_EQ(split_words("\t a \t b \t"), V({"a", "b"}));
  EXPECT_EQ(split_words("one"), V({"one"}));
  EXPECT_EQ(split_words("ns/svc=5"), V({"ns/svc=5"}));
}

TEST(SplitWords, BlankInputHasNoWords) {
  EXPECT_TRUE(split_words("").empty());
  EXPECT_TRUE(split_words("   ").empty());
  EXPECT_TRUE(split_words("\t\t").empty());
}

TEST(SplitWords, KeepsNonAsciiBytesInsideWords) {
  EXPECT_EQ(split_words("r\xc3\xa9sum\xc3\xa9 x"),
            std::vector<std::string>({"r\xc3\xa9sum\xc3\xa9", "x"}));
}

TEST(Replies, OkReplyIsAJsonObject) {
  EXPECT_EQ(ok_reply(), R"({"ok":true})");
  auto parsed = json::parse(ok_reply());
  ASSERT_TRUE(parsed.value) << parsed.error;
  EXPECT_TRUE(parsed.value->get_bool("ok"));
}

TEST(Replies, OkReplyCarriesTheFilledFields) {
  std::string reply = ok_reply([](json::Writer& w) {
    w.key("name").value("web \"main\"").key("n").value(3);
    w.key("list").begin_array().value(1).value("two").end_array();
  });
  auto parsed = json::parse(reply);
  ASSERT_TRUE(parsed.value) << parsed.error << ": " << reply;
  const json::Value& v = *parsed.value;
  EXPECT_TRUE(v.get_bool("ok"));
  EXPECT_EQ(v.get_string("name"), "web \"main\"");
  EXPECT_EQ(v.get_number("n"), 3);
  ASSERT_TRUE(v["list"].is_array());
  EXPECT_EQ(v["list"].as_array().size(), 2u);
  EXPECT_EQ(reply.find('\n'), std::string::npos) << "a reply is one line";
}

TEST(Replies, ErrorReplyRoundTripsAnyMessage) {
  for (std::string message : {std::string("plain"), std::string("quotes \" and \\ backslash"),
                              std::string("line\nbreak\tand\rcontrol \x01"),
                              std::string("utf-8 \xe2\x80\x94 dash"), std::string()}) {
    std::string reply = error_reply(message);
    EXPECT_EQ(reply.find('\n'), std::string::npos) << "a reply is one line: " << reply;
    auto parsed = json::parse(reply);
    ASSERT_TRUE(parsed.value) << parsed.error << ": " << reply;
    EXPECT_FALSE(parsed.value->get_bool("ok", true));
    EXPECT_EQ(parsed.value->get_string("error"), message);
  }
}

TEST(Replies, ErrorReplyWithInvalidUtf8IsStillValidJson) {
  std::string reply = error_reply("bad \xff\xfe bytes");
  auto parsed = json::parse(reply);
  ASSERT_TRUE(parsed.value) << parsed.error << ": " << reply;
  EXPECT_EQ(parsed.value->get_string("error"), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
}

} // namespace
} // namespace weir::control
