#include "etcd.h"

#include "upstream.h"
#include "wait.h"
#include "weir.h"
#include "weir/net/http_client.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <optional>
#include <unistd.h>

namespace weir::test {
namespace {

constexpr const char* kEtcdBin = "/usr/bin/etcd";
constexpr auto kStartTimeout = 20s;

std::string loopback_url(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

} // namespace

std::unique_ptr<Etcd> Etcd::start(size_t members) {
  if (members != 1 && members != 3) {
    ADD_FAILURE() << "Etcd::start: 1 or 3 members, not " << members;
    return nullptr;
  }
  static std::atomic<unsigned> clusters{0};
  std::unique_ptr<Etcd> etcd(new Etcd());
  etcd->token_ = "weir-test-" + std::to_string(::getpid()) + "-" + std::to_string(++clusters);
  const std::string dir = temp_path("etcd");
  std::filesystem::create_directories(dir);
  for (size_t i = 0; i < members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i);
    m.client_port = unused_port();
    m.peer_port = unused_port();
    m.data_dir = dir + "/" + m.name;
    if (m.client_port == 0 || m.peer_port == 0 || m.client_port == m.peer_port) {
      ADD_FAILURE() << "Etcd::start: no free loopback ports";
      return nullptr;
    }
    etcd->members_.push_back(std::move(m));
  }
  for (size_t i = 0; i < members; ++i)
    if (!etcd->launch(i)) {
      ADD_FAILURE() << "Etcd::start: cannot run " << kEtcdBin;
      return nullptr;
    }
  if (!etcd->wait_healthy(kStartTimeout)) {
    ADD_FAILURE() << "etcd did not become healthy within 20 s:\n" << etcd->output();
    return nullptr;
  }
  return etcd;
}

Etcd::~Etcd() {
  for (Member& m : members_)
    if (m.proc) m.proc->signal(SIGKILL);
}

bool Etcd::launch(size_t i) {
  Member& m = members_[i];
  std::string initial_cluster;
  for (const Member& each : members_)
    initial_cluster +=
        (initial_cluster.empty() ? "" : ",") + each.name + "=" + loopback_url(each.peer_port);
  // With a data directory already there (a restart), etcd ignores the --initial-* flags and
  // rejoins as the member it was.
  m.proc = Process::start({
      kEtcdBin,
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + loopback_url(m.client_port),
      "--advertise-client-urls=" + loopback_url(m.client_port),
      "--listen-peer-urls=" + loopback_url(m.peer_port),
      "--initial-advertise-peer-urls=" + loopback_url(m.peer_port),
      "--initial-cluster=" + initial_cluster,
      "--initial-cluster-state=new",
      "--initial-cluster-token=" + token_,
      // Fast failure detection for tests; etcd's defaults are 100 ms and 1 s.
      "--heartbeat-interval=50",
      "--election-timeout=250",
      "--logger=zap",
      "--log-outputs=stderr",
      "--log-level=warn",
  });
  return m.proc != nullptr;
}

bool Etcd::wait_healthy(std::chrono::milliseconds timeout) {
  return wait_until(
      [this] {
        for (size_t i = 0; i < members_.size(); ++i) {
          if (!members_[i].proc || !members_[i].proc->running()) return false;
          if (!healthy(i, 200ms)) return false;
        }
        return true;
      },
      timeout, 20ms);
}

std::vector<std::string> Etcd::endpoints() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < members_.size(); ++i)
    out.push_back(endpoint(i));
  return out;
}

std::string Etcd::endpoint(size_t i) const {
  return loopback_url(members_.at(i).client_port);
}

bool Etcd::healthy(size_t i, std::chrono::milliseconds timeout) const {
  net::HttpRequest r;
  auto url = net::parse_url(endpoint(i) + "/health");
  if (!url) return false;
  r.url = *url;
  r.timeout = timeout;
  boost::asio::io_context io;
  std::optional<net::HttpResponse> answer;
  net::HttpClient::fetch(io, std::move(r), [&](net::HttpResponse a) { answer = std::move(a); });
  io.run(); // bounded by the request's timeout
  return answer && answer->status == 200 &&
         answer->body.find("\"health\":\"true\"") != std::string::npos;
}

void Etcd::kill(size_t i) {
  Member& m = members_.at(i);
  if (!m.proc || m.proc->reaped()) return;
  m.proc->signal(SIGKILL);
  if (!m.proc->wait_exit(5s)) ADD_FAILURE() << "etcd member " << m.name << " outlived SIGKILL";
}

void Etcd::stop_all() {
  for (Member& m : members_)
    if (m.proc && !m.proc->reaped()) m.proc->signal(SIGTERM);
  for (Member& m : members_) {
    if (!m.proc || m.proc->reaped()) continue;
    if (!m.proc->wait_exit(5s)) {
      m.proc->signal(SIGKILL);
      m.proc->wait_exit(5s);
    }
  }
}

bool Etcd::start_all() {
  for (size_t i = 0; i < members_.size(); ++i) {
    Member& m = members_[i];
    if (m.proc && !m.proc->reaped() && m.proc->running()) continue;
    if (!launch(i)) {
      ADD_FAILURE() << "Etcd::start_all: cannot run " << kEtcdBin;
      return false;
    }
  }
  if (!wait_healthy(kStartTimeout)) {
    ADD_FAILURE() << "etcd did not become healthy again within 20 s:\n" << output();
    return false;
  }
  return true;
}

std::string Etcd::output() const {
  std::string out;
  for (const Member& m : members_) {
    out += "--- etcd member " + m.name + " (client " + loopback_url(m.client_port) + ") ---\n";
    out += m.proc ? m.proc->output_tail(4000) : "(not started)\n";
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  return out;
}

} // namespace weir::test
