# Consumer test: proxima used from an outside project, through an install + find_package
# and through add_subdirectory. Run by CTest as `cmake -P` with:
#   PX_SOURCE_DIR  proxima's source tree      PX_BINARY_DIR  its (built) build tree
#   PX_WORK_DIR    scratch folder (recreated) PX_GENERATOR   CMake generator to use
foreach(var PX_SOURCE_DIR PX_BINARY_DIR PX_WORK_DIR PX_GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix ${PX_WORK_DIR}/prefix)
set(project_dir ${PX_SOURCE_DIR}/tests/consumer/project)

# px_step(name COMMAND ...): runs one step; on failure stops with the step's output.
function(px_step name)
  cmake_parse_arguments(arg "" "" "COMMAND" ${ARGN})
  message(STATUS "consumer: ${name}")
  execute_process(COMMAND ${arg_COMMAND} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " command "${arg_COMMAND}")
    message(FATAL_ERROR "consumer step '${name}' failed (exit ${result}):\n  ${command}\n${out}")
  endif()
  set(px_step_output "${out}" PARENT_SCOPE)
endfunction()

# px_check_no_march(file what): architecture flags must never reach a consumer.
function(px_check_no_march text what)
  if(text MATCHES "-march=|-mtune=|-mavx")
    message(FATAL_ERROR "consumer: ${what} contains an architecture flag (${CMAKE_MATCH_0}); "
                        "-march=native must stay private to proxima's own targets")
  endif()
endfunction()

# px_app_compile_command(build_dir out_var): the compile command of the consumer's main.cpp.
function(px_app_compile_command build_dir out_var)
  file(READ ${build_dir}/compile_commands.json json)
  string(JSON count LENGTH "${json}")
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON file GET "${json}" ${i} file)
    if(file MATCHES "tests/consumer/project/main\\.cpp$")
      string(JSON command GET "${json}" ${i} command)
      set(${out_var} "${command}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "consumer: main.cpp not found in ${build_dir}/compile_commands.json")
endfunction()

file(REMOVE_RECURSE ${PX_WORK_DIR})
file(MAKE_DIRECTORY ${PX_WORK_DIR})

# ---- 1. install + find_package(proxima CONFIG REQUIRED) ----
px_step("install to ${prefix}" COMMAND ${CMAKE_COMMAND} --install ${PX_BINARY_DIR} --prefix ${prefix})
file(GLOB_RECURSE installed_headers ${prefix}/include/*.h)
foreach(header ${installed_headers})  # internal headers stay out of the package
  file(STRINGS ${header} first LIMIT_COUNT 1)
  if(first MATCHES "^// Internal")
    message(FATAL_ERROR "consumer: ${header} is an internal header but was installed")
  endif()
endforeach()
file(GLOB target_files ${prefix}/lib*/cmake/proxima/proximaTargets*.cmake)
if(NOT target_files)
  message(FATAL_ERROR "consumer: no proximaTargets*.cmake under ${prefix}/lib*/cmake/proxima")
endif()
foreach(file ${target_files})
  file(READ ${file} text)
  px_check_no_march("${text}" ${file})
  if(text MATCHES "/[^;\" ]*libcudnn[^;\" ]*")  # found again by proximaConfig.cmake (proxima::cudnn)
    message(FATAL_ERROR "consumer: ${file} hard-codes the build machine's cuDNN (${CMAKE_MATCH_0})")
  endif()
endforeach()

set(build ${PX_WORK_DIR}/find_package)
px_step("configure (find_package)" COMMAND ${CMAKE_COMMAND} -S ${project_dir} -B ${build}
        -G ${PX_GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
px_step("build (find_package)" COMMAND ${CMAKE_COMMAND} --build ${build})
px_app_compile_command(${build} command)
px_check_no_march("${command}" "the consumer's compile command")
px_step("run (find_package)" COMMAND ${build}/app)
message(STATUS "${px_step_output}")

# ---- 2. add_subdirectory(proxima) without its tests, apps and benchmarks ----
# CUDA stays off here: the find_package build above already covers a CUDA-enabled install,
# and compiling the CUDA layer a second time would double the test's time.
set(build ${PX_WORK_DIR}/add_subdirectory)
px_step("configure (add_subdirectory)" COMMAND ${CMAKE_COMMAND}
        -S ${PX_SOURCE_DIR}/tests/consumer/subdirectory -B ${build} -G ${PX_GENERATOR}
        -DCMAKE_BUILD_TYPE=Release -DPX_SOURCE_DIR=${PX_SOURCE_DIR} -DPX_CUDA=OFF
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
px_step("build (add_subdirectory)" COMMAND ${CMAKE_COMMAND} --build ${build} --target app)
px_app_compile_command(${build} command)
px_check_no_march("${command}" "the add_subdirectory consumer's compile command")
if(EXISTS ${build}/proxima/tests OR EXISTS ${build}/proxima/apps OR EXISTS ${build}/proxima/bench)
  message(FATAL_ERROR "consumer: add_subdirectory built proxima's tests/apps/bench; "
                      "they must default to OFF when proxima is not the top-level project")
endif()
# Vendored, proxima compiles for any CPU (PX_NATIVE defaults to OFF) and adds no install rules.
file(READ ${build}/compile_commands.json all_commands)
if(all_commands MATCHES "-march=native")
  message(FATAL_ERROR "consumer: a vendored proxima compiled with -march=native; PX_NATIVE must default to OFF there")
endif()
file(READ ${build}/proxima/cmake_install.cmake install_rules)
if(install_rules MATCHES "proximaTargets|include/proxima")
  message(FATAL_ERROR "consumer: a vendored proxima added install rules; PX_INSTALL must default to OFF there")
endif()
# Vendored, the consumer sees exactly the installed headers, through a system include directory
# (so a -Werror consumer is not failed by a warning in proxima's headers, as with the install).
set(public_dir ${build}/proxima/include-public)
if(NOT command MATCHES "-isystem ${public_dir}")
  message(FATAL_ERROR "consumer: the add_subdirectory consumer does not get ${public_dir} as -isystem:\n${command}")
endif()
if(command MATCHES "-I[^ ]*proxima/include( |$)")
  message(FATAL_ERROR "consumer: the add_subdirectory consumer reaches proxima's private include tree:\n${command}")
endif()
file(GLOB_RECURSE vendored_headers RELATIVE ${public_dir} ${public_dir}/*.h)
set(installed_relative "")
foreach(header ${installed_headers})
  file(RELATIVE_PATH relative ${prefix}/include ${header})
  list(APPEND installed_relative ${relative})
endforeach()
list(SORT vendored_headers)
list(SORT installed_relative)
if(NOT vendored_headers STREQUAL installed_relative)
  message(FATAL_ERROR "consumer: the vendored include tree differs from the install's.\n"
                      "vendored: ${vendored_headers}\ninstalled: ${installed_relative}")
endif()
list(LENGTH vendored_headers header_count)
message(STATUS "consumer: vendored and installed include trees hold the same ${header_count} headers")
px_step("run (add_subdirectory)" COMMAND ${build}/app)
message(STATUS "${px_step_output}")
message(STATUS "consumer: all steps passed")
