// Asio's compiled (non-template) half, built once for the whole project. meson.build defines
// BOOST_ASIO_SEPARATE_COMPILATION everywhere, so no other file compiles these definitions again:
// every file that includes Asio saves that work, and every binary that uses Asio links this one
// through weir_core.
#include <boost/asio/impl/src.hpp>
// The TLS half (weir's HTTP client: rollout hooks and external metrics over https).
#include <boost/asio/ssl/impl/src.hpp>
