// A run directory: run.json, summary.json, and atomic per-epoch checkpoints (model, optimizer, JSON).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "proxima/core/generator.h"
#include "proxima/nn/safetensors.h"

namespace px::apps {

// "runs/<YYYYmmdd-HHMMSS>-<model>" (local time; characters other than [A-Za-z0-9._-] in the
// model name become '_').
std::string default_run_dir(const std::string& model);

// Writes `json` (indented) to `path` atomically: temporary file in the same folder, fsync, rename.
void write_json_atomic(const std::string& path, const nlohmann::json& json);
// Reads a JSON file; px::ValueError naming the path when missing or malformed.
nlohmann::json read_json(const std::string& path);

nlohmann::json generator_to_json(const Generator& gen);
void generator_from_json(const nlohmann::json& json, Generator& gen);

// CONVENTION: a checkpoint after epoch E (E epochs done) is three files in <run>/checkpoints/:
//   epoch-E.model.safetensors      the model's state dict (loads in PyTorch's safetensors)
//   epoch-E.optimizer.safetensors  the optimizer's state dict
//   last.json                      {"epoch": E, "model": file, "optimizer": file, "config": ...,
//                                   "generators": ..., "metrics": [...], "extra": ...}
// The two tensor files are written first (each atomically), then last.json is replaced
// atomically, then older epoch files are removed: at every instant last.json names a
// complete, consistent checkpoint.
struct Checkpoint {
  std::int64_t epoch = 0;      // epochs completed
  nlohmann::json config;       // config_to_json of the run
  nlohmann::json generators;   // name -> {"seed", "offset"}
  nlohmann::json metrics;      // array of per-epoch metric rows so far
  nlohmann::json extra;        // anything else the trainer wants back (e.g. normalisation)
  nn::StateDict model;
  nn::StateDict optimizer;
};

// Saves into <run_dir>/checkpoints/ and returns the path of last.json.
std::string save_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint);
// `path` is a checkpoint JSON or a run directory (then <path>/checkpoints/last.json).
// Errors (missing files, malformed JSON, bad safetensors) are px::ValueError naming the path.
Checkpoint load_checkpoint(const std::string& path);
// The run directory a checkpoint JSON belongs to (the parent of its checkpoints/ folder).
std::string checkpoint_run_dir(const std::string& checkpoint_json);
std::string checkpoint_json_path(const std::string& path);

// The files that show `dir` holds a run (run.json, summary.json, metrics.csv, checkpoints/last.json),
// "" when it holds none of them (or does not exist).
std::string run_files_in(const std::string& dir);
// Throws px::ValueError naming `dir` and the reason when a run directory cannot be created or
// written there (an existing non-directory, a read-only or missing parent); creates nothing.
void check_writable_dir(const std::string& dir);

}  // namespace px::apps
