# Warnings for every target of the project; -Werror when HUBSIM_WERROR is on (CI).
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wno-unused-parameter -Wpointer-arith -Wvla)
if(HUBSIM_WERROR)
  add_compile_options(-Werror)
endif()
add_compile_definitions(_GNU_SOURCE)
