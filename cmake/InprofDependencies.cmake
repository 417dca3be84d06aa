# Finds inprof's dependencies as Debian installs them. Each failure names the
# apt package to install, so a fresh machine gets a one-line fix.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "inprof: pkg-config not found: apt-get install pkg-config")
endif()

# inprof_require_pkg(<PREFIX> <pkg-config module> <apt package>)
# Defines the imported target PkgConfig::<PREFIX>.
function(inprof_require_pkg prefix module apt_package)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "inprof: ${module} not found (pkg-config module "
                        "'${module}'): apt-get install ${apt_package}")
  endif()
endfunction()

inprof_require_pkg(LIBUNWIND_GENERIC libunwind-generic libunwind-dev)
inprof_require_pkg(LIBDW libdw libdw-dev)
inprof_require_pkg(HTTPLIB cpp-httplib libcpp-httplib-dev)

find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "inprof: zlib not found: apt-get install zlib1g-dev")
endif()
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
