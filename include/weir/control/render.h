#pragma once

#include "weir/base/json.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// Control-socket replies turned into text for people (weirctl). Pure functions of parsed JSON:
// no I/O, any thread. A reply of a shape they do not know still prints, as indented JSON, so a
// newer weir never leaves an older weirctl speechless. Every returned text ends in '\n'.
namespace weir::control::render {

// Column-aligned text: each cell padded to its column's widest cell (by display width), two
// spaces between columns, no trailing spaces. An empty header prints no header line.
struct TextTable {
  std::vector<std::string> header;
  std::vector<bool> right_aligned; // per column; columns past its end are left-aligned
  std::vector<std::vector<std::string>> rows;

  std::string str() const;
};

// Terminal columns taken by UTF-8 text (one per code point: enough for the box characters used
// here; wide CJK characters count as one).
size_t display_width(std::string_view utf8);
// The longest prefix of `utf8` (whole code points) that fits in `width` columns.
std::string truncate_to_width(std::string_view utf8, size_t width);

// 0.6 → "60%", 0.8333 → "83.3%"; never rounds a non-zero share to "0%" or a partial one to "100%".
std::string percent(double fraction);
// Latency in milliseconds with a precision that suits its size: "0.42ms", "12.3ms", "1.25s".
std::string millis(double ms);
// `cells` characters: full blocks for the share, light shade for the rest ("██████░░░░").
std::string bar(double fraction, size_t cells = 10);
// Indented multi-line JSON (two spaces per level), ending in '\n'.
std::string pretty_json(const json::Value& value);

// The text for a successful reply, chosen by its shape: routes, services, help, reload changes;
// a bare {"ok":true} prints "ok".
std::string reply(const json::Value& reply);

std::string routes(const json::Value& routes);        // array of "show routes" route objects
std::string services(const json::Value& services);    // array of "show services" service objects
std::string probe_table(const json::Value& services); // "show probes" services with their probes
std::string certificates(const json::Value& list);    // "show certs": one row per certificate
std::string help(const json::Value& commands);        // array of {name, usage, help}
std::string changes(const json::Value& changes);      // reload's {list name: [names]}

// One `watch` update for a terminal: a header line (route, time, window) and one row per backend
// with SERVICE, WEIGHT, SHARE (bar), REQ/S, ERR %, P50, P99, REQUESTS.
std::string watch_frame(const json::Value& update);
// `rollout status`: phase, steps with a marker on the current one and time left in a pause,
// weights, and the last analysis for stable and canary side by side.
std::string rollout(const json::Value& rollout);
std::string rollout_history(const json::Value& events);
// The end of a rollout (render_cutover.cc): the rollback window, the last rollback drill and the
// replaced version's cleanup (safe to delete, or what is still pending and since when), as
// lines for `rollout status`; `cleanup` alone for one service of `show services`.
std::string cutover(const json::Value& rollout);
std::string cleanup(const std::string& service, const json::Value& cleanup);
// `rollout drill`'s report.
std::string drill(const json::Value& drill);
// `show fleet` (render_fleet.cc): the store, the leader, and one row per replica and route ×
// backend with its requests/s.
std::string fleet(const json::Value& fleet);
// The same update as one line for pipes and logs:
// "TIME ROUTE  SVC weight=W share=S req=N rps=R err=E p50=X p99=Y | SVC ...".
std::string watch_line(const json::Value& update);

} // namespace weir::control::render
