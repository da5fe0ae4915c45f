# Sourced by the tests here that run a Node.js host: installs a pinned npm package into the
# build tree, never globally.
#   npm_pinned PACKAGE VERSION SRC_DIR PREFIX LOG SECONDS
# SRC_DIR holds package.json and package-lock.json (the package and every dependency pinned);
# they are copied to PREFIX and installed there with npm ci, again only when the lock file
# changed. Needs node and npm, and the caller's fail function, which it calls (with the reason)
# when either is missing or the install fails within SECONDS (npm's log is then in LOG).
npm_pinned() {
  local pkg=$1 version=$2 src=$3 prefix=$4 log=$5 seconds=$6 installed
  command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs Debian's nodejs)"
  command -v npm >/dev/null || fail "npm is not installed (scripts/deps.sh installs Debian's npm)"
  installed=$(node -p "require('$prefix/node_modules/$pkg/package.json').version" 2>/dev/null || true)
  if [ "$installed" = "$version" ] && cmp -s "$src/package-lock.json" "$prefix/package-lock.json"; then
    return 0
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  cp "$src/package.json" "$src/package-lock.json" "$prefix/"
  if ! timeout "$seconds" npm ci --prefix "$prefix" --no-audit --no-fund >"$log" 2>&1; then
    tail -20 "$log" >&2
    rm -f "$prefix/package-lock.json" # not installed: the next run tries again
    fail "npm could not install $pkg@$version (is the npm registry reachable?)"
  fi
}
