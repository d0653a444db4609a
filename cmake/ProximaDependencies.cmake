# Third-party packages proxima builds against: all from Debian 12 packages, none downloaded.
include(GNUInstallDirs)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)   # libeigen3-dev
find_package(OpenMP REQUIRED COMPONENTS CXX)   # g++'s libgomp
find_package(ZLIB REQUIRED)                    # zlib1g-dev: gzip-compressed IDX files
find_package(nlohmann_json 3 REQUIRED)         # nlohmann-json3-dev: safetensors headers, run.json
find_path(PX_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)   # libstb-dev
