#!/usr/bin/env bash
# deploy/k8s/ checked offline, without a cluster:
#   1. every manifest validates against the Kubernetes API schemas of the npm package
#      kubernetes-models (pinned in package.json and package-lock.json beside this file,
#      installed with `npm ci` into BUILD/k8s-validate, never globally);
#   2. the validator can fail: a mutated Job and ConfigMap (a count as text, a memory quantity
#      that is none, a value that is not a string) must be refused;
#   3. the recipe agrees with itself (check_recipe.py), and a mutated copy (completions other
#      than the shard count) is refused;
#   4. the Jobs' own commands, run here with this build's hubsim against a reference platform
#      on loopback (two shards, then the merge), pass.
#
# usage: test_k8s.sh SOURCE_DIR BUILD_DIR     ($HUBSIM_BIN: the hubsim to run)
set -euo pipefail

SRC=$1
BUILD=$2
HERE="$SRC/tests/integration/k8s"
K8S="$SRC/deploy/k8s"
NODE_DIR="$BUILD/k8s-validate"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-k8s-XXXXXX")
PLAT_PID=
cleanup() {
  if [ -n "$PLAT_PID" ]; then kill "$PLAT_PID" 2>/dev/null || true; wait "$PLAT_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node not found: scripts/deps.sh installs nodejs and npm"
command -v npm >/dev/null || fail "npm not found: scripts/deps.sh installs it"
python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml not found: scripts/deps.sh installs it"

# ---- 1. the pinned validator, installed under the build tree ----
if ! cmp -s "$HERE/package-lock.json" "$NODE_DIR/package-lock.json" ||
   [ ! -f "$NODE_DIR/node_modules/kubernetes-models/package.json" ]; then
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
  if ! (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts) >"$TMP/npm.log" 2>&1; then
    cat "$TMP/npm.log" >&2
    rm -f "$NODE_DIR/package-lock.json" # installed again next time
    fail "npm ci of kubernetes-models into $NODE_DIR failed"
  fi
fi
installed=$(node -p "require('$NODE_DIR/node_modules/kubernetes-models/package.json').version")
pinned=$(node -p "require('$HERE/package.json').dependencies['kubernetes-models']")
[ "$installed" = "$pinned" ] || fail "kubernetes-models $installed installed, $pinned pinned"

# Each manifest's YAML documents as a JSON array, for the validator.
to_json() {
  python3 - "$1" "$2" <<'EOF'
import json, sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(docs, f)
EOF
}

jsons=()
for f in "$K8S"/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] && continue # not an API object: step 3 checks it
  to_json "$f" "$TMP/$(basename "$f" .yaml).json"
  jsons+=("$TMP/$(basename "$f" .yaml).json")
done
[ "${#jsons[@]}" -ge 4 ] || fail "expected at least 4 manifests in $K8S, found ${#jsons[@]}"
echo "== kubernetes-models $installed: every manifest of deploy/k8s"
node "$HERE/validate.js" "$NODE_DIR/node_modules" "${jsons[@]}" || fail "a manifest does not validate"

# The kustomization as kubectl renders it (when this machine has kubectl: it is not a Debian
# package, so the test does not need it; check_recipe.py checks the kustomization either way).
if command -v kubectl >/dev/null; then
  echo "== kubectl kustomize deploy/k8s"
  timeout 60 kubectl kustomize "$K8S" >"$TMP/rendered.yaml" || fail "kubectl kustomize $K8S failed"
  to_json "$TMP/rendered.yaml" "$TMP/rendered.json"
  node "$HERE/validate.js" "$NODE_DIR/node_modules" "$TMP/rendered.json" ||
    fail "the rendered kustomization does not validate"
else
  echo "== kubectl not found: the kustomization is not rendered (check_recipe.py checks it)"
fi

# ---- 2. the validator refuses mutated manifests ----
python3 - "$K8S" "$TMP/mutated.json" <<'EOF'
import json, sys, yaml
k8s, out = sys.argv[1], sys.argv[2]
job = next(yaml.safe_load_all(open(f"{k8s}/job-shards.yaml", encoding="utf-8")))
cm = next(yaml.safe_load_all(open(f"{k8s}/configmap.yaml", encoding="utf-8")))
a = json.loads(json.dumps(job)); a["spec"]["completions"] = "four"
b = json.loads(json.dumps(job)); b["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "lots"
c = json.loads(json.dumps(cm)); c["data"]["HUBSIM_SHARDS"] = 4
json.dump([a, b, c], open(out, "w", encoding="utf-8"))
EOF
echo "== mutated manifests (each must FAIL)"
set +e
node "$HERE/validate.js" "$NODE_DIR/node_modules" "$TMP/mutated.json" >"$TMP/mutated.out" 2>&1
rc=$?
set -e
cat "$TMP/mutated.out"
[ "$rc" = 1 ] || fail "the validator exited $rc on mutated manifests, want 1"
[ "$(grep -c '^FAIL' "$TMP/mutated.out")" = 3 ] || fail "the validator did not refuse all three mutations"

# ---- 3. the recipe agrees with itself ----
echo "== the recipe"
python3 "$HERE/check_recipe.py" "$K8S" "$SRC/app/version.h" || fail "deploy/k8s is not consistent"
cp -r "$K8S" "$TMP/k8s-mutated"
sed -i 's/^  completions: 4$/  completions: 5/' "$TMP/k8s-mutated/job-shards.yaml"
if python3 "$HERE/check_recipe.py" "$TMP/k8s-mutated" "$SRC/app/version.h"; then
  fail "check_recipe.py accepted completions 5 against HUBSIM_SHARDS 4"
fi

# ---- 4. the Jobs' commands, run here ----
echo "== the Jobs' commands with this build's hubsim"
mkdir -p "$TMP/bin" "$TMP/summaries"
ln -s "$HUBSIM_BIN" "$TMP/bin/hubsim"
"$HUBSIM_BIN" platform --listen hubrpc://127.0.0.1:0 --db "$TMP/p.db" --ready-file "$TMP/ready" \
  2>"$TMP/platform.log" &
PLAT_PID=$!
# The platform writes its port once it listens (bounded: 10 s).
timeout 10 bash -c "until [ -s '$TMP/ready' ]; do sleep 0.05; done" || fail "the platform did not start"
port=$(cat "$TMP/ready")
script_of() { # the container's shell script of a Job manifest
  python3 -c 'import sys, yaml; d = next(yaml.safe_load_all(open(sys.argv[1]))); print(d["spec"]["template"]["spec"]["containers"][0]["args"][0])' "$1"
}
# The ConfigMap's values as shell assignments, then a small fleet on this machine's platform.
python3 -c 'import sys, yaml, shlex; d = next(yaml.safe_load_all(open(sys.argv[1]))); print("\n".join(f"{k}={shlex.quote(v)}" for k, v in d["data"].items()))' \
  "$K8S/configmap.yaml" >"$TMP/cm.env"
run_job() { # SCRIPT [VAR=VALUE...]: the container's command, in the pod's environment
  local script=$1
  shift
  (
    set -a
    . "$TMP/cm.env"
    HUBSIM_PLATFORM="hubrpc://127.0.0.1:$port" HUBSIM_HUBS=6 HUBSIM_SHARDS=2
    HUBSIM_DEVICES_PER_HUB=2 HUBSIM_DURATION=1s HUBSIM_RAMP=0 HUBSIM_SUMMARIES="$TMP/summaries"
    PATH="$TMP/bin:$PATH"
    for kv in "$@"; do export "${kv?}"; done
    exec sh -c "$script"
  )
}
shard_script=$(script_of "$K8S/job-shards.yaml")
pids=()
for i in 0 1; do
  run_job "$shard_script" JOB_COMPLETION_INDEX=$i >"$TMP/shard$i.out" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  wait "${pids[$i]}" || { cat "$TMP/shard$i.out" >&2; fail "shard $i's command failed"; }
done
merge_script=$(script_of "$K8S/job-merge.yaml")
set +e
run_job "$merge_script" >"$TMP/merge.out" 2>&1
rc=$?
set -e
cat "$TMP/merge.out"
[ "$rc" = 0 ] || fail "the merge Job's command exited $rc"
run_dir="$TMP/summaries/$(python3 -c 'import sys, yaml; print(next(yaml.safe_load_all(open(sys.argv[1])))["data"]["HUBSIM_RUN_ID"])' "$K8S/configmap.yaml")"
python3 - "$run_dir/merged.json" <<'EOF' || fail "the merged summary is not the whole fleet's"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fleet"]["hubs"] == 6 and d["shard"]["count"] == 2 and d["shard"]["merged"], d["shard"]
assert d["verdict"]["exit_code"] == 0, d["verdict"]
EOF
[ -s "$run_dir/merged.junit.xml" ] || fail "no merged JUnit file"
echo "PASS: deploy/k8s validates, the validator refuses mutations, the Jobs' commands pass"
