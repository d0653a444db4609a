# Installs proxima::proxima with an exported config so find_package(proxima CONFIG) works.
include(CMakePackageConfigHelpers)

install(TARGETS proxima EXPORT proximaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers: the top of each layer folder, nn/models and optim/prox (other subfolders such as
# core/cpu are private), minus the headers whose first line says "// Internal": those are included
# by proxima's own sources only, never by a public header.
foreach(dir core autograd nn optim data nn/models optim/prox)
  file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.h)
  set(public "")
  foreach(header ${headers})
    file(STRINGS ${header} first LIMIT_COUNT 1)
    if(NOT first MATCHES "^// Internal")
      list(APPEND public ${header})
    endif()
  endforeach()
  if(public)
    install(FILES ${public} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/${dir})
  endif()
endforeach()
install(FILES cmake/proxima.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima)
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
