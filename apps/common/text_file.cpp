// Atomic whole-file text writes and whole-file reads for the apps' CSV and SVG outputs.
#include "common/text_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxima/core/error.h"

namespace px::apps {

void write_text_file_atomic(const std::string& path, const std::string& text) {
  static std::atomic<std::uint64_t> counter{0};
  const std::filesystem::path target(path);
  std::string temp_name = ".";
  temp_name += target.filename().string();
  temp_name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  const std::string temp = (target.parent_path() / temp_name).string();

  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  PX_CHECK(fd >= 0, Error, "cannot write ", path, ": creating ", temp, " failed: ", std::strerror(errno));
  std::string problem;
  for (std::size_t done = 0; done < text.size() && problem.empty();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) done += static_cast<std::size_t>(n);
    else if (!(n < 0 && errno == EINTR)) problem = n < 0 ? std::strerror(errno) : "no progress";
  }
  if (problem.empty() && ::fsync(fd) != 0) problem = std::string("fsync: ") + std::strerror(errno);
  if (::close(fd) != 0 && problem.empty()) problem = std::string("close: ") + std::strerror(errno);
  if (problem.empty() && ::rename(temp.c_str(), path.c_str()) != 0)
    problem = std::string("rename: ") + std::strerror(errno);
  if (!problem.empty()) {
    ::unlink(temp.c_str());
    throw Error(detail::str("cannot write ", path, ": ", problem));
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PX_CHECK(in && !std::filesystem::is_directory(path), ValueError, "cannot read ", path,
           std::filesystem::exists(path) ? ": not a readable file" : ": no such file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace px::apps
