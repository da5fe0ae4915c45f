/* Addresses: "[scheme://]host:port" into struct sim_addr.
 *
 * Strict on purpose: an address comes from a user or a scenario file, and a typo should stop
 * the run with a usage error rather than connect somewhere unexpected. Host names are not
 * resolved here (tcp connects to IPv4 literals, mem to any name); the port may be 0 because a
 * listener asks for "any free port" that way. */
#include <assert.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "sim/core/err.h"
#include "sim/transport/transport.h"

static const char *const addr_schemes[] = {"hubrpc", "hubrpcs", "tcp", "mem"};

static bool addr_scheme_known(const char *s, size_t n) {
  for (size_t i = 0; i < sizeof addr_schemes / sizeof addr_schemes[0]; i++)
    if (strlen(addr_schemes[i]) == n && strncasecmp(s, addr_schemes[i], n) == 0)
      return true;
  return false;
}

static bool addr_host_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '-' || ch == '_';
}

int sim_addr_parse(const char *url, struct sim_addr *addr) {
  assert(url && addr);
  const char *p = url;
  const char *sep = strstr(p, "://");
  if (sep) {
    if (!addr_scheme_known(p, (size_t)(sep - p)))
      return SIM_EINVAL;
    p = sep + 3;
  }
  size_t len = strlen(p);
  if (len > 0 && p[len - 1] == '/') /* "hubrpc://h:1/" as pasted from a browser bar */
    len--;
  const char *colon = memrchr(p, ':', len);
  if (!colon)
    return SIM_EINVAL;
  size_t hlen = (size_t)(colon - p);
  if (hlen == 0 || hlen >= sizeof addr->host)
    return SIM_EINVAL;
  for (size_t i = 0; i < hlen; i++)
    if (!addr_host_char(p[i]))
      return SIM_EINVAL;
  const char *d = colon + 1;
  size_t dlen = len - hlen - 1;
  if (dlen == 0 || dlen > 5)
    return SIM_EINVAL;
  unsigned long port = 0;
  for (size_t i = 0; i < dlen; i++) {
    if (d[i] < '0' || d[i] > '9')
      return SIM_EINVAL;
    port = port * 10 + (unsigned long)(d[i] - '0');
  }
  if (port > 65535)
    return SIM_EINVAL;
  memcpy(addr->host, p, hlen);
  addr->host[hlen] = '\0';
  addr->port = (uint16_t)port;
  return 0;
}

int sim_addr_is_tls(const char *url) {
  assert(url);
  return strncasecmp(url, "hubrpcs://", 10) == 0;
}
