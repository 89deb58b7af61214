#include "weir/http/rewrite.h"

#include "weir/http/path_modifier.h"

#include <charconv>

namespace weir::http {

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

bool listed_in(std::string_view name, std::string_view list) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view token = trim(list.substr(0, comma));
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

std::string_view connection_value(const Head& head) {
  // Several Connection headers are one list; the common case is one.
  const Header* c = head.find("connection");
  return c ? c->value : std::string_view{};
}

bool hop_by_hop_in(const Head& head, std::string_view name) {
  if (is_hop_by_hop(name, {})) return true;
  for (const Header& h : head.headers)
    if (iequals(h.name, "connection") && listed_in(name, h.value)) return true;
  return false;
}

// Appends the non-empty values of every forwarded `name` field, joined by ", ": several fields
// of one name are one list (RFC 9110 5.3), so keeping only one would drop hops. Returns whether
// anything was appended.
template <class Forwarded>
bool append_values(std::string& out, const Head& head, std::string_view name, Forwarded forwarded) {
  bool any = false;
  for (const Header& h : head.headers) {
    if (h.value.empty() || !iequals(h.name, name) || !forwarded(h.name)) continue;
    if (any) out.append(", ");
    out.append(h.value);
    any = true;
  }
  return any;
}

} // namespace

namespace {

// Names a Connection header cannot make hop-by-hop (see is_hop_by_hop).
bool protected_from_connection(std::string_view name) {
  switch (name.size()) {
  case 3:
    return iequals(name, "via");
  case 4:
    return iequals(name, "host");
  case 9:
    return iequals(name, "forwarded");
  case 12:
    return iequals(name, "x-request-id");
  case 14:
    return iequals(name, "content-length");
  case 15:
    return iequals(name, "x-forwarded-for");
  case 16:
    return iequals(name, "x-forwarded-host");
  case 17:
    return iequals(name, "x-forwarded-proto");
  default:
    return false;
  }
}

// "Transfer-Encoding: chunked", keeping the codings the upstream applied before chunking
// ("gzip, chunked"): weir re-chunks the body but does not decode it, so dropping them would hand
// the client compressed bytes it takes for plain ones.
void append_chunked_coding(std::string& out, const Head& resp) {
  out.append("Transfer-Encoding: ");
  for (const Header& h : resp.headers) {
    if (!iequals(h.name, "transfer-encoding")) continue;
    std::string_view list = h.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view coding = trim(list.substr(0, comma));
      if (!coding.empty() && !iequals(coding, "chunked")) out.append(coding).append(", ");
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  out.append("chunked\r\n");
}

} // namespace

bool is_hop_by_hop(std::string_view name, std::string_view connection) {
  switch (name.size()) {
  case 2:
    if (iequals(name, "te")) return true;
    break;
  case 7:
    if (iequals(name, "trailer") || iequals(name, "upgrade")) return true;
    break;
  case 10:
    if (iequals(name, "connection") || iequals(name, "keep-alive")) return true;
    break;
  case 17:
    if (iequals(name, "transfer-encoding")) return true;
    break;
  default:
    break;
  }
  if (starts_with_ci(name, "proxy-")) return true;
  return !connection.empty() && listed_in(name, connection) && !protected_from_connection(name);
}

bool is_underscore_variant(std::string_view name) {
  if (name.find('_') == std::string_view::npos || name.size() > 17) return false;
  char dashed[17];
  for (size_t i = 0; i < name.size(); ++i)
    dashed[i] = name[i] == '_' ? '-' : name[i];
  std::string_view d(dashed, name.size());
  return protected_from_connection(d) || iequals(d, "x-real-ip");
}

bool sane_request_id(std::string_view v) {
  if (v.empty() || v.size() > 128) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void write_upstream_request(const Head& req, const UpstreamRequestContext& ctx, std::string& out) {
  out.append(req.method_name).append(" ");
  // Origin-form always: an absolute-form target's authority is stated in Host below.
  if (ctx.rewrite_path && ctx.rewrite_path->type != config::PathModifier::Type::none) {
    append_modified_path(out, req.path, *ctx.rewrite_path, ctx.prefix_length);
  } else {
    if (req.path.empty() || req.path.front() == '?') out.push_back('/');
    out.append(req.path);
  }
  out.append(" HTTP/1.1\r\n");
  bool has_request_id = false;
  bool several_connection = false;
  int connection_headers = 0;
  for (const Header& h : req.headers)
    connection_headers += iequals(h.name, "connection");
  several_connection = connection_headers > 1;
  std::string_view conn = connection_value(req);
  auto forwarded = [&](std::string_view name) {
    return !(several_connection ? hop_by_hop_in(req, name) : is_hop_by_hop(name, conn)) &&
           !is_underscore_variant(name);
  };
  // Forwarding headers are taken from trusted peers only.
  auto forwarded_from_peer = [&](std::string_view name) {
    return ctx.trusted_peer && forwarded(name);
  };
  std::string_view authority = req.absolute_form ? req.authority : req.host;
  bool host_written = false;
  for (const Header& h : req.headers) {
    if (!forwarded(h.name)) continue;
    // A filter never names what the switch below handles (the config refuses those names).
    if (ctx.headers && ctx.headers->drops(h.name)) continue;
    switch (h.name.size()) {
    case 4:
      if (iequals(h.name, "host")) {
        // Rewritten to the routed authority (the same bytes unless absolute-form), or to what
        // the route's rewrite says.
        if (!ctx.rewrite_host.empty())
          append_header(out, h.name, ctx.rewrite_host);
        else if (!authority.empty())
          append_header(out, h.name, authority);
        host_written = true;
        continue;
      }
      break;
    case 3:
      if (iequals(h.name, "via")) continue; // re-stated below with this hop appended
      break;
    case 6:
      if (iequals(h.name, "expect")) continue; // answered by the proxy (100 Continue)
      break;
    case 9:
      if (iequals(h.name, "forwarded")) continue; // re-stated below
      break;
    case 12:
      if (iequals(h.name, "x-request-id")) {
        if (has_request_id || !sane_request_id(h.value)) continue;
        has_request_id = true;
      }
      break;
    case 14:
      if (iequals(h.name, "content-length")) continue; // re-stated below
      break;
    case 15:
      if (iequals(h.name, "x-forwarded-for")) continue; // re-stated below
      break;
    // weir's own marks (x-weir-mirror on a mirrored copy, x-weir-synthetic on probes and top-up
    // traffic) are stated by weir, never by a client: an upstream that skips side effects for a
    // mirror copy, or a log that sets synthetic traffic apart, must not be fooled by a forged
    // one. Like Envoy's x-envoy-* from an untrusted peer; a trusted proxy's are kept. Other
    // x-weir-* names are the user's (an override or tester header) and pass.
    case 13:
      if (!ctx.trusted_peer && iequals(h.name, "x-weir-mirror")) continue;
      break;
    case 16:
      if (iequals(h.name, "x-forwarded-host")) continue;
      if (!ctx.trusted_peer && iequals(h.name, "x-weir-synthetic")) continue;
      break;
    case 17:
      if (iequals(h.name, "x-forwarded-proto")) continue;
      break;
    default:
      break;
    }
    append_header(out, h.name, h.value);
  }
  if (ctx.headers) out.append(ctx.headers->lines());
  if (!ctx.rewrite_host.empty()) {
    if (!host_written) append_header(out, "Host", ctx.rewrite_host);
  } else if (authority.empty() && !ctx.default_host.empty()) {
    append_header(out, "Host", ctx.default_host);
  } else if (!host_written && !authority.empty()) {
    append_header(out, "Host", authority);
  }
  if (req.framing == Framing::length) {
    out.append("Content-Length: ");
    append_number(out, req.content_length);
    out.append("\r\n");
  } else if (req.framing == Framing::chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  }
  out.append("X-Forwarded-For: ");
  if (append_values(out, req, "x-forwarded-for", forwarded_from_peer)) out.append(", ");
  out.append(ctx.client_ip).append("\r\n");
  out.append("X-Forwarded-Proto: ");
  if (!append_values(out, req, "x-forwarded-proto", forwarded_from_peer)) out.append(ctx.proto);
  out.append("\r\n");
  if (const Header* xfh = req.find("x-forwarded-host"); xfh && forwarded_from_peer(xfh->name)) {
    append_header(out, "X-Forwarded-Host", xfh->value);
  } else if (!authority.empty()) {
    append_header(out, "X-Forwarded-Host", authority);
  }
  if (req.find("forwarded")) {
    // RFC 7239: a client's own Forwarded is replaced; a trusted proxy's gets this hop appended.
    out.append("Forwarded: ");
    if (append_values(out, req, "forwarded", forwarded_from_peer)) out.append(", ");
    bool v6 = ctx.client_ip.find(':') != std::string_view::npos;
    out.append(v6 ? "for=\"[" : "for=").append(ctx.client_ip).append(v6 ? "]\"" : "");
    if (!authority.empty()) out.append(";host=\"").append(authority).append("\"");
    out.append(";proto=").append(ctx.proto).append("\r\n");
  }
  out.append("Via: ");
  if (append_values(out, req, "via", forwarded)) out.append(", ");
  out.append(req.version_minor == 0 ? "1.0 weir\r\n" : "1.1 weir\r\n");
  if (!has_request_id) append_header(out, "x-request-id", ctx.request_id);
  if (ctx.tunnel) {
    const Header* upgrade = req.find("upgrade");
    append_header(out, "Upgrade", upgrade ? upgrade->value : "websocket");
    out.append("Connection: upgrade\r\n\r\n");
  } else {
    out.append("Connection: keep-alive\r\n\r\n");
  }
}

void write_client_response(const Head& resp, const ClientResponseContext& ctx, std::string& out) {
  out.append(ctx.client_version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, static_cast<uint64_t>(resp.status));
  out.append(" ").append(resp.reason.empty() ? reason_phrase(resp.status) : resp.reason);
  out.append("\r\n");
  int connection_headers = 0;
  for (const Header& h : resp.headers)
    connection_headers += iequals(h.name, "connection");
  std::string_view conn = connection_value(resp);
  auto forwarded = [&](std::string_view name) {
    return !(connection_headers > 1 ? hop_by_hop_in(resp, name) : is_hop_by_hop(name, conn));
  };
  bool body_allowed = !(resp.status < 200 || resp.status == 204 || resp.status == 304);
  for (const Header& h : resp.headers) {
    if (!forwarded(h.name)) continue;
    if (ctx.headers && ctx.headers->drops(h.name)) continue;
    if (h.name.size() == 3 && iequals(h.name, "via")) continue; // re-stated below
    if (h.name.size() == 14 && iequals(h.name, "content-length")) {
      // Kept for HEAD and 304 (they describe the representation); re-stated otherwise.
      if (ctx.head_request || !body_allowed) append_header(out, h.name, h.value);
      continue;
    }
    append_header(out, h.name, h.value);
  }
  if (body_allowed && !ctx.head_request) {
    if (resp.framing == Framing::length) {
      out.append("Content-Length: ");
      append_number(out, resp.content_length);
      out.append("\r\n");
    } else if (ctx.chunked) {
      append_chunked_coding(out, resp);
    }
  } else if (ctx.head_request && resp.framing == Framing::chunked) {
    append_chunked_coding(out, resp);
  }
  out.append("Via: ");
  if (append_values(out, resp, "via", forwarded)) out.append(", ");
  out.append(resp.version_minor == 0 ? "1.0 weir\r\n" : "1.1 weir\r\n");
  if (ctx.headers) out.append(ctx.headers->lines());
  out.append(ctx.extra_headers);
  if (ctx.tunnel) {
    const Header* upgrade = resp.find("upgrade");
    if (upgrade) append_header(out, "Upgrade", upgrade->value);
    out.append("Connection: upgrade\r\n\r\n");
  } else if (ctx.close) {
    out.append("Connection: close\r\n\r\n");
  } else if (ctx.client_version_minor == 0) {
    out.append("Connection: keep-alive\r\n\r\n");
  } else {
    out.append("\r\n");
  }
}

void write_local_response(int status, std::string_view body, bool close, std::string& out,
                          std::string_view extra_headers) {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<uint64_t>(status));
  out.append(" ").append(reason_phrase(status)).append("\r\n");
  // 1xx, 204 and 304 have no body; a 204 must not even state a length (RFC 9110 8.6), and a
  // body after them would be read as the next response.
  bool has_body = status >= 200 && status != 204 && status != 304;
  if (has_body) {
    out.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    append_number(out, body.size());
    out.append("\r\n");
  }
  out.append(extra_headers);
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (has_body) out.append(body);
}

std::string_view reason_phrase(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 307:
    return "Temporary Redirect";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 308:
    return "Permanent Redirect";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return status < 200   ? "Informational"
           : status < 300 ? "OK"
           : status < 400 ? "Redirection"
           : status < 500 ? "Client Error"
                          : "Server Error";
  }
}

} // namespace weir::http
