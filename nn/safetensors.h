// safetensors checkpoints: save (atomic, little-endian, F32 F64 I64 U8) and validating load.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "proxima/core/tensor.h"
#include "proxima/nn/module.h"  // StateDict: ordered (name, tensor) pairs

namespace px::nn {

// The safetensors format (https://github.com/huggingface/safetensors):
//   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//   bytes [8, 8 + N)    a JSON object {"__metadata__": {string: string} (optional),
//                       name: {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//                       padded with spaces so that 8 + N is a multiple of 8
//   bytes [8 + N, end)  the data: each tensor's elements in row-major order, little-endian,
//                       at [begin, end) relative to the start of the data
//
// CONVENTION (this writer): tensors appear in the header and in the data section in the
// order given (insertion order, i.e. state_dict order), packed with no gaps; "__metadata__"
// comes first and is omitted when empty. The reader accepts any order (e.g. the reference
// writer's order, sorted by alignment then name) and returns tensors ordered by their data
// offset, so a file written here loads back in the order it was saved.
//
// Supported dtypes: F32 (float32), F64 (float64), I64 (int64), U8 (uint8). Others (F16,
// BF16, I32, BOOL ...) are rejected by name.

// Writes `tensors` (any device, any strides; copied to the CPU contiguous) and `metadata`
// to `path` atomically: a temporary file in the same folder is written, fsync'ed and
// renamed over `path`, then the folder is fsync'ed. On any error a px::Error naming the
// file is thrown and neither `path` nor the temporary file is left changed/behind.
// Names must be unique, non-empty and not "__metadata__"; tensors must be defined.
void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  StateDict tensors;  // CPU, contiguous, ordered by data offset
  std::map<std::string, std::string> metadata;
};

// Reads and validates a whole file: header length against the file size, the JSON, each
// entry's dtype, shape and offsets (inside the data, sized shape * itemsize, covering the
// data exactly with no overlap or gap), duplicate names, metadata being string to string.
// Errors are px::ValueError (px::Error for I/O failures) whose message starts with the path.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace px::nn
