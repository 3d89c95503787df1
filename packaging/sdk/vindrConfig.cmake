# find_package(vindr) -> imported target vindr::vindr (libvindr.so.<major>, vindr.h, vindr.hpp).
# Relocatable: paths are relative to this file (lib/cmake/vindr/).
get_filename_component(_vindr_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
file(GLOB _vindr_library "${_vindr_prefix}/lib/libvindr.so.[0-9]*")
if(NOT TARGET vindr::vindr)
  add_library(vindr::vindr SHARED IMPORTED)
  get_filename_component(_vindr_soname "${_vindr_library}" NAME)
  set_target_properties(vindr::vindr PROPERTIES
    IMPORTED_LOCATION "${_vindr_library}"
    IMPORTED_SONAME "${_vindr_soname}"
    INTERFACE_INCLUDE_DIRECTORIES "${_vindr_prefix}/include")
endif()
unset(_vindr_library)
unset(_vindr_soname)
unset(_vindr_prefix)
set(vindr_FOUND TRUE)
