# Each agent concern folder, and report/, is an OBJECT library (inprof_<name>),
# so that its tests can link just that piece, and inprof_agent embeds them all.
# Object libraries are never installed on their own.
#
# inprof_add_component(<name> [DEPS targets...])
function(inprof_add_component name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  add_library(inprof_${name} OBJECT)
  add_library(inprof::${name} ALIAS inprof_${name})
  target_include_directories(inprof_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
  target_compile_features(inprof_${name} PUBLIC cxx_std_20)
  target_link_libraries(inprof_${name} PUBLIC ${ARG_DEPS} Threads::Threads)
  set_target_properties(inprof_${name} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(BUILD_SHARED_LIBS)
    target_compile_definitions(inprof_${name} PUBLIC INPROF_SHARED_LIBRARY)
  endif()
  inprof_target_warnings(inprof_${name})
endfunction()
