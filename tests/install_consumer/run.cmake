# ctest install_consumer: installs the built imgcls into WORK_DIR/prefix, then configures,
# builds and runs tests/install_consumer against it with find_package(imgcls). Fails on the
# first step that fails. Each step is bounded (step_seconds; CTest bounds the whole), and
# one that runs out of time fails, saying so.
#   cmake -DIMGCLS_BUILD_DIR=... -DCONSUMER_SOURCE_DIR=... -DWORK_DIR=... -DMODEL=...
#         -DPICTURE=... [-DC_COMPILER=... -DCXX_COMPILER=... -DCOMPILER_LAUNCHER=...] -P run.cmake
set(step_seconds 200)
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result TIMEOUT ${step_seconds})
  if(NOT result EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "install_consumer: failed (${result}): ${command}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
step(${CMAKE_COMMAND} --install ${IMGCLS_BUILD_DIR} --prefix ${prefix})
foreach(file include/imgcls/imgcls.h include/imgcls/model.hpp lib/cmake/imgcls/imgcls-config.cmake
             lib/cmake/imgcls/imgcls-config-version.cmake)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "install_consumer: ${prefix}/${file} was not installed")
  endif()
endforeach()

set(configure_args -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
if(C_COMPILER)
  list(APPEND configure_args -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(COMPILER_LAUNCHER)
  list(APPEND configure_args -DCMAKE_C_COMPILER_LAUNCHER=${COMPILER_LAUNCHER}
                             -DCMAKE_CXX_COMPILER_LAUNCHER=${COMPILER_LAUNCHER})
endif()
step(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build ${configure_args})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j1)
step(${WORK_DIR}/build/consumer_cpp ${MODEL} ${PICTURE} 3)
step(${WORK_DIR}/build/consumer_c ${MODEL} ${PICTURE} 3)
