// Precompiled once per build for weir_core (meson cpp_pch): the Asio and standard headers most
// of its files include. System headers only, so editing weir's own headers never rebuilds it;
// files still include what they use, this only makes including it cheap.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
