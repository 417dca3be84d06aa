# inprof_target_warnings(<target>): our code compiles warning-free; -Werror
# only when INPROF_WERROR is on (CI), and never leaks to consumers.
function(inprof_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow)
  if(INPROF_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
