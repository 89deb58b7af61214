#include "weir/gateway/import_command.h"

#include "weir/config/loader.h"
#include "weir/gateway/translate.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace weir::gateway {

namespace {

constexpr const char* kImportUsage =
    R"(usage: weir import [--kubernetes-api URL] [--kubernetes-token-file FILE]
                   [--kubernetes-ca-file FILE] [--listen-host ADDRESS]
                   [--gateway-class NAME]... FILE...

Reads Gateway API objects (gateway.networking.k8s.io v1/v1beta1 GatewayClass, Gateway,
HTTPRoute, ReferenceGrant) and core v1 Services and Namespaces from YAML files ("-" reads
standard input) and writes the equivalent weir config to standard output. What weir cannot
express is written to standard error with its object and field. Exit status: 0 all of it was
expressed, 1 something was not (the rest is still written), 2 unreadable input.
)";

struct ImportArgs {
  RenderOptions render;
  Options options;
  std::vector<std::string> files;
};

// A flag's value, from "--flag=value" or the next word; "" when missing.
bool take_value(const std::vector<std::string>& args, size_t& i, const std::string& flag,
                std::string& value) {
  const std::string& arg = args[i];
  if (arg.size() > flag.size() && arg[flag.size()] == '=') {
    value = arg.substr(flag.size() + 1);
    return !value.empty();
  }
  if (i + 1 >= args.size()) return false;
  value = args[++i];
  return !value.empty();
}

std::string read_input(const std::string& file, std::string& error) {
  if (file == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return "";
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) error = "read error";
  return text;
}

} // namespace

int run_import(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  ImportArgs a;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg == "-" || !arg.starts_with("-")) {
      a.files.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(kImportUsage, out);
      return 0;
    }
    const std::string flag = arg.substr(0, arg.find('='));
    std::string value;
    std::string* into = nullptr;
    if (flag == "--kubernetes-api")
      into = &a.render.kubernetes_api_server;
    else if (flag == "--kubernetes-token-file")
      into = &a.render.kubernetes_token_file;
    else if (flag == "--kubernetes-ca-file")
      into = &a.render.kubernetes_ca_file;
    else if (flag == "--listen-host")
      into = &a.options.listen_host;
    if (flag == "--gateway-class" || into) {
      if (!take_value(args, i, flag, value)) {
        std::fprintf(err, "weir import: %s needs a value\n\n%s", flag.c_str(), kImportUsage);
        return 2;
      }
      if (into)
        *into = value;
      else
        a.options.gateway_classes.insert(value);
      continue;
    }
    std::fprintf(err, "weir import: unknown flag '%s'\n\n%s", flag.substr(0, 80).c_str(),
                 kImportUsage);
    return 2;
  }
  if (a.files.empty()) {
    std::fprintf(err, "weir import: no file given\n\n%s", kImportUsage);
    return 2;
  }

  Objects objects;
  std::vector<Problem> problems;
  std::vector<Problem> notes;
  bool unreadable = false;
  for (const std::string& file : a.files) {
    std::string error;
    const std::string text = read_input(file, error);
    if (!error.empty()) {
      std::fprintf(err, "weir import: %s: cannot read: %s\n", file.c_str(), error.c_str());
      unreadable = true;
      continue;
    }
    if (!parse_documents(text, file == "-" ? "<stdin>" : file, objects, problems, notes))
      unreadable = true;
  }
  for (const Problem& n : notes)
    std::fprintf(err, "note: %s\n", n.text().c_str());
  if (unreadable) {
    for (const Problem& p : problems)
      std::fprintf(err, "%s\n", p.text().c_str());
    return 2;
  }
  // Without Services, every backendRef's Service is taken to exist, its port being the target
  // port; with some, they are taken to be all there is.
  a.options.services_complete = !objects.services.empty();
  if (!a.options.services_complete && !objects.http_routes.empty())
    std::fprintf(err, "note: no Service among the objects: each backendRef's Service is taken to "
                      "exist, with targetPort = port\n");
  a.options.routes_without_backends = false;

  Translation translation = translate(objects, a.options);
  problems.insert(problems.end(), translation.problems.begin(), translation.problems.end());
  std::string yaml = "# weir config written by `weir import` from";
  for (const std::string& f : a.files)
    yaml += " " + f;
  yaml += "\n" + render_yaml(translation, a.render);
  std::fputs(yaml.c_str(), out);
  std::fflush(out);
  for (const Problem& p : problems)
    std::fprintf(err, "%s\n", p.text().c_str());
  // The written config must be one weir takes as it is: say so plainly when it is not.
  auto checked = config::load_string(yaml, "<weir import output>");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&checked)) {
    std::fprintf(err, "weir import: the written config does not pass weir's checks:\n%s",
                 config::format_errors(*errors).c_str());
    return 1;
  }
  return problems.empty() ? 0 : 1;
}

} // namespace weir::gateway
