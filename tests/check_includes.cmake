# The include graph follows the link graph: every file of src/<m>/ and include/gdpo/<m>/ includes
# only headers of <m> itself and of the modules <m> links (its gdpo_* DEPS in CMakeLists.txt).
# Included by CMakeLists.txt at configure time, and run by ctest as
#   cmake -DGDPO_SOURCE_DIR=<src> -DGDPO_DEPS_FILE=<build>/gdpo_module_deps.cmake -P <this file>
cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...) in script mode
if(NOT GDPO_SOURCE_DIR)
  set(GDPO_SOURCE_DIR ${CMAKE_SOURCE_DIR})
endif()
include(${GDPO_DEPS_FILE})
set(gdpo_include_errors "")
foreach(module ${GDPO_MODULES})
  set(allowed ${module} ${GDPO_DEPS_${module}})
  file(GLOB_RECURSE files ${GDPO_SOURCE_DIR}/src/${module}/*.cpp ${GDPO_SOURCE_DIR}/src/${module}/*.hpp
       ${GDPO_SOURCE_DIR}/include/gdpo/${module}/*.hpp)
  foreach(file ${files})
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"gdpo/")
    foreach(line ${lines})
      string(REGEX REPLACE ".*\"gdpo/([a-z_]+)/.*" "\\1" used "${line}")
      if(NOT used IN_LIST allowed)
        file(RELATIVE_PATH rel ${GDPO_SOURCE_DIR} ${file})
        string(APPEND gdpo_include_errors
               "  ${rel} includes gdpo/${used}/ but module '${module}' does not link gdpo_${used}\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(gdpo_include_errors)
  message(FATAL_ERROR "module include graph does not match CMakeLists.txt's DEPS:\n"
                      "${gdpo_include_errors}")
endif()
