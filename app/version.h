/* hubsim's version, shown by `hubsim version` and written into summaries and JUnit files. */
#ifndef APP_VERSION_H
#define APP_VERSION_H

#define HUBSIM_VERSION "0.2.0"

#endif
