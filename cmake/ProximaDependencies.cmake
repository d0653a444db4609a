# Third-party packages proxima builds against: all from Debian 12 packages, none downloaded.
include(GNUInstallDirs)
find_package(Eigen3 3.4 REQUIRED NO_MODULE)   # libeigen3-dev
find_package(OpenMP REQUIRED COMPONENTS CXX)   # g++'s libgomp
