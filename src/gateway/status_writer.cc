#include "weir/gateway/status_writer.h"

#include "weir/base/log.h"
#include "weir/discovery/source.h"

#include <algorithm>
#include <ctime>
#include <set>

namespace weir::gateway {

namespace {

constexpr std::chrono::milliseconds kFirstRetry{200};
constexpr std::chrono::milliseconds kMaxRetry{10000};
constexpr const char* kGatewayGroup = "gateway.networking.k8s.io";

// The API server takes condition messages up to 32768 bytes; a long one (every unresolved
// backend of a route) is cut at a character's start, well within it.
constexpr size_t kMaxMessageBytes = 8192;

std::string capped(const std::string& message) {
  if (message.size() <= kMaxMessageBytes) return message;
  size_t cut = kMaxMessageBytes - 3;
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80)
    --cut; // not inside a UTF-8 sequence
  return message.substr(0, cut) + "…";
}

struct WantedCondition {
  const char* type;
  const Condition* condition;
};

// The lastTransitionTime to write: the present one while the status stays.
std::string transition_time(const json::Value& present_conditions, const WantedCondition& c,
                            const std::string& now) {
  if (present_conditions.is_array())
    for (const auto& p : present_conditions.as_array())
      if (p.get_string("type") == c.type &&
          p.get_string("status") == (c.condition->status ? "True" : "False") &&
          !p.get_string("lastTransitionTime").empty())
        return p.get_string("lastTransitionTime");
  return now;
}

// Whether the present conditions say what is wanted (type, status, reason, message,
// observedGeneration), the times aside.
bool conditions_say(const json::Value& present, const std::vector<WantedCondition>& wanted,
                    int64_t generation) {
  if (!present.is_array() || present.as_array().size() != wanted.size()) return false;
  for (const WantedCondition& w : wanted) {
    bool found = false;
    for (const auto& p : present.as_array())
      found = found || (p.get_string("type") == w.type &&
                        p.get_string("status") == (w.condition->status ? "True" : "False") &&
                        p.get_string("reason") == w.condition->reason &&
                        p.get_string("message") == capped(w.condition->message) &&
                        static_cast<int64_t>(p.get_number("observedGeneration", -1)) == generation);
    if (!found) return false;
  }
  return true;
}

// metav1.Condition in the API's field order.
void write_conditions(json::Writer& w, const json::Value& present,
                      const std::vector<WantedCondition>& wanted, int64_t generation,
                      const std::string& now) {
  w.begin_array();
  for (const WantedCondition& c : wanted) {
    w.begin_object()
        .key("type")
        .value(c.type)
        .key("status")
        .value(c.condition->status ? "True" : "False")
        .key("observedGeneration")
        .value(generation)
        .key("lastTransitionTime")
        .value(transition_time(present, c, now))
        .key("reason")
        .value(c.condition->reason)
        .key("message")
        .value(capped(c.condition->message))
        .end_object();
  }
  w.end_array();
}

bool same_parent(const json::Value& present, const ParentRef& ref) {
  const double port = present.get_number("port", 0);
  return present.get_string("group", kGatewayGroup) == ref.group &&
         present.get_string("kind", "Gateway") == ref.kind &&
         present.get_string("namespace") == ref.ns && present.get_string("name") == ref.name &&
         present.get_string("sectionName") == ref.section_name &&
         (ref.port ? port == *ref.port : port == 0);
}

void write_parent_ref(json::Writer& w, const ParentRef& ref) {
  w.begin_object().key("group").value(ref.group).key("kind").value(ref.kind);
  w.key("namespace").value(ref.ns).key("name").value(ref.name);
  if (!ref.section_name.empty()) w.key("sectionName").value(ref.section_name);
  if (ref.port) w.key("port").value(static_cast<unsigned>(*ref.port));
  w.end_object();
}

std::vector<WantedCondition> route_conditions(const ParentStatus& p) {
  return {{"Accepted", &p.accepted}, {"ResolvedRefs", &p.resolved_refs}};
}

} // namespace

std::string rfc3339_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::optional<std::string> route_status_patch(const json::Value& route,
                                              const std::vector<ParentStatus>& parents,
                                              int64_t generation, const std::string& controller,
                                              const std::string& now) {
  const json::Value& present = route["status"]["parents"];
  std::vector<const json::Value*> ours, theirs;
  if (present.is_array())
    for (const auto& p : present.as_array())
      (p.get_string("controllerName") == controller ? ours : theirs).push_back(&p);
  // Nothing to change: as many entries of ours, each saying what is wanted.
  bool same = ours.size() == parents.size();
  for (const ParentStatus& want : parents) {
    if (!same) break;
    auto it = std::find_if(ours.begin(), ours.end(), [&](const json::Value* p) {
      return same_parent((*p)["parentRef"], want.ref);
    });
    same = it != ours.end() &&
           conditions_say((**it)["conditions"], route_conditions(want), generation);
  }
  if (same) return std::nullopt;

  json::Writer w;
  w.begin_object();
  // A precondition: the list below gives other controllers' entries back as they were in this
  // version; had one of them written since, the API server refuses the patch (409) and it is
  // made again from the newer object.
  if (std::string version = route["metadata"].get_string("resourceVersion"); !version.empty())
    w.key("metadata").begin_object().key("resourceVersion").value(version).end_object();
  w.key("status").begin_object().key("parents").begin_array();
  for (const json::Value* p : theirs)
    w.value(*p);
  for (const ParentStatus& want : parents) {
    const json::Value* before = nullptr;
    for (const json::Value* p : ours)
      if (same_parent((*p)["parentRef"], want.ref)) before = p;
    w.begin_object().key("parentRef");
    write_parent_ref(w, want.ref);
    w.key("controllerName").value(controller).key("conditions");
    write_conditions(w, before ? (*before)["conditions"] : json::Value(), route_conditions(want),
                     generation, now);
    w.end_object();
  }
  w.end_array().end_object().end_object();
  return w.take();
}

std::optional<std::string> class_status_patch(const json::Value& gateway_class,
                                              const Condition& accepted, int64_t generation,
                                              const std::string& now) {
  const json::Value& present = gateway_class["status"]["conditions"];
  const std::vector<WantedCondition> wanted{{"Accepted", &accepted}};
  if (conditions_say(present, wanted, generation)) return std::nullopt;
  json::Writer w;
  w.begin_object().key("status").begin_object().key("conditions");
  write_conditions(w, present, wanted, generation, now);
  w.end_object().end_object();
  return w.take();
}

StatusWriter::StatusWriter(boost::asio::io_context& io, discovery::ApiAccess api,
                           ObjectCache& cache)
    : io_(io), api_(std::move(api)), cache_(cache), alive_(std::make_shared<bool>(true)) {}

StatusWriter::~StatusWriter() {
  *alive_ = false;
  for (auto& abort : aborts_)
    if (abort) abort();
}

void StatusWriter::write(const std::vector<RouteStatus>& statuses, const std::string& class_name,
                         const std::optional<Condition>& accepted) {
  std::set<std::pair<std::string, std::string>> covered;
  for (const RouteStatus& s : statuses) {
    covered.emplace(s.ns, s.name);
    want({Kind::http_route, s.ns, s.name}, Wish{[s](const json::Value& object) {
           return route_status_patch(object, s.parents, s.generation, kControllerName,
                                     rfc3339_now());
         }});
  }
  // A route no longer attached to weir's Gateways loses weir's entries (if it has any).
  for (const auto& [ns, name] : cache_.names(Kind::http_route)) {
    if (covered.count({ns, name})) continue;
    want({Kind::http_route, ns, name}, Wish{[](const json::Value& object) {
           return route_status_patch(object, {}, 0, kControllerName, rfc3339_now());
         }});
  }
  if (accepted) {
    want({Kind::gateway_class, "", class_name}, Wish{[accepted](const json::Value& object) {
           const int64_t generation =
               static_cast<int64_t>(object["metadata"].get_number("generation", 0));
           return class_status_patch(object, *accepted, generation, rfc3339_now());
         }});
  }
}

void StatusWriter::want(const Key& key, Wish wish) {
  Slot& slot = slots_[key];
  slot.wish = std::move(wish);
  if (!slot.in_flight && !slot.waiting) send(key);
}

void StatusWriter::send(const Key& key) {
  Slot& slot = slots_[key];
  if (!slot.wish) return;
  const auto& [kind, ns, name] = key;
  const json::Value* object = cache_.find(kind, ns, name);
  std::optional<std::string> patch = object ? slot.wish->patch(*object) : std::nullopt;
  const std::string based_on =
      object ? (*object)["metadata"].get_string("resourceVersion") : std::string();
  // Kept for a retry, which builds the patch again from the object as cached then.
  Wish current = std::move(*slot.wish);
  slot.wish.reset();
  if (!patch) {
    slot.errors_in_a_row = 0;
    return;
  }
  std::string error;
  net::HttpRequest r = discovery::api_request(api_, status_path_of(kind, ns, name), error);
  const std::string what = std::string(kind_name(kind)) + " " + (ns.empty() ? "" : ns + "/") + name;
  if (!error.empty()) {
    last_error_ = error;
    ++failures_;
    log::warn("gateway: status of " + what + ": " + error);
    return;
  }
  r.method = "PATCH";
  r.headers.emplace_back("Content-Type", "application/merge-patch+json");
  r.body = std::move(*patch);
  r.timeout = std::chrono::seconds(10);
  slot.in_flight = true;
  aborts_.push_back(net::HttpClient::fetch(
      io_, std::move(r),
      [this, key, what, based_on, current = std::move(current),
       alive = alive_](net::HttpResponse response) mutable {
        if (!*alive) return;
        Slot& s = slots_[key];
        s.in_flight = false;
        if (response.error.empty() && response.status == 200) {
          ++writes_;
          s.errors_in_a_row = 0;
          if (auto parsed = json::parse(response.body); parsed.value && parsed.value->is_object())
            cache_.update(std::get<0>(key), *parsed.value, based_on);
          return send(key); // a newer wish, if one came meanwhile
        }
        ++failures_;
        std::string error =
            "status of " + what + ": " +
            (response.error.empty() ? "HTTP " + std::to_string(response.status) : response.error);
        // Retried every 10 s at most for as long as it fails (RBAC without patch, say): said
        // once, not at every try.
        if (error != last_error_) log::warn("gateway: " + discovery::printable(error));
        last_error_ = std::move(error);
        // Gone: nothing to write. Changed under us (409: the resourceVersion the patch was
        // built from is not the object's any more): made again after a pause, from the object
        // as the watch brought it by then; a status-only change brings no rebuild that would
        // write it later.
        if (response.status == 404) return send(key);
        if (!s.wish) s.wish = std::move(current);
        ++s.errors_in_a_row;
        auto delay = std::min<std::chrono::milliseconds>(
            kFirstRetry * (1 << std::min(s.errors_in_a_row - 1, 6)), kMaxRetry);
        if (!s.retry) s.retry = std::make_unique<boost::asio::steady_timer>(io_);
        s.waiting = true;
        s.retry->expires_after(delay);
        s.retry->async_wait([this, key, alive](const boost::system::error_code& ec) {
          if (ec || !*alive) return;
          slots_[key].waiting = false;
          send(key);
        });
      }));
  // Only the exchanges still going need aborting at the end.
  if (aborts_.size() > 64) aborts_.erase(aborts_.begin(), aborts_.begin() + 32);
}

} // namespace weir::gateway
