# ASan + UBSan for the whole build, on request. UBSan stops at the first error so that a
# test run fails instead of printing a warning nobody reads.
if(HUBSIM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer build (clang): everything is instrumented for coverage; only the fuzz targets link
# the fuzzer's main.
if(HUBSIM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "HUBSIM_FUZZ needs clang: CC=clang cmake ...")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
