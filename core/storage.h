// A block of memory on one device, shared by every tensor that views it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "proxima/core/device.h"

namespace px {

// CONVENTION: a Storage owns `nbytes` bytes at `data` on `device` and releases them with
// `release` (given by the backend that allocated them: a return to that device's caching
// allocator, on the CPU and on CUDA alike). Tensors never free memory themselves.
class Storage {
 public:
  Storage(void* data, std::size_t nbytes, Device device, std::function<void(void*)> release)
      : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}
  ~Storage() {
    if (release_ && data_) release_(data_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  std::size_t nbytes_;
  Device device_;
  std::function<void(void*)> release_;
};

}  // namespace px
