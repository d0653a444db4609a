// safetensors: round trips, the exact byte layout, every corruption case, atomic writes, Python interop.
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/ops.h"
#include "proxima/nn/safetensors.h"

using namespace px;
namespace fs = std::filesystem;

namespace {

using px::test_support::TempDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string u64_le(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

// A raw file: header length, header (unpadded), data.
std::string raw_file(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// The bytes of element i of x, found by walking its strides from the storage (reference).
std::string strided_bytes(const Tensor& x) {
  const std::size_t item = dtype_size(x.dtype());
  const char* base = static_cast<const char*>(x.storage()->data());
  std::string out;
  std::vector<std::int64_t> index(x.dim(), 0);
  for (std::int64_t n = 0; n < x.numel(); ++n) {
    std::int64_t offset = x.offset();
    for (std::int64_t d = 0; d < x.dim(); ++d) offset += index[d] * x.strides()[d];
    out.append(base + offset * item, item);
    for (std::int64_t d = x.dim() - 1; d >= 0; --d) {
      if (++index[d] < x.shape()[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

void check_same(const Tensor& got, const Tensor& expected, const std::string& name) {
  INFO("tensor ", name);
  CHECK(got.dtype() == expected.dtype());
  CHECK(got.shape() == expected.shape());
  CHECK(got.is_contiguous());
  CHECK(strided_bytes(got) == strided_bytes(expected));
}

Tensor random_tensor(DType dtype, const Shape& shape, Generator& gen) {
  switch (dtype) {
    case DType::float32:
    case DType::float64: return randn(shape, {.dtype = dtype}, &gen);
    case DType::int64: return randint(-(1LL << 50), 1LL << 50, shape, {.dtype = DType::int64}, &gen);
    case DType::uint8: return randint(0, 256, shape, {.dtype = DType::uint8}, &gen);
  }
  return {};
}

// The load of `bytes` must throw a px::ValueError naming the file and containing `problem`.
void check_rejected(const TempDir& dir, const std::string& bytes, const std::string& problem) {
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  INFO("expected problem: ", problem);
  try {
    nn::load_safetensors(path);
    FAIL("no error thrown");
  } catch (const ValueError& e) {
    const std::string message = e.what();
    INFO("message: ", message);
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find(problem) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-d and empty tensors, metadata, order") {
  Generator gen(7);
  TempDir dir;
  const std::vector<Shape> shapes = {{}, {0}, {1}, {5}, {3, 0, 2}, {2, 3}, {4, 1, 3, 2}};
  nn::StateDict tensors;
  for (DType dtype : {DType::uint8, DType::float64, DType::int64, DType::float32})
    for (const Shape& shape : shapes)
      tensors.emplace_back(std::string(dtype_name(dtype)) + "/" + shape_str(shape), random_tensor(dtype, shape, gen));
  const std::map<std::string, std::string> metadata = {{"epoch", "12"}, {"note", "quote \" and ünicode"}};
  nn::save_safetensors(dir.file("a.safetensors"), tensors, metadata);

  const auto loaded = nn::load_safetensors(dir.file("a.safetensors"));
  CHECK(loaded.metadata == metadata);
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    CHECK(loaded.tensors[i].first == tensors[i].first);  // insertion order survives
    check_same(loaded.tensors[i].second, tensors[i].second, tensors[i].first);
  }
  CHECK(dir.entries() == std::vector<std::string>{"a.safetensors"});
}

TEST_CASE("safetensors: non-contiguous inputs are saved in row-major order") {
  Generator gen(3);
  TempDir dir;
  const Tensor base = randn({4, 6}, {.dtype = DType::float64}, &gen);
  const Tensor ints = randint(0, 1000, {3, 5}, {.dtype = DType::int64}, &gen);
  nn::StateDict tensors = {
      {"transposed", ops::transpose(base, 0, 1)},
      {"strided", ops::slice(base, 1, 1, 6, 2)},
      {"broadcast", ops::expand(ops::unsqueeze(ints.to(DType::uint8), 0), {2, 3, 5})},
      {"permuted", ops::permute(ints, {1, 0})},
  };
  for (const auto& [name, tensor] : tensors) REQUIRE_FALSE(tensor.is_contiguous());
  nn::save_safetensors(dir.file("v.safetensors"), tensors);
  const auto loaded = nn::load_safetensors(dir.file("v.safetensors"));
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i)
    check_same(loaded.tensors[i].second, tensors[i].second, tensors[i].first);
}

TEST_CASE("safetensors: byte layout of a small file matches the specification") {
  TempDir dir;
  nn::save_safetensors(dir.file("s.safetensors"),
                       {{"w", tensor({1.5f, -2.0f})},
                        {"b", from_vector<std::uint8_t>({1, 2, 3}, {3})},
                        {"s", scalar_tensor(1.0, {.dtype = DType::float64})}},
                       {{"k", "v"}});
  std::string header =
      R"({"__metadata__":{"k":"v"},)"
      R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},)"
      R"("s":{"dtype":"F64","shape":[],"data_offsets":[11,19]}})";
  while ((8 + header.size()) % 8 != 0) header += ' ';
  const std::string data = std::string("\x00\x00\xc0\x3f", 4)     // 1.5f  = 0x3fc00000
                           + std::string("\x00\x00\x00\xc0", 4)   // -2.0f = 0xc0000000
                           + std::string("\x01\x02\x03", 3)       // uint8 1 2 3
                           + std::string("\x00\x00\x00\x00\x00\x00\xf0\x3f", 8);  // 1.0 = 0x3ff0...
  CHECK(read_bytes(dir.file("s.safetensors")) == u64_le(header.size()) + header + data);
}

TEST_CASE("safetensors: corrupt files are rejected with a message naming the file and the problem") {
  TempDir dir;
  const std::string good_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, '\x01');
  check_rejected(dir, "", "truncated");
  check_rejected(dir, std::string("\x05\x00\x00", 3), "truncated");
  check_rejected(dir, u64_le(100) + "{}", "beyond the file");
  check_rejected(dir, u64_le(~0ULL) + "{}", "beyond the file");
  check_rejected(dir, raw_file("{\"a\":", ""), "not valid JSON");
  check_rejected(dir, raw_file("[1,2]", ""), "must be a JSON object");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "1234"),
                 "unsupported dtype 'BF16'");
  check_rejected(dir, raw_file(R"({"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", eight), "dtype must be a string");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2]}})", eight), "missing \"data_offsets\"");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), "non-negative");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight), "out of range");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight), "end before begin");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight), "span 8");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
                 "more bytes than the file holds");
  check_rejected(dir, raw_file("{" + good_entry + R"(,"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", eight),
                 "overlap");
  check_rejected(dir, raw_file("{" + good_entry + "}", eight + "xx"), "cover only 8");
  check_rejected(dir, raw_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", eight), "belong to no tensor");
  check_rejected(dir, raw_file("{" + good_entry + "," + good_entry + "}", eight), "duplicate tensor name 'a'");
  check_rejected(dir, raw_file(R"({"__metadata__":{"k":3}})", ""), "must be a string");
  check_rejected(dir, raw_file(R"({"__metadata__":[1]})", ""), "\"__metadata__\" must be an object");
  check_rejected(dir, raw_file("{" + good_entry + "}", "1234"), "out of range");  // data cut short

  CHECK_THROWS_AS(nn::load_safetensors(dir.file("missing.safetensors")), Error);
  CHECK_THROWS_AS(nn::load_safetensors(dir.path().string()), ValueError);  // a folder
}

TEST_CASE("safetensors: every truncation and random header damage gives a px::Error, never a crash") {
  TempDir dir;
  Generator gen(11);
  nn::save_safetensors(dir.file("g.safetensors"),
                       {{"x", randn({3, 4}, {}, &gen)}, {"i", randint(0, 9, {5}, {}, &gen)}}, {{"m", "1"}});
  const std::string good = read_bytes(dir.file("g.safetensors"));
  const std::string path = dir.file("t.safetensors");
  for (std::size_t size = 0; size < good.size(); ++size) {
    write_bytes(path, good.substr(0, size));
    CHECK_THROWS_AS(nn::load_safetensors(path), Error);
  }
  std::mt19937 rng(5);
  const std::uint64_t header_end = 8 + std::uint64_t(static_cast<unsigned char>(good[0])) +
                                   256 * std::uint64_t(static_cast<unsigned char>(good[1]));
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = good;
    damaged[8 + rng() % (header_end - 8)] = static_cast<char>(rng() % 256);
    write_bytes(path, damaged);
    try {
      nn::load_safetensors(path);  // a harmless change (e.g. inside a metadata value) may load
    } catch (const Error&) {
    }
  }
}

TEST_CASE("safetensors: writes are atomic and leave no temporary file") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  nn::save_safetensors(path, {{"a", ones({3})}});
  nn::save_safetensors(path, {{"a", full({2}, 4.0)}});  // replaces
  CHECK(nn::load_safetensors(path).tensors.at(0).second.to_vector<float>() == std::vector<float>{4, 4});
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});

  // Writing into a folder that does not exist: throws, creates nothing.
  const std::string nowhere = dir.file("no/such/folder/x.safetensors");
  CHECK_THROWS_AS(nn::save_safetensors(nowhere, {{"a", ones({3})}}), Error);
  CHECK_FALSE(fs::exists(dir.path() / "no"));
  // The target is a folder: the rename fails, the temporary file is removed.
  fs::create_directory(dir.path() / "taken");
  CHECK_THROWS_AS(nn::save_safetensors(dir.file("taken"), {{"a", ones({3})}}), Error);
  CHECK(fs::is_directory(dir.path() / "taken"));
  // Bad arguments: the existing checkpoint is left untouched.
  const std::string before = read_bytes(path);
  CHECK_THROWS_AS(nn::save_safetensors(path, {{"a", Tensor()}}), ValueError);
  CHECK_THROWS_AS(nn::save_safetensors(path, {{"a", ones({1})}, {"a", ones({1})}}), ValueError);
  CHECK_THROWS_AS(nn::save_safetensors(path, {{"__metadata__", ones({1})}}), ValueError);
  CHECK_THROWS_AS(nn::save_safetensors(path, {{"", ones({1})}}), ValueError);
  CHECK(read_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors", "taken"});
}

namespace {
// The golden pattern of tests/golden/safetensors_interop.py, recomputed from its formulas.
nn::StateDict golden_pattern() {
  std::vector<float> matrix(6);
  for (int i = 0; i < 6; ++i) matrix[i] = static_cast<float>(i * 0.1 - 0.3);
  std::vector<double> cube(8);
  for (int i = 0; i < 8; ++i) cube[i] = i / 3.0 - 1.0;
  std::vector<std::int64_t> vec(5);
  for (int i = 0; i < 5; ++i) vec[i] = (i - 2) * 1099511627777LL;
  std::vector<std::uint8_t> image(12);
  for (int i = 0; i < 12; ++i) image[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  // In the data order of the reference writer: alignment (F64/I64, F32, U8), then name.
  return {{"f64.cube", from_vector(cube, {2, 2, 2})},
          {"f64.empty", zeros({0, 4}, {.dtype = DType::float64})},
          {"i64.vec", from_vector(vec, {5})},
          {"f32.matrix", from_vector(matrix, {2, 3})},
          {"f32.scalar", scalar_tensor(-1.25)},
          {"u8.image", from_vector(image, {3, 4})},
          {"u8.scalar", scalar_tensor(255, {.dtype = DType::uint8})}};
}
const std::map<std::string, std::string> kGoldenMetadata = {
    {"format", "pt"}, {"source", "tests/golden/safetensors_interop.py"}};
}  // namespace

TEST_CASE("safetensors: the file written by Python loads with the expected values") {
  const auto loaded = nn::load_safetensors(std::string(PX_TEST_DATA_DIR) + "/golden/python_written.safetensors");
  const nn::StateDict expected = golden_pattern();
  CHECK(loaded.metadata == kGoldenMetadata);
  REQUIRE(loaded.tensors.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(loaded.tensors[i].first == expected[i].first);
    check_same(loaded.tensors[i].second, expected[i].second, expected[i].first);
  }
}

// PX_SAFETENSORS_EXPORT=FILE writes the pattern there for `safetensors_interop.py --verify FILE`.
TEST_CASE("safetensors: proxima writes the golden pattern (checked in Python via PX_SAFETENSORS_EXPORT)") {
  TempDir dir;
  const char* exported = std::getenv("PX_SAFETENSORS_EXPORT");
  const std::string path = exported ? std::string(exported) : dir.file("proxima_written.safetensors");
  nn::save_safetensors(path, golden_pattern(), kGoldenMetadata);
  const auto loaded = nn::load_safetensors(path);
  const nn::StateDict expected = golden_pattern();
  REQUIRE(loaded.tensors.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) check_same(loaded.tensors[i].second, expected[i].second, expected[i].first);
}
