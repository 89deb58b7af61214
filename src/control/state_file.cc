#include "weir/control/state_file.h"

#include "weir/base/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace weir::control {

namespace {

constexpr int kVersion = 1;
// Far above any real state; a bigger file is not one we wrote.
constexpr off_t kMaxFileSize = 64 << 20;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

std::string dir_of(const std::string& dir) {
  return dir.empty() ? std::string(".") : dir;
}

bool set_error(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool read_weights(const json::Value& v, const std::string& name,
                  std::map<std::string, std::map<std::string, uint32_t>>& out, std::string* error) {
  if (!v.is_object()) return set_error(error, name + ": expected an object");
  for (const auto& [route, backends] : v.as_object()) {
    if (!backends.is_object()) return set_error(error, name + "." + route + ": expected an object");
    auto& dst = out[route];
    for (const auto& [service, weight] : backends.as_object()) {
      const double w = weight.as_number();
      if (!weight.is_number() || w < 0 || w > UINT32_MAX || std::floor(w) != w)
        return set_error(error, name + "." + route + "." + service +
                                    ": expected an integer from 0 to 4294967295");
      dst[service] = static_cast<uint32_t>(w);
    }
  }
  return true;
}

bool read_drained(const json::Value& v, LiveState& out, std::string* error) {
  if (!v.is_object()) return set_error(error, "drained: expected an object");
  for (const auto& [service, endpoints] : v.as_object()) {
    if (!endpoints.is_array())
      return set_error(error, "drained." + service + ": expected an array");
    auto& dst = out.drained[service];
    for (const json::Value& endpoint : endpoints.as_array()) {
      if (!endpoint.is_string())
        return set_error(error, "drained." + service + ": expected an array of strings");
      dst.insert(endpoint.as_string());
    }
  }
  return true;
}

bool read_extra(const json::Value& v, LiveState& out, std::string* error) {
  if (!v.is_object()) return set_error(error, "extra: expected an object");
  for (const auto& [name, section] : v.as_object())
    out.extra[name] = json::Writer().value(section).take();
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads the whole file. ENOENT is reported through `missing`.
bool read_file(const std::string& path, std::string& out, bool& missing, std::string* error) {
  missing = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      missing = true;
      return true;
    }
    return set_error(error, "cannot open " + path + ": " + errno_text(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return set_error(error, "cannot stat " + path + ": " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return set_error(error, path + ": not a regular file");
  }
  if (st.st_size > kMaxFileSize) {
    ::close(fd);
    return set_error(error, path + ": file too large");
  }
  out.clear();
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return set_error(error, "cannot read " + path + ": " + errno_text(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > static_cast<size_t>(kMaxFileSize)) {
      ::close(fd);
      return set_error(error, path + ": file too large");
    }
  }
  ::close(fd);
  return true;
}

} // namespace

std::string to_json(const LiveState& state) {
  json::Writer w;
  w.begin_object();
  w.key("version").value(kVersion);
  for (const auto& [name, weights] : {std::pair{"weights", &state.weight_overrides},
                                      {"rollout_weights", &state.rollout_weights}}) {
    w.key(name).begin_object();
    for (const auto& [route, backends] : *weights) {
      w.key(route).begin_object();
      for (const auto& [service, weight] : backends)
        w.key(service).value(weight);
      w.end_object();
    }
    w.end_object();
  }
  w.key("drained").begin_object();
  for (const auto& [service, endpoints] : state.drained) {
    w.key(service).begin_array();
    for (const std::string& endpoint : endpoints)
      w.value(endpoint);
    w.end_array();
  }
  w.end_object();
  w.key("extra").begin_object();
  for (const auto& [name, text] : state.extra) {
    w.key(name);
    json::ParseResult parsed = json::parse(text);
    if (parsed.value)
      w.value(*parsed.value);
    else
      w.null();
  }
  w.end_object();
  w.end_object();
  return w.take();
}

std::optional<LiveState> from_json(std::string_view text, std::string* error) {
  json::ParseResult parsed = json::parse(text);
  if (!parsed.value) {
    set_error(error, parsed.error);
    return std::nullopt;
  }
  const json::Value& root = *parsed.value;
  if (!root.is_object()) {
    set_error(error, "expected an object at the top level");
    return std::nullopt;
  }
  const json::Value* version = root.find("version");
  if (!version || !version->is_number()) {
    set_error(error, "version: missing or not a number");
    return std::nullopt;
  }
  if (version->as_number() != kVersion) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "version: unsupported version %g", version->as_number());
    set_error(error, buf);
    return std::nullopt;
  }
  LiveState state;
  if (const json::Value* v = root.find("weights");
      v && !read_weights(*v, "weights", state.weight_overrides, error))
    return std::nullopt;
  if (const json::Value* v = root.find("rollout_weights");
      v && !read_weights(*v, "rollout_weights", state.rollout_weights, error))
    return std::nullopt;
  if (const json::Value* v = root.find("drained"); v && !read_drained(*v, state, error))
    return std::nullopt;
  if (const json::Value* v = root.find("extra"); v && !read_extra(*v, state, error))
    return std::nullopt;
  return state;
}

std::string save_state(const std::string& dir_arg, const LiveState& state) {
  for (const auto& [name, text] : state.extra) {
    json::ParseResult parsed = json::parse(text);
    if (!parsed.value) return "extra section '" + name + "' is not valid JSON: " + parsed.error;
  }
  const std::string dir = dir_of(dir_arg);
  const std::string path = dir + "/" + kStateFileName;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::string text = to_json(state);
  text.push_back('\n');

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp + ": " + errno_text(errno);
  if (!write_all(fd, text) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + errno_text(err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + errno_text(err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return "cannot rename " + tmp + " to " + path + ": " + errno_text(err);
  }
  // Makes the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return "cannot open " + dir + " to fsync it: " + errno_text(errno);
  if (::fsync(dfd) != 0) {
    const int err = errno;
    ::close(dfd);
    return "cannot fsync " + dir + ": " + errno_text(err);
  }
  ::close(dfd);
  return "";
}

std::optional<LiveState> load_state(const std::string& dir_arg, std::string* error) {
  const std::string dir = dir_of(dir_arg);
  const std::string path = dir + "/" + kStateFileName;
  std::string text;
  bool missing = false;
  if (!read_file(path, text, missing, error)) return std::nullopt;
  if (missing) return LiveState{};
  std::string why;
  std::optional<LiveState> state = from_json(text, &why);
  if (state) return state;
  const std::string corrupt = dir + "/" + kCorruptStateFileName;
  std::string message = path + ": corrupt state file: " + why;
  if (::rename(path.c_str(), corrupt.c_str()) == 0)
    message += "; moved to " + corrupt;
  else
    message += "; could not move it to " + corrupt + ": " + errno_text(errno);
  set_error(error, std::move(message));
  return std::nullopt;
}

} // namespace weir::control
