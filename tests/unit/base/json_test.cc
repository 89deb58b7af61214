#include "weir/base/json.h"

#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace weir::json {
namespace {

using namespace std::string_literals;

Value parse_ok(std::string_view text) {
  ParseResult r = parse(text);
  EXPECT_TRUE(r.value.has_value()) << "input: " << text << "\nerror: " << r.error;
  EXPECT_EQ(r.error, "");
  return r.value ? *r.value : Value();
}

std::string parse_error(std::string_view text) {
  ParseResult r = parse(text);
  EXPECT_FALSE(r.value.has_value()) << "accepted: " << text;
  EXPECT_EQ(r.error.rfind("offset ", 0), 0u) << "error without offset: " << r.error;
  return r.error;
}

std::string compact(const Value& v) {
  return Writer().value(v).take();
}

std::string nested(int depth, std::string_view open, std::string_view inner,
                   std::string_view close) {
  std::string s;
  for (int i = 0; i < depth; ++i)
    s.append(open);
  s.append(inner);
  for (int i = 0; i < depth; ++i)
    s.append(close);
  return s;
}

// ---- escape ----

TEST(JsonEscape, QuotesAndBackslashes) {
  EXPECT_EQ(escape(""), R"("")");
  EXPECT_EQ(escape("plain"), R"("plain")");
  EXPECT_EQ(escape(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(escape(R"(C:\dir\)"), R"("C:\\dir\\")");
  EXPECT_EQ(escape("/"), R"("/")");
}

TEST(JsonEscape, NamedControlCharacters) {
  EXPECT_EQ(escape("a\nb\rc\td\be\ff"), R"("a\nb\rc\td\be\ff")");
}

TEST(JsonEscape, OtherControlCharactersAsUnicode) {
  EXPECT_EQ(escape("\x01"), R"("\u0001")");
  EXPECT_EQ(escape("\x1f"), R"("\u001f")");
  EXPECT_EQ(escape("\x1b[0m"), R"("\u001b[0m")");
  EXPECT_EQ(escape("a\0b"s), R"("a\u0000b")");
  EXPECT_EQ(escape("\x7f"), "\"\x7f\""); // DEL needs no escape
}

TEST(JsonEscape, ValidUtf8PassesThrough) {
  EXPECT_EQ(escape("caf\xc3\xa9"), "\"caf\xc3\xa9\"");           // é
  EXPECT_EQ(escape("\xe2\x82\xac"), "\"\xe2\x82\xac\"");         // €
  EXPECT_EQ(escape("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""); // U+1F600
  EXPECT_EQ(escape("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\""); // U+10FFFF
  EXPECT_EQ(escape("\xe2\x80\xa8"), "\"\xe2\x80\xa8\"");         // U+2028
}

TEST(JsonEscape, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(escape("\xff"), R"("\ufffd")");
  EXPECT_EQ(escape("a\x80z"), R"("a\ufffdz")");                           // lone continuation byte
  EXPECT_EQ(escape("\xc3"), R"("\ufffd")");                               // truncated at the end
  EXPECT_EQ(escape("\xc3z"), R"("\ufffdz")");                             // truncated in the middle
  EXPECT_EQ(escape("\xc0\xaf"), R"("\ufffd\ufffd")");                     // overlong '/'
  EXPECT_EQ(escape("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")");           // overlong 3 bytes
  EXPECT_EQ(escape("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");           // UTF-8 encoded surrogate
  EXPECT_EQ(escape("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")"); // above U+10FFFF
  EXPECT_EQ(escape("\xf0\x9f\x98"), R"("\ufffd\ufffd\ufffd")");
  EXPECT_EQ(escape("ok\xc3\xa9\xfe"), "\"ok\xc3\xa9\\ufffd\"");
}

TEST(JsonEscape, OutputAlwaysParsesBack) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 16, '\0');
    for (char& c : s)
      c = static_cast<char>(rng());
    const std::string e = escape(s);
    ParseResult r = parse(e);
    ASSERT_TRUE(r.value) << r.error;
    ASSERT_TRUE(r.value->is_string());
    // What was decoded is valid UTF-8 (invalid bytes became U+FFFD), so it survives a second
    // trip unchanged.
    const std::string& decoded = r.value->as_string();
    ParseResult r2 = parse(escape(decoded));
    ASSERT_TRUE(r2.value) << r2.error;
    EXPECT_EQ(r2.value->as_string(), decoded);
  }
}

// ---- Writer ----

TEST(JsonWriter, ScalarsAtTopLevel) {
  EXPECT_EQ(Writer().value("x").take(), R"("x")");
  EXPECT_EQ(Writer().value(true).take(), "true");
  EXPECT_EQ(Writer().value(false).take(), "false");
  EXPECT_EQ(Writer().null().take(), "null");
  EXPECT_EQ(Writer().value(static_cast<const char*>(nullptr)).take(), "null");
  EXPECT_EQ(Writer().raw(R"({"pre":1})").take(), R"({"pre":1})");
}

TEST(JsonWriter, Integers) {
  EXPECT_EQ(Writer().value(0).take(), "0");
  EXPECT_EQ(Writer().value(-42).take(), "-42");
  EXPECT_EQ(Writer().value(42u).take(), "42");
  EXPECT_EQ(Writer().value(std::numeric_limits<int64_t>::min()).take(), "-9223372036854775808");
  EXPECT_EQ(Writer().value(std::numeric_limits<int64_t>::max()).take(), "9223372036854775807");
  EXPECT_EQ(Writer().value(std::numeric_limits<uint64_t>::max()).take(), "18446744073709551615");
  EXPECT_EQ(Writer().value(std::numeric_limits<unsigned>::max()).take(), "4294967295");
}

TEST(JsonWriter, Doubles) {
  EXPECT_EQ(Writer().value(0.1).take(), "0.1");
  EXPECT_EQ(Writer().value(1.5).take(), "1.5");
  EXPECT_EQ(Writer().value(-2.0).take(), "-2");
  EXPECT_EQ(Writer().value(1e300).take(), "1e+300");
  EXPECT_EQ(Writer().value(5e-324).take(), "5e-324");
  EXPECT_EQ(Writer().value(std::nan("")).take(), "null");
  EXPECT_EQ(Writer().value(std::numeric_limits<double>::infinity()).take(), "null");
  EXPECT_EQ(Writer().value(-std::numeric_limits<double>::infinity()).take(), "null");
  // Shortest form that reads back to the same double.
  for (double d : {0.1 + 0.2, 1.0 / 3.0, 123456.789, 2.2250738585072014e-308,
                   1.7976931348623157e308, -0.0, 9007199254740993.0}) {
    const std::string text = Writer().value(d).take();
    Value v = parse_ok(text);
    EXPECT_EQ(v.as_number(), d) << text;
    EXPECT_EQ(std::signbit(v.as_number()), std::signbit(d)) << text;
  }
}

TEST(JsonWriter, NestingAndCommas) {
  Writer w;
  w.begin_object();
  w.key("a")
      .begin_array()
      .value(1)
      .value(2)
      .begin_object()
      .key("b")
      .null()
      .end_object()
      .end_array();
  w.key("c").begin_object().end_object();
  w.key("d").begin_array().end_array();
  w.key("e").begin_array().begin_array().end_array().begin_object().end_object().end_array();
  w.key("f").value("x");
  w.key("g").raw("[1,2]");
  w.key("h").value(false);
  w.end_object();
  EXPECT_EQ(w.str(),
            R"({"a":[1,2,{"b":null}],"c":{},"d":[],"e":[[],{}],"f":"x","g":[1,2],"h":false})");
  parse_ok(w.str());
}

TEST(JsonWriter, KeysAreEscaped) {
  Writer w;
  w.begin_object().key("q\"k\n").value(1).key("\xff").value(2).end_object();
  EXPECT_EQ(w.str(), R"({"q\"k\n":1,"\ufffd":2})");
}

TEST(JsonWriter, TakeResets) {
  Writer w;
  w.begin_array().value(1).end_array();
  EXPECT_EQ(w.take(), "[1]");
  EXPECT_EQ(w.str(), "");
  w.begin_array().value(2).end_array();
  EXPECT_EQ(w.take(), "[2]");
}

TEST(JsonWriter, ValueOfParsedDocumentIsCompact) {
  Value v =
      parse_ok(" { \"b\" : [ 1 , 2.50 , true , null ] ,\n\t\"a\" : { } , \"s\":\"\\u00e9\\n\" } ");
  EXPECT_EQ(compact(v), "{\"b\":[1,2.5,true,null],\"a\":{},\"s\":\"\xc3\xa9\\n\"}");
}

// ---- Value ----

TEST(JsonValue, AccessorsAndLookups) {
  Value v = parse_ok(R"({"name":"web","weight":90,"on":true,"tags":["a","b"],"inner":{"x":1},
                        "dup":1,"dup":2})");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.type(), Value::Type::object);
  ASSERT_EQ(v.as_object().size(), 7u);
  EXPECT_EQ(v.as_object()[0].first, "name"); // key order kept
  EXPECT_EQ(v.as_object()[6].first, "dup");
  EXPECT_EQ(v["name"].as_string(), "web");
  EXPECT_EQ(v["weight"].as_number(), 90);
  EXPECT_TRUE(v["on"].as_bool());
  EXPECT_EQ(v["tags"].as_array().size(), 2u);
  EXPECT_EQ(v["tags"].as_array()[1].as_string(), "b");
  EXPECT_EQ(v["inner"]["x"].as_number(), 1);
  EXPECT_EQ(v["dup"].as_number(), 2); // the last one wins
  EXPECT_TRUE(v["missing"].is_null());
  EXPECT_TRUE(v["missing"]["deeper"].is_null());
  EXPECT_TRUE(v["name"]["not an object"].is_null());
  EXPECT_EQ(v.find("missing"), nullptr);
  ASSERT_NE(v.find("on"), nullptr);

  EXPECT_EQ(v.get_string("name", "def"), "web");
  EXPECT_EQ(v.get_string("weight", "def"), "def");
  EXPECT_EQ(v.get_string("missing", "def"), "def");
  EXPECT_EQ(v.get_number("weight", -1), 90);
  EXPECT_EQ(v.get_number("name", -1), -1);
  EXPECT_TRUE(v.get_bool("on", false));
  EXPECT_TRUE(v.get_bool("missing", true));
  EXPECT_FALSE(v.get_bool("name", false));
}

TEST(JsonValue, WrongTypeAccessorsReturnEmpty) {
  Value s = parse_ok(R"("text")");
  EXPECT_FALSE(s.as_bool());
  EXPECT_EQ(s.as_number(), 0);
  EXPECT_TRUE(s.as_array().empty());
  EXPECT_TRUE(s.as_object().empty());
  EXPECT_EQ(s.find("x"), nullptr);
  EXPECT_EQ(s.get_number("x", 3), 3);
  Value n = parse_ok("null");
  EXPECT_TRUE(n.is_null());
  EXPECT_EQ(n.as_string(), "");
}

TEST(JsonValue, Equality) {
  EXPECT_EQ(parse_ok(R"({"a":[1,"x",null]})"), parse_ok(R"( { "a" : [ 1.0 , "x" , null ] } )"));
  EXPECT_NE(parse_ok(R"({"a":1,"b":2})"), parse_ok(R"({"b":2,"a":1})")); // order is kept
  EXPECT_EQ(Value(Value::Array{Value(1), Value("x"), Value(true), Value()}),
            parse_ok(R"([1,"x",true,null])"));
}

// ---- parse: valid input ----

TEST(JsonParse, Scalars) {
  EXPECT_TRUE(parse_ok("null").is_null());
  EXPECT_TRUE(parse_ok("true").as_bool());
  EXPECT_FALSE(parse_ok("false").as_bool());
  EXPECT_TRUE(parse_ok("false").is_bool());
  EXPECT_EQ(parse_ok(R"("")").as_string(), "");
  EXPECT_EQ(parse_ok(" \t\r\n 7 \n").as_number(), 7);
}

TEST(JsonParse, Numbers) {
  EXPECT_EQ(parse_ok("0").as_number(), 0);
  EXPECT_TRUE(std::signbit(parse_ok("-0").as_number()));
  EXPECT_EQ(parse_ok("-12").as_number(), -12);
  EXPECT_EQ(parse_ok("1.5e3").as_number(), 1500);
  EXPECT_EQ(parse_ok("1E-2").as_number(), 0.01);
  EXPECT_EQ(parse_ok("2e+2").as_number(), 200);
  EXPECT_EQ(parse_ok("0.5").as_number(), 0.5);
  EXPECT_EQ(parse_ok("4294967295").as_number(), 4294967295.0);
  EXPECT_EQ(parse_ok("1.7976931348623157e308").as_number(), 1.7976931348623157e308);
  EXPECT_EQ(parse_ok("5e-324").as_number(), 5e-324);
  EXPECT_EQ(parse_ok("123456789012345678901234567890").as_number(), 1.2345678901234568e29);
  // Too small for a double: zero. Too large: rejected.
  EXPECT_EQ(parse_ok("1e-400").as_number(), 0);
  EXPECT_EQ(parse_ok("0.000000000000000000000000000000000000000000000000000000000000000000000000"
                     "00000000000000000000000000000000000000000000000000000000000000000000000000"
                     "00000000000000000000000000000000000000000000000000000000000000000000000000"
                     "00000000000000000000000000000000000000000000000000000000000000000000000000"
                     "00000000000000000000000000000000000000000000000000000000000000000000000000"
                     "1")
                .as_number(),
            0);
  EXPECT_TRUE(std::signbit(parse_ok("-1e-400").as_number()));
  EXPECT_EQ(parse_error("1e400"), "offset 0: number out of range");
  EXPECT_EQ(parse_error("[-1e99999999999999999999]"), "offset 1: number out of range");
  parse_error(std::string(400, '9'));
}

TEST(JsonParse, StringEscapes) {
  EXPECT_EQ(parse_ok(R"("\"\\\/\b\f\n\r\t")").as_string(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parse_ok(R"("\u0041\u00e9\u20AC")").as_string(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(parse_ok(R"("\ud83d\ude00")").as_string(), "\xf0\x9f\x98\x80");
  EXPECT_EQ(parse_ok(R"("\uDBFF\uDFFF")").as_string(), "\xf4\x8f\xbf\xbf");
  EXPECT_EQ(parse_ok(R"("a\u0000b")").as_string(), "a\0b"s);
  EXPECT_EQ(parse_ok("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").as_string(),
            "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(JsonParse, ValidDocumentsRoundTrip) {
  const std::vector<std::string> docs = {
      "{}",
      "[]",
      R"({"a":1})",
      R"([1,-2.5,"x",true,false,null,[],{}])",
      R"({"routes":[{"name":"web","split":[{"svc":"default/web-v1","w":90},{"svc":"default/web-v2","w":10}]}],"ok":true})",
      R"({"":"","k":{"k":{"k":[[[["deep"]]]]}}})",
      R"(["\"\\\n\r\t\b\f\u0001\u001f","é€😀"])",
      R"("just a string")",
      "1e+300",
      nested(64, "[", "", "]"),
      nested(64, R"({"a":)", "1", "}"),
  };
  for (const std::string& doc : docs) {
    Value v = parse_ok(doc);
    EXPECT_EQ(compact(v), doc); // already compact and canonical
    EXPECT_EQ(parse_ok(compact(v)), v);
  }
}

TEST(JsonParse, DepthLimit) {
  parse_ok(nested(kMaxDepth, "[", "", "]"));
  EXPECT_EQ(parse_error(nested(kMaxDepth + 1, "[", "", "]")),
            "offset 64: nesting deeper than 64 levels");
  parse_error(nested(kMaxDepth + 1, R"({"a":)", "1", "}"));
  parse_error(nested(kMaxDepth / 2 + 1, R"([{"a":)", "1", "}]"));
  // A depth bomb: rejected at the limit, long before the end.
  parse_error(std::string(1'000'000, '['));
  parse_error(nested(200'000, R"({"a":)", "", ""));
}

// ---- parse: invalid input ----

TEST(JsonParse, RejectsInvalidDocuments) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "[1,]",
      R"({"a":1,})",
      "[,1]",
      "[1,,2]",
      "{,}",
      "{a:1}",
      "{'a':1}",
      "['a']",
      "{1:1}",
      R"({"a" 1})",
      R"({"a":1 "b":2})",
      "[1 2]",
      R"({"a"})",
      R"({"a":})",
      R"("\x")",
      R"("\U0041")",
      R"("\u12")",
      R"("\u00g0")",
      R"("\ud800")",
      R"("\ud800x")",
      R"("\ud800\u0041")",
      R"("\ud800\ud800")",
      R"("\udc00")",
      R"("\udc00\ud800")",
      R"("\")",
      "01",
      "-01",
      "00",
      "[01]",
      "1.",
      "1.e3",
      ".5",
      "+1",
      "-",
      "--1",
      "1e",
      "1e+",
      "1E-",
      "0x10",
      "1 2",
      "[1]x",
      "{} {}",
      "[1]]",
      "{}}",
      "tru",
      "truex",
      "nul",
      "nulll",
      "True",
      "NULL",
      "NaN",
      "Infinity",
      "-Infinity",
      R"("abc)",
      "\"a\nb\"",
      "\"a\tb\"",
      "\"a\x01\"",
      "\"\xff\"",
      "\"\xc0\xaf\"",
      "\"\xed\xa0\x80\"",
      "\"\xc3\"",
      "\xef\xbb\xbf{}", // byte order mark
      "[",
      "{",
      R"({"a")",
      R"({"a":)",
      "[1,",
      R"(["a",])",
      "\0"s,
      "[1]\0"s,
      "/* comment */ 1",
      "[1] // comment",
      "\v1",
      "\f1",
  };
  for (const std::string& doc : bad)
    parse_error(doc);
}

TEST(JsonParse, ErrorMessagesNameTheOffset) {
  EXPECT_EQ(parse_error(""), "offset 0: unexpected end of input");
  EXPECT_EQ(parse_error("[1,]"), "offset 3: trailing comma in array");
  EXPECT_EQ(parse_error(R"({"a":1,})"), "offset 7: trailing comma in object");
  EXPECT_EQ(parse_error("{a:1}"), "offset 1: expected a string key");
  EXPECT_EQ(parse_error("[1]x"), "offset 3: unexpected data after the JSON value");
  EXPECT_EQ(parse_error("007"), "offset 0: leading zero in number");
  EXPECT_EQ(parse_error(R"(["\q"])"), "offset 2: invalid escape sequence");
  EXPECT_EQ(parse_error(R"(["ok","\ud800"])"), "offset 7: unpaired high surrogate");
  EXPECT_EQ(parse_error(R"("\udc00")"), "offset 1: unpaired low surrogate");
  EXPECT_EQ(parse_error("[\x01]"), "offset 1: unexpected byte 0x01");
  EXPECT_EQ(parse_error("[@]"), "offset 1: unexpected character '@'");
  EXPECT_EQ(parse_error("\"ab"), "offset 0: unterminated string");
  EXPECT_EQ(parse_error("\"a\xff\""), "offset 2: invalid UTF-8 in string");
}

TEST(JsonParse, EveryTruncationIsRejected) {
  const std::string doc =
      R"({"a":[1,-2.5e3,"x\"\u00e9\ud83d\ude00",true,false,null],"b":{"c":{}},"d":[]})";
  parse_ok(doc);
  for (size_t n = 0; n < doc.size(); ++n)
    parse_error(doc.substr(0, n));
}

// Random bytes and mutations of valid documents: parse never crashes, every failure carries an
// offset, and everything accepted re-encodes to a document that parses to the same value.
TEST(JsonParse, FuzzNeverCrashes) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> seeds = {
      R"({"version":1,"weights":{"web":{"default/web-v1":90,"default/web-v2":10}},"drained":{"default/api":["10.0.0.1:8080"]},"extra":{}})",
      R"([1,-2.5e-3,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",true,false,null,[],{}])",
      R"({"a":{"b":{"c":[[[{"d":0}]]]}}})",
      "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
      "-0.0e+0",
  };
  static constexpr char kAlphabet[] = "{}[],:\"\\/-+.0123456789eEuabfnrtlsxdD \t\n\r";
  int accepted = 0;
  const auto check = [&](const std::string& input) {
    ParseResult r = parse(input);
    if (!r.value) {
      ASSERT_EQ(r.error.rfind("offset ", 0), 0u) << r.error;
      return;
    }
    ++accepted;
    const std::string again = compact(*r.value);
    ParseResult r2 = parse(again);
    ASSERT_TRUE(r2.value) << again << ": " << r2.error;
    ASSERT_EQ(*r2.value, *r.value) << again;
  };
  for (int i = 0; i < 10000; ++i) {
    std::string s(rng() % 48, '\0');
    const bool json_alphabet = rng() % 2 == 0;
    for (char& c : s)
      c = json_alphabet ? kAlphabet[rng() % (sizeof kAlphabet - 1)] : static_cast<char>(rng());
    ASSERT_NO_FATAL_FAILURE(check(s));
  }
  for (int i = 0; i < 10000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 5) {
      case 0:
        s[at] = static_cast<char>(rng());
        break;
      case 1:
        s[at] = kAlphabet[rng() % (sizeof kAlphabet - 1)];
        break;
      case 2:
        s.erase(at, 1 + rng() % 3);
        break;
      case 3:
        s.insert(at, 1, kAlphabet[rng() % (sizeof kAlphabet - 1)]);
        break;
      case 4:
        s.insert(at, s.substr(rng() % s.size(), rng() % 8)); // duplicate a slice
        break;
      }
    }
    ASSERT_NO_FATAL_FAILURE(check(s));
  }
  EXPECT_GT(accepted, 0);
}

} // namespace
} // namespace weir::json
