// The admin listener's dashboard over real sockets: the page and its assets with their security
// headers, state.json made of the control commands' replies, and the actions — refused (403)
// unless admin.dashboard_actions is on and the browser sends the token file's bearer token,
// run as the control socket's commands otherwise, with the dashboard as their origin. The page
// itself is tested in a real browser (tests/browser/).
#include "support/client.h"
#include "support/control.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

class DashboardTest : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2");
    socket_ = temp_path("control", ".sock");
    token_path_ = temp_path("token");
    ASSERT_TRUE(write_file(token_path_, std::string(kToken) + "\n"));
  }

  void start(const std::string& admin) {
    weir_ = Weir::start(config(admin));
    admin_ = weir_.admin_port();
    ASSERT_NE(admin_, 0);
    control_ = connect_control(socket_);
    ASSERT_TRUE(control_);
  }

  std::string config(const std::string& admin) const {
    std::ostringstream y;
    y << "workers: 1\n"
      << "listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
      << "services:\n"
      << "  - { namespace: app-v1, name: app, endpoints: [" << v1_.address() << "] }\n"
      << "  - { namespace: app-v2, name: app, endpoints: [" << v2_.address() << "] }\n"
      << "routes:\n"
      << "  - name: web\n"
      << "    listener: public\n"
      << "    backends: [{ service: app-v1/app, weight: 90 }, { service: app-v2/app, weight: 10 "
         "}]\n"
      << "    rollout:\n"
      << "      stable: app-v1/app\n"
      << "      canary: app-v2/app\n"
      << "      steps: [{ set_weight: 20 }, { pause: {} }, { set_weight: 100 }]\n"
      << "admin: " << admin << "\n"
      << "control: { socket: " << socket_ << " }\n";
    return y.str();
  }
  std::string with_actions() const {
    return "{ address: 127.0.0.1:0, dashboard_actions: true, token_file: " + token_path_ + " }";
  }

  HttpResponse act(std::string_view body, std::string_view token = kToken) {
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(token));
    return http_request(admin_, "POST", "/dashboard/action", headers, body);
  }
  json::Value state(std::string_view token = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(token));
    HttpResponse r = http_request(admin_, "GET", "/dashboard/state.json", headers);
    EXPECT_EQ(r.status, 200);
    auto parsed = json::parse(r.body);
    EXPECT_TRUE(parsed.value) << parsed.error;
    return parsed.value ? *parsed.value : json::Value();
  }

  static constexpr std::string_view kToken = "d41d8cd98f00b204e9800998ecf8427e";
  DemoUpstream v1_, v2_;
  std::string socket_, token_path_;
  Weir weir_;
  uint16_t admin_ = 0;
  std::unique_ptr<ControlClient> control_;
};

TEST_F(DashboardTest, ThePageAndItsAssetsAreServedWithAStrictPolicy) {
  start("{ address: 127.0.0.1:0 }");
  for (const char* path : {"/", "/dashboard"}) {
    HttpResponse page = http_request(admin_, "GET", path);
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("/dashboard/dashboard.js"), std::string::npos);
    const std::string csp = page.header("content-security-policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(page.header("x-frame-options"), "DENY");
  }
  HttpResponse js = http_request(admin_, "GET", "/dashboard/dashboard.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_GT(js.body.size(), 1000u);
  HttpResponse css = http_request(admin_, "GET", "/dashboard/dashboard.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(http_request(admin_, "GET", "/dashboard/nothing.js").status, 404);
  EXPECT_EQ(http_request(admin_, "DELETE", "/dashboard").status, 405);
  HttpResponse get_action = http_request(admin_, "GET", "/dashboard/action");
  EXPECT_EQ(get_action.status, 405);
  EXPECT_EQ(get_action.header("allow"), "POST");
  // The listener's other paths are as they were.
  EXPECT_EQ(http_request(admin_, "GET", "/healthz").status, 200);
  EXPECT_EQ(http_request(admin_, "POST", "/metrics").status, 405);
}

TEST_F(DashboardTest, StateIsTheControlCommandsRepliesAndReadOnlyRefusesEveryAction) {
  start("{ address: 127.0.0.1:0 }");
  json::Value s = state(kToken);
  EXPECT_FALSE(s["actions"]["enabled"].as_bool());
  EXPECT_FALSE(s["actions"]["authorized"].as_bool()) << "no token is right when actions are off";
  // Exactly what the control socket answers.
  json::Value routes = control_->command("show routes");
  EXPECT_EQ(json::Writer().value(s["routes"]).str(), json::Writer().value(routes).str());
  json::Value services = control_->command("show services");
  EXPECT_EQ(s["services"]["services"].as_array().size(), services["services"].as_array().size());
  EXPECT_EQ(s["rollouts"]["web"]["status"]["rollout"].get_string("phase"), "Idle");
  EXPECT_TRUE(s["rollouts"]["web"]["history"]["events"].is_array());
  const json::Value& series = s["series"]["web"];
  EXPECT_EQ(series.get_number("points"), 300);
  EXPECT_EQ(series["backends"]["app-v1/app"]["weight"].as_array().back().as_number(), 90);

  for (const char* body : {R"({"action":"promote","route":"web"})",
                           R"({"action":"set_weight","route":"web","weights":{"app-v1/app":1}})"}) {
    HttpResponse r = act(body);
    EXPECT_EQ(r.status, 403) << body;
    EXPECT_NE(r.body.find("the dashboard is read-only"), std::string::npos) << r.body;
  }
  EXPECT_EQ(
      control_->command("show routes")["routes"].as_array()[0]["backends"].as_array()[0].get_number(
          "weight"),
      90)
      << "nothing changed";
}

TEST_F(DashboardTest, ActionsNeedTheTokenAndRunAsTheControlSocketsCommandsWithTheirOrigin) {
  start(with_actions());
  EXPECT_TRUE(state()["actions"]["enabled"].as_bool());
  EXPECT_FALSE(state()["actions"]["authorized"].as_bool());
  EXPECT_FALSE(state("wrong-token-wrong-token")["actions"]["authorized"].as_bool());
  EXPECT_TRUE(state(kToken)["actions"]["authorized"].as_bool());

  EXPECT_EQ(act(R"({"action":"pause","route":"web"})", "").status, 403);
  EXPECT_EQ(act(R"({"action":"pause","route":"web"})", "d41d8cd98f00b204e9800998ecf8427f").status,
            403);
  HttpResponse basic = http_request(admin_, "POST", "/dashboard/action",
                                    {{"Authorization", "Basic " + std::string(kToken)}},
                                    R"({"action":"pause","route":"web"})");
  EXPECT_EQ(basic.status, 403);

  // Refused by the command itself: 409 with its reason (no rollout runs).
  HttpResponse refused = act(R"({"action":"promote","route":"web"})");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("\"ok\":false"), std::string::npos) << refused.body;
  EXPECT_EQ(act(R"({"action":"promote","route":"nope"})").status, 409);
  EXPECT_EQ(act("not json").status, 400);
  EXPECT_EQ(act(std::string(20000, ' ')).status, 413);

  ASSERT_EQ(control_->command("rollout start web").get_string("error"), "");
  HttpResponse promoted = act(R"({"action":"promote","route":"web"})");
  EXPECT_EQ(promoted.status, 200) << promoted.body;
  json::Value status = control_->command("rollout status web");
  EXPECT_EQ(status["rollout"].get_string("phase"), "Healthy");
  bool from_dashboard = false;
  json::Value history = control_->command("rollout history web");
  for (const auto& e : history["events"].as_array())
    if (e.get_string("type") == "promoted")
      from_dashboard = e.get_string("origin").starts_with("dashboard 127.0.0.1:");
  EXPECT_TRUE(from_dashboard) << control_->last_line();

  HttpResponse weights =
      act(R"({"action":"set_weight","route":"web","weights":{"app-v1/app":30,"app-v2/app":70}})");
  EXPECT_EQ(weights.status, 200) << weights.body;
  json::Value routes = control_->command("show routes");
  EXPECT_EQ(backend_field(routes["routes"].as_array()[0], "app-v2/app", "weight").as_number(), 70);
  // The next poll shows it, not one up to half a second later.
  EXPECT_EQ(
      state()["routes"]["routes"].as_array()[0]["backends"].as_array()[1].get_number("weight"), 70);
}

TEST_F(DashboardTest, ARotatedTokenTakesEffectAndABadOneAtReloadChangesNothing) {
  start(with_actions());
  ASSERT_EQ(control_->command("rollout start web").get_string("error"), "");
  const std::string rotated = "0123456789abcdef0123456789abcdef";
  ASSERT_TRUE(write_file(token_path_, rotated + "\n"));
  EXPECT_EQ(act(R"({"action":"pause","route":"web"})").status, 403) << "the old token is gone";
  EXPECT_EQ(act(R"({"action":"pause","route":"web"})", rotated).status, 409)
      << "paused at the gate already: refused by the command, past the token check";
  // A config whose token is too short is refused whole.
  const std::string weak = temp_path("weak-token");
  ASSERT_TRUE(write_file(weak, "short\n"));
  ASSERT_TRUE(write_file(weir_.config_path,
                         config("{ address: 127.0.0.1:" + std::to_string(admin_) +
                                ", dashboard_actions: true, token_file: " + weak + " }")));
  json::Value reload = control_->command("reload");
  EXPECT_NE(reload.get_string("error").find("at least 16 are needed"), std::string::npos)
      << control_->last_line();
  EXPECT_EQ(act(R"({"action":"abort","route":"web"})", rotated).status, 200)
      << "the config in force, and its token, stay";
}

// What an attacker (or a mistake) can do to the token check: nothing that blocks weir, nothing
// ambiguous let through, and a token file weir cannot read is said as such.
TEST_F(DashboardTest, ATokenFileThatIsAFifoOrGoneNeverBlocksWeirAndIsSaidAsSuch) {
  start(with_actions());
  ASSERT_EQ(control_->command("rollout start web").get_string("error"), "");
  // A FIFO in its place: opening it for reading would wait for a writer.
  ASSERT_EQ(::unlink(token_path_.c_str()), 0);
  ASSERT_EQ(::mkfifo(token_path_.c_str(), 0600), 0);
  HttpResponse refused = act(R"({"action":"abort","route":"web"})");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("cannot be read now"), std::string::npos) << refused.body;
  json::Value s = state(kToken);
  EXPECT_FALSE(s["actions"]["authorized"].as_bool());
  EXPECT_NE(s["actions"].get_string("problem"), "") << "the page keeps its token: not its fault";
  EXPECT_EQ(http_request(admin_, "GET", "/healthz").status, 200);
  EXPECT_EQ(control_->command("rollout status web")["rollout"].get_string("phase"), "Paused")
      << "the control thread answers, and nothing was aborted";
  // Back as a file: the token works again, with no reload.
  ASSERT_EQ(::unlink(token_path_.c_str()), 0);
  ASSERT_TRUE(write_file(token_path_, std::string(kToken) + "\n"));
  EXPECT_EQ(act(R"({"action":"abort","route":"web"})").status, 200);
}

TEST_F(DashboardTest, TwoAuthorizationHeadersAreRefusedAndARefusalSaysConflict) {
  start(with_actions());
  HttpResponse two = http_request(
      admin_, "POST", "/dashboard/action",
      {{"Authorization", "Bearer " + std::string(kToken)}, {"Authorization", "Bearer x"}},
      R"({"action":"promote","route":"web"})");
  EXPECT_EQ(two.status, 400);
  HttpResponse conflict = act(R"({"action":"promote","route":"web"})");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.reason, "Conflict");
}

TEST_F(DashboardTest, AClientThatWaitsForContinueGetsIt) {
  start(with_actions());
  ASSERT_EQ(control_->command("rollout start web").get_string("error"), "");
  const std::string body = R"({"action":"promote","route":"web"})";
  auto c = RawClient::connect(admin_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(
      "POST /dashboard/action HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) +
      "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  auto interim = c->read_response(2s);
  ASSERT_TRUE(interim) << "no 100 Continue: a strict client would wait for ever";
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c->send(body));
  auto answer = c->read_response(5s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200) << answer->body;
}

} // namespace
} // namespace weir::test
