# proxima's public headers: the single list that both the install and the vendored build's
# include tree use, so that code which builds against one builds against the other.
set(PX_SOURCE_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)

# px_public_headers(out): the public headers as paths relative to the source tree ("core/tensor.h").
# Public: the top of each layer folder, nn/models and optim/prox (other subfolders such as core/cpu
# are private), minus the headers whose first line says "// Internal" (included by proxima's own
# sources only, never by a public header), plus cuda/cuda.h (the CUDA switches and pinned memory:
# no CUDA headers inside, stubs without CUDA).
function(px_public_headers out)
  set(result "")
  foreach(dir core autograd nn optim data nn/models optim/prox)
    file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${PX_SOURCE_ROOT} ${PX_SOURCE_ROOT}/${dir}/*.h)
    foreach(header ${headers})
      file(STRINGS ${PX_SOURCE_ROOT}/${header} first LIMIT_COUNT 1)
      if(NOT first MATCHES "^// Internal")
        list(APPEND result ${header})
      endif()
    endforeach()
  endforeach()
  list(APPEND result cuda/cuda.h)
  set(${out} ${result} PARENT_SCOPE)
endfunction()

# px_make_public_include_dir(dir): dir/proxima/<header> links to each public header, and
# dir/proxima/proxima.h. Rebuilt at every configure, so a header made internal or deleted leaves.
function(px_make_public_include_dir dir)
  file(REMOVE_RECURSE ${dir})
  px_public_headers(headers)
  foreach(header ${headers})
    get_filename_component(subdir ${header} DIRECTORY)
    file(MAKE_DIRECTORY ${dir}/proxima/${subdir})
    file(CREATE_LINK ${PX_SOURCE_ROOT}/${header} ${dir}/proxima/${header} SYMBOLIC)
  endforeach()
  configure_file(${PX_SOURCE_ROOT}/cmake/proxima.h ${dir}/proxima/proxima.h COPYONLY)
endfunction()
