// Validates Kubernetes objects against the API schemas of the npm package kubernetes-models
// (pinned in package.json), offline: no cluster. Usage:
//
//   node validate.js MODULES_DIR FILE.json...
//
// Each FILE.json holds a JSON array of the objects of one manifest (the YAML documents,
// converted by test_k8s.sh). Every object's apiVersion and kind must name a model of the
// package (an unknown kind fails: nothing passes unchecked), and model.validate() must accept
// it. Prints one line per object; exits 1 when any object fails, 2 on bad usage.
'use strict';
const fs = require('fs');
const path = require('path');

if (process.argv.length < 4) {
  console.error('usage: node validate.js MODULES_DIR FILE.json...');
  process.exit(2);
}
const modules = process.argv[2];
let failed = 0;

// "batch/v1" + "Job" -> kubernetes-models/batch/v1/Job; the core group "v1" -> v1/Kind.
function modelOf(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Za-z]+$/.test(kind) ||
      !/^[a-z0-9.]+(\/[a-z0-9]+)?$/.test(apiVersion))
    return null;
  const file = path.join(modules, 'kubernetes-models', apiVersion, kind + '.js');
  if (!fs.existsSync(file))
    return null;
  return require(file)[kind];
}

for (const file of process.argv.slice(3)) {
  const docs = JSON.parse(fs.readFileSync(file, 'utf8'));
  docs.forEach((doc, i) => {
    const where = `${file} document ${i + 1}`;
    const Model = doc && modelOf(doc.apiVersion, doc.kind);
    if (!Model) {
      console.log(`FAIL ${where}: no Kubernetes model for apiVersion ${doc && doc.apiVersion}, ` +
                  `kind ${doc && doc.kind}`);
      failed++;
      return;
    }
    try {
      new Model(doc).validate();
      console.log(`ok   ${where}: ${doc.apiVersion} ${doc.kind} ${doc.metadata && doc.metadata.name}`);
    } catch (e) {
      console.log(`FAIL ${where}: ${doc.kind} ${doc.metadata && doc.metadata.name}: ${e.message}`);
      failed++;
    }
  });
}
process.exit(failed ? 1 : 0);
