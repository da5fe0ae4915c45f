# ASan + UBSan for the whole build, on request. UBSan stops at the first error so that a
# test run fails instead of printing a warning nobody reads.
if(HUBSIM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
