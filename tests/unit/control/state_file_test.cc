#include "weir/control/state_file.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace weir::control {
namespace {

namespace fs = std::filesystem;

// A fresh directory, removed with everything in it at the end of the test.
class TempDir {
public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "weir_state_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

LiveState sample() {
  LiveState s;
  s.weight_overrides["web"]["default/web-v1"] = 90;
  s.weight_overrides["web"]["default/web-v2"] = 10;
  s.weight_overrides["api \"quoted\""]["prod/api"] = 4294967295u;
  s.weight_overrides["empty-route"]; // a route whose overrides were all cleared
  s.rollout_weights["web"]["default/web-v2"] = 0;
  s.drained["default/web-v1"] = {"10.0.0.1:8080", "10.0.0.2:8080"};
  s.drained["prod/api"] = {"[::1]:9000"};
  s.extra["rollouts"] = R"({"web":{"step":2,"paused":false,"history":[10,25]}})";
  s.extra["note"] = "\"caf\xc3\xa9\\n\""; // compact, as from_json() yields it
  return s;
}

// A state large enough that writing it takes a while, numbered so that each is distinct.
LiveState big_state(int n) {
  LiveState s;
  for (int r = 0; r < 20; ++r)
    for (int b = 0; b < 10; ++b)
      s.weight_overrides["route-" + std::to_string(r)]["ns/svc-" + std::to_string(b)] =
          static_cast<uint32_t>(n * 1000 + r * 10 + b);
  for (int e = 0; e < 1500; ++e)
    s.drained["ns/svc-" + std::to_string(e % 7)].insert("10.1." + std::to_string(e / 250) + "." +
                                                        std::to_string(e % 250) + ":" +
                                                        std::to_string(8000 + n));
  s.extra["generation"] = std::to_string(n);
  return s;
}

} // namespace

// Readable failure messages.
void PrintTo(const LiveState& s, std::ostream* os) {
  *os << to_json(s);
}

namespace {

std::optional<LiveState> parse(std::string_view text) {
  std::string error;
  std::optional<LiveState> s = from_json(text, &error);
  EXPECT_TRUE(s.has_value()) << error;
  return s;
}

std::string parse_error(std::string_view text) {
  std::string error;
  std::optional<LiveState> s = from_json(text, &error);
  EXPECT_FALSE(s.has_value()) << "accepted: " << text;
  EXPECT_NE(error, "");
  return error;
}

// ---- to_json / from_json ----

TEST(StateFileJson, EmptyState) {
  EXPECT_EQ(to_json(LiveState{}),
            R"({"version":1,"weights":{},"rollout_weights":{},"drained":{},"extra":{}})");
  EXPECT_EQ(parse(to_json(LiveState{})), LiveState{});
}

TEST(StateFileJson, Format) {
  LiveState s;
  s.weight_overrides["web"]["default/web-v2"] = 10;
  s.weight_overrides["web"]["default/web-v1"] = 90;
  s.rollout_weights["web"]["default/web-v2"] = 0;
  s.drained["default/web-v1"] = {"10.0.0.2:80", "10.0.0.1:80"};
  s.extra["rollouts"] = R"({ "web" : { "step" : 2 } })";
  EXPECT_EQ(to_json(s),
            R"({"version":1,"weights":{"web":{"default/web-v1":90,"default/web-v2":10}},)"
            R"("rollout_weights":{"web":{"default/web-v2":0}},)"
            R"("drained":{"default/web-v1":["10.0.0.1:80","10.0.0.2:80"]},)"
            R"("extra":{"rollouts":{"web":{"step":2}}}})");
}

TEST(StateFileJson, RoundTrip) {
  const LiveState s = sample();
  EXPECT_EQ(parse(to_json(s)), s);
  const LiveState b = big_state(3);
  EXPECT_EQ(parse(to_json(b)), b);
}

TEST(StateFileJson, ExtraIsStoredCompact) {
  LiveState s;
  s.extra["x"] = " [ 1 , 2.50 ,\n\"a\" ] ";
  std::optional<LiveState> back = parse(to_json(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->extra.at("x"), R"([1,2.5,"a"])");
}

TEST(StateFileJson, InvalidExtraIsWrittenAsNull) {
  LiveState s;
  s.extra["broken"] = "{not json";
  EXPECT_EQ(
      to_json(s),
      R"({"version":1,"weights":{},"rollout_weights":{},"drained":{},"extra":{"broken":null}})");
}

TEST(StateFileJson, MissingSectionsAndUnknownKeys) {
  std::optional<LiveState> s = parse(R"({"version":1,"future":{"x":1}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, LiveState{});
  s = parse(R"( {"drained":{"a/b":["h:1"]},"version":1.0} )");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->drained.at("a/b"), std::set<std::string>{"h:1"});
}

TEST(StateFileJson, RejectsBadShapes) {
  EXPECT_EQ(parse_error(""), "offset 0: unexpected end of input");
  EXPECT_EQ(parse_error(R"({"version":1,)"), "offset 13: unexpected end of input");
  EXPECT_EQ(parse_error("[]"), "expected an object at the top level");
  EXPECT_EQ(parse_error("{}"), "version: missing or not a number");
  EXPECT_EQ(parse_error(R"({"version":"1"})"), "version: missing or not a number");
  EXPECT_EQ(parse_error(R"({"version":2})"), "version: unsupported version 2");
  EXPECT_EQ(parse_error(R"({"version":1,"weights":[]})"), "weights: expected an object");
  EXPECT_EQ(parse_error(R"({"version":1,"weights":{"web":5}})"), "weights.web: expected an object");
  EXPECT_EQ(parse_error(R"({"version":1,"rollout_weights":{"web":5}})"),
            "rollout_weights.web: expected an object");
  for (const char* w : {"-1", "1.5", "4294967296", "\"10\"", "null", "true", "1e300"})
    EXPECT_EQ(parse_error(std::string(R"({"version":1,"weights":{"web":{"ns/a":)") + w + "}}}"),
              "weights.web.ns/a: expected an integer from 0 to 4294967295")
        << w;
  EXPECT_EQ(parse_error(R"({"version":1,"drained":[]})"), "drained: expected an object");
  EXPECT_EQ(parse_error(R"({"version":1,"drained":{"ns/a":"h:1"}})"),
            "drained.ns/a: expected an array");
  EXPECT_EQ(parse_error(R"({"version":1,"drained":{"ns/a":["h:1",2]}})"),
            "drained.ns/a: expected an array of strings");
  EXPECT_EQ(parse_error(R"({"version":1,"extra":[]})"), "extra: expected an object");
  // A null error pointer is allowed.
  EXPECT_FALSE(from_json("nope", nullptr));
}

// ---- save_state / load_state ----

TEST(StateFile, SaveLoadRoundTrip) {
  TempDir dir;
  const LiveState s = sample();
  ASSERT_EQ(save_state(dir.path(), s), "");
  const std::string text = read_text(dir.file("weir.state"));
  EXPECT_EQ(text, to_json(s) + "\n");
  std::string error = "unchanged";
  std::optional<LiveState> back = load_state(dir.path(), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, s);

  // Overwrite with a different state; no temporary file is left behind.
  LiveState t;
  t.drained["a/b"] = {"h:1"};
  ASSERT_EQ(save_state(dir.path() + "/", t), "");
  back = load_state(dir.path(), nullptr);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"weir.state"});
}

TEST(StateFile, MissingFileIsEmptyState) {
  TempDir dir;
  std::string error;
  std::optional<LiveState> s = load_state(dir.path(), &error);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, LiveState{});
  EXPECT_EQ(error, "");
}

TEST(StateFile, MissingDirectory) {
  TempDir dir;
  const std::string missing = dir.file("does/not/exist");
  std::string error;
  std::optional<LiveState> s = load_state(missing, &error);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, LiveState{});
  EXPECT_EQ(error, "");

  error = save_state(missing, sample());
  EXPECT_NE(error.find("cannot create " + missing + "/weir.state.tmp."), std::string::npos)
      << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(missing));
}

TEST(StateFile, DirectoryIsAFile) {
  TempDir dir;
  write_text(dir.file("plain"), "x");
  std::string error;
  EXPECT_FALSE(load_state(dir.file("plain"), &error));
  EXPECT_NE(error.find("Not a directory"), std::string::npos) << error;
  EXPECT_NE(save_state(dir.file("plain"), sample()), "");
}

TEST(StateFile, StateFileIsADirectory) {
  TempDir dir;
  fs::create_directory(dir.file("weir.state"));
  std::string error;
  EXPECT_FALSE(load_state(dir.path(), &error));
  EXPECT_NE(error, "");
  EXPECT_TRUE(fs::is_directory(dir.file("weir.state"))); // not treated as corrupt
  EXPECT_FALSE(fs::exists(dir.file("weir.state.corrupt")));
}

TEST(StateFile, CorruptFileIsMovedAside) {
  TempDir dir;
  for (const std::string& bad :
       {std::string(R"({"version":1,"weights":{"web":{"ns/a":9)"), std::string(""),
        std::string(R"({"version":7})"), std::string("\0\0\0\0", 4)}) {
    write_text(dir.file("weir.state"), bad);
    std::string error;
    std::optional<LiveState> s = load_state(dir.path(), &error);
    EXPECT_FALSE(s);
    EXPECT_NE(error.find(dir.file("weir.state") + ": corrupt state file: "), std::string::npos)
        << error;
    EXPECT_NE(error.find("moved to " + dir.file("weir.state.corrupt")), std::string::npos) << error;
    EXPECT_FALSE(fs::exists(dir.file("weir.state")));
    EXPECT_EQ(read_text(dir.file("weir.state.corrupt")), bad);

    // The caller starts empty and saves over it; the evidence stays.
    error = "unchanged";
    s = load_state(dir.path(), &error);
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, LiveState{});
    ASSERT_EQ(save_state(dir.path(), sample()), "");
    EXPECT_EQ(read_text(dir.file("weir.state.corrupt")), bad);
    fs::remove(dir.file("weir.state"));
  }
}

TEST(StateFile, InvalidExtraRefusesToSave) {
  TempDir dir;
  ASSERT_EQ(save_state(dir.path(), sample()), "");
  const std::string before = read_text(dir.file("weir.state"));
  LiveState s = sample();
  s.extra["rollouts"] = "{\"web\":";
  const std::string error = save_state(dir.path(), s);
  EXPECT_EQ(error.rfind("extra section 'rollouts' is not valid JSON: offset 7: ", 0), 0u) << error;
  EXPECT_EQ(read_text(dir.file("weir.state")), before);
}

// A writer killed at random moments (kill -9) never leaves a state file that fails to load:
// every load sees either the previous state or the one being written.
TEST(StateFile, KilledWriterNeverCorrupts) {
  TempDir dir;
  std::mt19937 rng(4242);
  LiveState old_state = big_state(0);
  ASSERT_EQ(save_state(dir.path(), old_state), "");
  int saw_new = 0;
  for (int round = 1; round <= 50; ++round) {
    const LiveState new_state = big_state(round);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // Alternates so that every rename changes the content.
      for (uint64_t i = 0;; ++i)
        if (!save_state(dir.path(), i % 2 == 0 ? new_state : old_state).empty()) ::_exit(3);
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 5001);
    int loads = 0;
    do {
      std::string error;
      std::optional<LiveState> s = load_state(dir.path(), &error);
      ++loads;
      if (!s || (*s != old_state && *s != new_state)) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        FAIL() << "round " << round << " load " << loads << ": "
               << (s ? "unexpected state" : error);
      }
    } while (std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "writer exited by itself, status " << status;

    std::string error;
    std::optional<LiveState> after = load_state(dir.path(), &error);
    ASSERT_TRUE(after) << "round " << round << ": " << error;
    ASSERT_TRUE(*after == old_state || *after == new_state) << "round " << round;
    if (*after == new_state) {
      ++saw_new;
      old_state = new_state;
    }
  }
  EXPECT_FALSE(fs::exists(dir.file("weir.state.corrupt")));
  // Informational: how often the writer got as far as a rename before being killed.
  RecordProperty("rounds_that_saw_the_new_state", saw_new);
}

} // namespace
} // namespace weir::control
