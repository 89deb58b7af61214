#include "weir/base/token_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weir {

Result<std::string> read_token_file(const std::string& path) {
  // Appended, not chained with +: GCC 12 at -O3 warns wrongly (array-bounds) on the chain.
  auto fail = [&](const std::string& why) {
    std::string message = "token file ";
    message.append(path).append(": ").append(why);
    return Error{ErrorSource::config, std::move(message)};
  };
  // O_NONBLOCK: a FIFO put there must not hold the control thread in open() until someone
  // writes to it; anything but a regular file is refused. Symlinks are followed (Kubernetes
  // mounts its secrets through them).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  std::string text;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) {
      ::close(fd);
      return fail("larger than 4 KiB; expected one token");
    }
  }
  ::close(fd);
  std::string_view token = text;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t'))
    token.remove_suffix(1);
  if (token.empty()) return fail("is empty");
  for (char c : token)
    if (c <= ' ' || c > '~')
      return fail("the token may hold printable ASCII characters only, no spaces");
  if (token.size() < kMinTokenLength) {
    std::string why = "the token has ";
    why.append(std::to_string(token.size())).append(" characters; at least ");
    why.append(std::to_string(kMinTokenLength)).append(" are needed (e.g. `openssl rand -hex 32`)");
    return fail(why);
  }
  return Result<std::string>(std::string(token));
}

bool same_token(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

} // namespace weir
