# Installs proxima::proxima with an exported config so find_package(proxima CONFIG) works.
include(CMakePackageConfigHelpers)

install(TARGETS proxima EXPORT proximaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers: the top of each layer folder (subfolders such as core/cpu are private).
foreach(layer core autograd nn optim data)
  file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/${layer}/*.h)
  if(headers)
    install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/${layer})
  endif()
endforeach()
install(FILES cmake/proxima.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima)
install(DIRECTORY nn/models/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/nn/models
        FILES_MATCHING PATTERN "*.h")
install(DIRECTORY optim/prox/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/optim/prox
        FILES_MATCHING PATTERN "*.h")
# cuda/cuda.h: the CUDA switches and pinned memory, no CUDA headers inside; stubs without CUDA.
install(FILES cuda/cuda.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/cuda)

set(PX_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/proxima)
install(EXPORT proximaTargets NAMESPACE proxima:: DESTINATION ${PX_CONFIG_DIR})
configure_package_config_file(cmake/proximaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/proximaConfig.cmake INSTALL_DESTINATION ${PX_CONFIG_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/proximaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/proximaConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/proximaConfigVersion.cmake DESTINATION ${PX_CONFIG_DIR})
