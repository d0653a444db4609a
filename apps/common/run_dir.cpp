// Run directory files: atomic JSON writes, checkpoints in three files published by last.json.
#include "common/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "proxima/core/error.h"

namespace px::apps {
namespace fs = std::filesystem;

std::string default_run_dir(const std::string& model) {
  std::string safe = model;
  for (char& ch : safe) {
    const auto u = static_cast<unsigned char>(ch);
    if (!std::isalnum(u) && ch != '.' && ch != '_' && ch != '-') ch = '_';
  }
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return (fs::path("runs") / (std::string(stamp) + "-" + safe)).string();
}

void write_json_atomic(const std::string& path, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  PX_CHECK(fd >= 0, Error, "cannot write ", tmp, ": ", std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      PX_CHECK(false, Error, "cannot write ", tmp, ": ", std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    PX_CHECK(false, Error, "cannot write ", path, ": ", std::strerror(errno));
  }
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  PX_CHECK(in.good(), ValueError, "cannot read ", path, ": no such file or not readable");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::exception& e) {
    PX_CHECK(false, ValueError, path, ": not valid JSON (", e.what(), ")");
  }
  return {};
}

nlohmann::json generator_to_json(const Generator& gen) {
  return {{"seed", gen.seed()}, {"offset", gen.offset()}};
}

void generator_from_json(const nlohmann::json& json, Generator& gen) {
  gen.manual_seed(json.at("seed").get<std::uint64_t>());
  gen.set_offset(json.at("offset").get<std::uint64_t>());
}

namespace {

std::string epoch_file(std::int64_t epoch, const char* what) {
  return "epoch-" + std::to_string(epoch) + "." + what + ".safetensors";
}

// Removes epoch-*.safetensors files of other epochs (older checkpoints superseded by last.json).
void remove_stale(const fs::path& dir, std::int64_t epoch) {
  const std::string keep_model = epoch_file(epoch, "model"), keep_optim = epoch_file(epoch, "optimizer");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("epoch-", 0) == 0 && name.size() > 12 &&
        name.compare(name.size() - 12, 12, ".safetensors") == 0 && name != keep_model && name != keep_optim) {
      fs::remove(entry.path(), ec);
    }
  }
}

}  // namespace

std::string save_checkpoint(const std::string& run_dir, const Checkpoint& ck) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  fs::create_directories(dir);
  const std::string model_file = epoch_file(ck.epoch, "model");
  const std::string optim_file = epoch_file(ck.epoch, "optimizer");
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"epoch", std::to_string(ck.epoch)}};
  nn::save_safetensors((dir / model_file).string(), ck.model, meta);
  nn::save_safetensors((dir / optim_file).string(), ck.optimizer, meta);
  const nlohmann::json json = {{"epoch", ck.epoch},          {"model", model_file},
                               {"optimizer", optim_file},    {"config", ck.config},
                               {"generators", ck.generators}, {"metrics", ck.metrics},
                               {"extra", ck.extra}};
  const std::string json_path = (dir / "last.json").string();
  write_json_atomic(json_path, json);
  remove_stale(dir, ck.epoch);
  return json_path;
}

std::string checkpoint_json_path(const std::string& path) {
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / "checkpoints" / "last.json")) {
      return (fs::path(path) / "checkpoints" / "last.json").string();
    }
    return (fs::path(path) / "last.json").string();
  }
  return path;
}

std::string checkpoint_run_dir(const std::string& checkpoint_json) {
  const fs::path folder = fs::absolute(checkpoint_json).parent_path();
  return folder.filename() == "checkpoints" ? folder.parent_path().string() : folder.string();
}

std::string run_files_in(const std::string& dir) {
  std::string found;
  std::error_code ec;
  for (const char* name : {"run.json", "summary.json", "metrics.csv", "checkpoints/last.json"}) {
    if (fs::exists(fs::path(dir) / name, ec)) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  return found;
}

void check_writable_dir(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  PX_CHECK(!ec, ValueError, dir, ": not a usable path (", ec.message(), ")");
  // The directory itself when it exists, else its nearest existing ancestor (where it would be created).
  while (!fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  PX_CHECK(fs::is_directory(p, ec), ValueError, dir, ": ", p.string(), " exists and is not a directory");
  PX_CHECK(::access(p.c_str(), W_OK | X_OK) == 0, ValueError, dir, ": cannot write in ", p.string(), " (",
           std::strerror(errno), ")");
}

Checkpoint load_checkpoint(const std::string& path) {
  const std::string json_path = checkpoint_json_path(path);
  const nlohmann::json j = read_json(json_path);
  const fs::path dir = fs::path(json_path).parent_path();
  Checkpoint ck;
  try {
    ck.epoch = j.at("epoch").get<std::int64_t>();
    ck.config = j.at("config");
    ck.generators = j.at("generators");
    ck.metrics = j.at("metrics");
    ck.extra = j.value("extra", nlohmann::json::object());
    ck.model = nn::load_safetensors((dir / j.at("model").get<std::string>()).string()).tensors;
    ck.optimizer = nn::load_safetensors((dir / j.at("optimizer").get<std::string>()).string()).tensors;
  } catch (const nlohmann::json::exception& e) {
    PX_CHECK(false, ValueError, json_path, ": not a proxima checkpoint (", e.what(), ")");
  }
  PX_CHECK(ck.epoch >= 1 && ck.metrics.is_array() && static_cast<std::int64_t>(ck.metrics.size()) == ck.epoch,
           ValueError, json_path, ": not a proxima checkpoint (epoch ", ck.epoch, " with ",
           ck.metrics.is_array() ? ck.metrics.size() : 0, " metric rows; expected epoch >= 1 and one row per epoch)");
  return ck;
}

}  // namespace px::apps
