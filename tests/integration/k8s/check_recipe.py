#!/usr/bin/env python3
"""What the Kubernetes API schemas cannot see in deploy/k8s/: the pieces of hubsim's recipe
agree with each other (tests/integration/k8s/test_k8s.sh runs this).

  check_recipe.py K8S_DIR VERSION_H

- kustomization.yaml lists every manifest of the folder but job-merge.yaml (applied after the
  shards), and each exists; its image tag is hubsim's version (app/version.h);
- the Job hubsim-shards is Indexed, runs every shard at once (completions = parallelism =
  HUBSIM_SHARDS of the ConfigMap), never restarts a pod, and runs `hubsim run --shard auto/N`;
- every ${HUBSIM_...} the Jobs' commands read is in the ConfigMap (or set by the Job itself);
- the Jobs mount the PersistentVolumeClaim of pvc.yaml and read the ConfigMap of configmap.yaml;
- every container has resource requests and limits.

Prints every problem and exits 1 when there is one.
"""
import os
import re
import sys

import yaml

problems = []


def problem(text):
    problems.append(text)


def load(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def main():
    k8s, version_h = sys.argv[1], sys.argv[2]
    with open(version_h, encoding="utf-8") as f:
        version = re.search(r'#define HUBSIM_VERSION "([^"]+)"', f.read()).group(1)
    files = sorted(f for f in os.listdir(k8s) if f.endswith(".yaml"))
    kust = load(os.path.join(k8s, "kustomization.yaml"))[0]
    if kust.get("kind") != "Kustomization" or not str(kust.get("apiVersion", "")).startswith(
            "kustomize.config.k8s.io/"):
        problem("kustomization.yaml: not a Kustomization")
    listed = kust.get("resources") or []
    for r in listed:
        if not os.path.isfile(os.path.join(k8s, r)):
            problem(f"kustomization.yaml: resource {r} does not exist")
    for f in files:
        if f not in ("kustomization.yaml", "job-merge.yaml") and f not in listed:
            problem(f"kustomization.yaml: {f} is not in its resources")
    if "job-merge.yaml" in listed:
        problem("kustomization.yaml: job-merge.yaml must be applied after the shards, not with them")
    for img in kust.get("images") or []:
        if img.get("name") == "hubsim" and str(img.get("newTag")) != version:
            problem(f"kustomization.yaml: image tag {img.get('newTag')} is not hubsim's version {version}")

    objs = {}
    for f in files:
        if f == "kustomization.yaml":
            continue
        for d in load(os.path.join(k8s, f)):
            objs[(d.get("kind"), d.get("metadata", {}).get("name"))] = (f, d)
    cms = [d for (k, _), (_, d) in objs.items() if k == "ConfigMap"]
    pvcs = [n for (k, n) in objs if k == "PersistentVolumeClaim"]
    if len(cms) != 1:
        problem(f"expected one ConfigMap, found {len(cms)}")
        return
    cm = cms[0]
    data = cm.get("data") or {}
    shards = objs.get(("Job", "hubsim-shards"))
    if not shards:
        problem("no Job hubsim-shards")
        return
    jobs = [d for (k, _), (_, d) in objs.items() if k == "Job"]
    spec = shards[1]["spec"]
    if spec.get("completionMode") != "Indexed":
        problem("hubsim-shards: completionMode is not Indexed (JOB_COMPLETION_INDEX would be unset)")
    n = data.get("HUBSIM_SHARDS")
    if not (str(spec.get("completions")) == str(spec.get("parallelism")) == str(n)):
        problem(f"hubsim-shards: completions {spec.get('completions')} and parallelism "
                f"{spec.get('parallelism')} must both equal HUBSIM_SHARDS {n} of the ConfigMap")
    pod = spec["template"]["spec"]
    if pod.get("restartPolicy") != "Never":
        problem("hubsim-shards: restartPolicy must be Never (a shard run again starts out of step)")
    script = " ".join(pod["containers"][0].get("command", []) + pod["containers"][0].get("args", []))
    if 'hubsim run --shard "auto/${HUBSIM_SHARDS}"' not in script:
        problem("hubsim-shards: the container does not run hubsim run --shard auto/${HUBSIM_SHARDS}")
    for job in jobs:
        name = job["metadata"]["name"]
        pod = job["spec"]["template"]["spec"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
                  if "persistentVolumeClaim" in v]
        for c in claims:
            if c not in pvcs:
                problem(f"{name}: claims {c}, which no manifest defines")
        for c in pod["containers"]:
            text = " ".join(c.get("command", []) + c.get("args", []))
            refs = {e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e}
            if cm["metadata"]["name"] not in refs:
                problem(f"{name}: does not read the ConfigMap {cm['metadata']['name']}")
            own = {e["name"] for e in c.get("env", [])} | {"HUBSIM_SUMMARIES"}
            for var in sorted(set(re.findall(r"\$\{?(HUBSIM_[A-Z_]+)", text))):
                if var not in data and var not in own:
                    problem(f"{name}: its command reads ${{{var}}}, which the ConfigMap lacks")
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in (res.get(kind) or {}):
                        problem(f"{name}: container {c['name']} has no {kind}.{what}")
            if not str(c.get("image", "")).endswith(":" + version):
                problem(f"{name}: image {c.get('image')} is not tagged with hubsim's version {version}")


if __name__ == "__main__":
    main()
    for p in problems:
        print(f"deploy/k8s: {p}")
    sys.exit(1 if problems else 0)
