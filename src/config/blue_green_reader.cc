#include "blue_green_reader.h"

#include <algorithm>

namespace weir::config::yaml {
namespace {

// The preview header's secret travels as a header value: visible ASCII, at least 8 characters
// (a guessable one would let anyone onto the unreleased version).
bool good_secret(const std::string& v) {
  return v.size() >= 8 && v.size() <= 256 &&
         std::all_of(v.begin(), v.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
}

void read_preview(Checker& c, const Item& item, Rollout& rollout) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"header", "secret"});
  if (auto h = f.require("header")) {
    if (auto v = c.string(*h)) {
      if (!is_token(*v)) {
        c.fail(*h, "expected a header name made of letters, digits and !#$%&'*+-.^_`|~, got " +
                       quote(*v));
      } else {
        std::string lower = *v;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        // Headers weir or HTTP itself gives a meaning: a preview keyed on one would be
        // reachable by accident, or not at all.
        static constexpr std::string_view kReserved[] = {
            "host", "cookie",  "content-length",   "transfer-encoding", "connection", "upgrade",
            "te",   "trailer", "x-weir-synthetic", "keep-alive",        "expect",     "forwarded"};
        if (std::find(std::begin(kReserved), std::end(kReserved), lower) != std::end(kReserved))
          c.fail(*h, "cannot be " + quote(lower) +
                         ": weir or HTTP gives it a meaning; use a "
                         "header of your own, like x-preview");
        else
          rollout.preview_header = lower;
      }
    }
  }
  if (auto s = f.require("secret")) {
    if (auto v = c.string(*s)) {
      if (!good_secret(*v))
        c.fail(*s, "expected 8 to 256 visible characters, no spaces");
      else
        rollout.preview_secret = *v;
    }
  }
}

// pre_promotion: {analysis: {duration: 60s}}: how long the preview is judged before it may be
// promoted.
std::optional<Duration> read_pre_promotion(Checker& c, const Item& item) {
  if (!c.expect_map(item)) return std::nullopt;
  Fields f(c, item, {"analysis"});
  auto a = f.require("analysis");
  if (!a || !c.expect_map(*a)) return std::nullopt;
  Fields fa(c, *a, {"duration"});
  auto d = fa.require("duration");
  if (!d) return std::nullopt;
  return c.duration(*d, true);
}

} // namespace

void read_blue_green(Checker& c, const Fields& f, Rollout& rollout) {
  rollout.strategy = Rollout::Strategy::blue_green;
  if (auto s = f.get("steps"))
    c.fail(*s, "a blue_green plan has no steps: preview, pre_promotion and auto_promotion make "
               "them (strategy: canary takes steps)");
  if (auto p = f.require("preview")) read_preview(c, *p, rollout);
  std::optional<Duration> analysis;
  if (auto p = f.get("pre_promotion")) analysis = read_pre_promotion(c, *p);
  // Argo Rollouts' autoPromotionEnabled defaults to true: promote as soon as the preview passed.
  // (A plain Duration and a flag: GCC 12 wrongly warns of an uninitialized optional here.)
  bool gate = false;
  Duration after{0};
  if (auto a = f.get("auto_promotion")) {
    if (a->node.IsScalar() && a->node.Scalar() == "false") {
      gate = true;
    } else if (!a->node.IsMap()) {
      c.fail(*a, "expected {after: 30s} or false, got " + describe(a->node));
    } else {
      Fields fa(c, *a, {"after"});
      if (auto d = fa.require("after"))
        if (auto v = c.duration(*d, false)) after = *v;
    }
  }
  if (!f.get("rollback_window")) rollout.rollback_window = std::chrono::minutes(10);

  RolloutStep preview;
  preview.kind = RolloutStep::Kind::set_header_route;
  preview.header_route_name = "preview";
  preview.header_route_secret = true;
  preview.header_route.push_back(
      {ValueMatch::Type::exact, rollout.preview_header, rollout.preview_secret});
  rollout.steps.push_back(preview);
  if (analysis) {
    RolloutStep step;
    step.kind = RolloutStep::Kind::analysis;
    step.duration = *analysis;
    rollout.steps.push_back(step);
  }
  if (gate || after.count() > 0) {
    RolloutStep step;
    step.kind = RolloutStep::Kind::pause;
    step.duration = gate ? Duration{0} : after;
    rollout.steps.push_back(step);
  }
}

void refuse_blue_green_keys(Checker& c, const Fields& f) {
  for (std::string_view key : kBlueGreenKeys)
    if (auto item = f.get(key))
      c.fail(*item, "is a key of blue/green plans: add `strategy: blue_green`");
}

} // namespace weir::config::yaml
