# Install rules and the CMake package for find_package(inprof CONFIG).
#
# Installs libinprof (static by default), the public headers of include/inprof,
# and lib/cmake/inprof/{inprofConfig,inprofConfigVersion,inprofTargets}.cmake,
# so that a consumer writes
#
#   find_package(inprof CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE inprof::agent)
#
# Only inprof_agent (and the malloc shim, contention interposer and preload
# library) are installed: the per-concern OBJECT libraries are built into the
# agent and never exported on their own.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(INPROF_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/inprof"
    CACHE STRING "Where inprofConfig.cmake is installed, relative to the prefix")

install(TARGETS inprof_agent
  EXPORT inprofTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# inprof::malloc_shim, for programs that linked it: inprof::agent with the
# shared libtcmalloc (the malloc front is part of the agent now).
if(TARGET inprof_malloc_shim)
  install(TARGETS inprof_malloc_shim EXPORT inprofTargets)
endif()

# The pthread interposer: an object file to link in, and the same code as
# libinprof_contention.so for LD_PRELOAD.
install(TARGETS inprof_contention_interposer
  EXPORT inprofTargets
  OBJECTS DESTINATION ${CMAKE_INSTALL_LIBDIR}/inprof)
install(TARGETS inprof_contention_preload
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# libinprof_preload.so: the agent for LD_PRELOAD into a program that does not
# link inprof (imported as inprof::preload, for $<TARGET_FILE:...>).
install(TARGETS inprof_preload
  EXPORT inprofTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

if(TARGET inprof_view)
  install(TARGETS inprof_view RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/inprof
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

install(EXPORT inprofTargets
  NAMESPACE inprof::
  FILE inprofTargets.cmake
  DESTINATION ${INPROF_INSTALL_CMAKEDIR})

# A static libinprof.a carries no record of what it links against, so the
# installed config must find the same dependencies again; a shared
# libinprof.so already names them in its DT_NEEDED entries.
get_target_property(_inprof_agent_type inprof_agent TYPE)
if(_inprof_agent_type STREQUAL "STATIC_LIBRARY")
  set(INPROF_CONFIG_STATIC ON)
else()
  set(INPROF_CONFIG_STATIC OFF)
endif()
unset(_inprof_agent_type)

configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/inprofConfig.cmake.in
  ${PROJECT_BINARY_DIR}/inprofConfig.cmake
  INSTALL_DESTINATION ${INPROF_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/inprofConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/inprofConfig.cmake
  ${PROJECT_BINARY_DIR}/inprofConfigVersion.cmake
  DESTINATION ${INPROF_INSTALL_CMAKEDIR})
