# Installs proxima::proxima with an exported config so find_package(proxima CONFIG) works.
include(CMakePackageConfigHelpers)

install(TARGETS proxima EXPORT proximaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Public headers (cmake/ProximaHeaders.cmake: the same list as the vendored build's include tree).
px_public_headers(px_headers)
foreach(header ${px_headers})
  get_filename_component(subdir ${header} DIRECTORY)
  install(FILES ${PX_SOURCE_ROOT}/${header} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima/${subdir})
endforeach()
install(FILES cmake/proxima.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/proxima)

set(PX_CONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/proxima)
install(EXPORT proximaTargets NAMESPACE proxima:: DESTINATION ${PX_CONFIG_DIR})
configure_package_config_file(cmake/proximaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/proximaConfig.cmake INSTALL_DESTINATION ${PX_CONFIG_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/proximaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/proximaConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/proximaConfigVersion.cmake DESTINATION ${PX_CONFIG_DIR})
