#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace weir::test {

// One endpoint of an EndpointSlice: one address and its conditions, as the test wants them.
struct FakeEndpoint {
  std::string address;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

// An EndpointSlice as the test describes it; the fake adds what the API server fills in (uid,
// resourceVersion, creationTimestamp, generateName, labels, the endpoints' targetRefs).
struct FakeSlice {
  std::string ns;
  std::string name;
  std::string service; // the label kubernetes.io/service-name (none when empty)
  std::vector<std::pair<std::string, uint16_t>> ports; // {"http", 9001}; the name may be ""
  std::vector<FakeEndpoint> endpoints;
  std::string address_type = "IPv4";
  // No endpoints sent as "endpoints":null instead of []: the API server's Go encoding of a slice
  // the controller left empty, which some clients trip over.
  bool null_endpoints = false;
};

// A PATCH the fake received: the path, Content-Type and body as sent, and its answer's status.
struct FakePatch {
  std::string path;
  std::string content_type;
  std::string body;
  int status = 0;
};

// An in-process fake of the Kubernetes API server's discovery.k8s.io/v1 EndpointSlice API, for
// weir's service-discovery tests (and of any other resource's objects, for the Gateway API
// controller's and the cluster store's: put_object, and clients' POST, PUT and DELETE): HTTPS on
// 127.0.0.1 (kernel-chosen port, certificate from a test CA made at start), bearer-token
// authentication, LIST and WATCH in the real server's wire format (JSON; a watch is a chunked
// stream of one JSON event per chunk and line), resource versions with a history that a test can
// expire (410 Gone), bookmarks, timeoutSeconds, abrupt disconnects, and an outage (set_down).
// Requests are parsed by weir's own http::Parser; every connection carries one
// request and is closed after its answer (Connection: close).
//
// Thread contract: it serves on its own thread (one io_context); every public member may be
// called from any thread. The changes (put_slice, delete_slice, put_object, delete_object,
// expire_*, disconnect_watches, send_bookmark, set_down) return once the serving thread has acted
// on the open watches: the events are queued for writing, or the connections closed. Events reach
// each watch in resourceVersion order.
class FakeKubeApi {
public:
  // Makes a CA, a server certificate for 127.0.0.1/localhost and a token file under temp_dir(),
  // then listens. On failure: ADD_FAILURE and nullptr.
  static std::unique_ptr<FakeKubeApi> start();

  ~FakeKubeApi(); // closes every connection at once (no clean end for open watches)
  FakeKubeApi(const FakeKubeApi&) = delete;
  FakeKubeApi& operator=(const FakeKubeApi&) = delete;

  uint16_t port() const;
  std::string url() const;                         // "https://127.0.0.1:PORT"
  const std::string& ca_file() const;              // PEM: what a client trusts
  const std::string& token_file() const;           // holds the token in force at start
  std::string token() const;                       // the token accepted now
  void set_token(std::string token);               // only this token is accepted from now on
  void write_token_file(const std::string& token); // replaces the file's content atomically

  // ADDED if (ns, name) is new, else MODIFIED; takes the next resourceVersion, which it returns.
  uint64_t put_slice(FakeSlice slice);
  // DELETED with the slice's last state under a new resourceVersion (returned); 0 and nothing
  // else if there is no such slice.
  uint64_t delete_slice(const std::string& ns, const std::string& name);
  // Objects of any other resource (Gateway API objects, Services, Namespaces): `collection` is
  // the API path without namespace ("/apis/gateway.networking.k8s.io/v1/httproutes",
  // "/api/v1/services"), `object_json` a whole object with metadata.name (and
  // metadata.namespace when namespaced). LIST, WATCH and GET under the collection's paths (all
  // namespaces or one) serve them like slices. The fake fills in uid, creationTimestamp,
  // resourceVersion and generation (one more when spec changed), and keeps the stored status (a
  // new object keeps the one given, as another controller's writes):
  // clients write it through the status subresource, whose PATCH
  // (Content-Type application/merge-patch+json) merges the patch's status into it (RFC 7386),
  // moves the resourceVersion on, and sends MODIFIED. Returns the resourceVersion (0 and
  // ADD_FAILURE when object_json is no object with a name).
  uint64_t put_object(const std::string& collection, const std::string& object_json);
  // Clients write them too, as the API server lets them (the cluster store's Leases and
  // ConfigMap, cluster/kubernetes_store.h): POST to the collection creates (201; 409
  // AlreadyExists when present), PUT to the object replaces (200; 404 when missing; 409 Conflict
  // when its metadata.resourceVersion is set and not the stored one), DELETE removes (200 with
  // the object's last state; 404 when missing); each sends its event to the watches. Any
  // collection put_object used is served, and Leases and ConfigMaps from the start.
  // DELETED under a new resourceVersion (returned); 0 if there is no such object.
  uint64_t delete_object(const std::string& collection, const std::string& ns,
                         const std::string& name);
  // The stored object as JSON, status included; "" when there is none.
  std::string object(const std::string& collection, const std::string& ns,
                     const std::string& name) const;
  // Every PATCH received, in order.
  std::vector<FakePatch> patches() const;
  // The next `times` PATCHes are answered `status` (e.g. 500, 409) and change nothing.
  void fail_patches(int status, int times);

  // Down: every connection, open or new, is reset (a TCP reset after accept: the client's
  // connect succeeds, its TLS handshake or request fails), open watches included. Up again: it
  // serves as before, with every object and the history intact. Returns once open connections
  // are reset.
  void set_down(bool down);

  // The cluster's current resourceVersion: what a LIST answers now.
  uint64_t resource_version() const;

  // Ends every open watch's connection abruptly: a TCP reset. With mid_chunk, first half a chunk
  // is written after what was queued, then the connection ends with a plain FIN and no TLS
  // close_notify (a reset could make the peer's kernel drop the half chunk unread): the peer sees
  // a chunked body cut in the middle of a chunk.
  void disconnect_watches(bool mid_chunk = false);
  // Forgets the event history: every resourceVersion handed out so far becomes too old to watch
  // from (410 Gone as an ERROR event). The resourceVersion moves on by one (a change elsewhere in
  // the cluster), so a LIST made afterwards gives a version that can be watched from.
  void expire_history();
  // Every open watch gets the 410 ERROR event and its stream ends. The history is kept: call
  // expire_history() too so that watching again from the same version is refused as well.
  void expire_open_watches();
  // A BOOKMARK event at the current resourceVersion to each open watch that asked for bookmarks
  // (allowWatchBookmarks=true).
  void send_bookmark();

  // What it saw. lists(): LIST requests answered 200. watches(): authorized watch requests
  // (including ones refused with the 410 ERROR event). unauthorized(): 401 answers.
  int lists() const;
  int watches() const;
  int unauthorized() const;
  int open_watches() const;
  // One line per answered request, in order: "GET /apis/...?... status=200".
  std::vector<std::string> requests() const;
  // True as soon as at least n watches are open; false if that does not happen within timeout.
  bool wait_open_watches(int n, std::chrono::milliseconds timeout) const;

private:
  struct Impl;
  FakeKubeApi();

  std::unique_ptr<Impl> impl_;
};

} // namespace weir::test
