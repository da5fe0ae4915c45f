// zigbee-herdsman against a ZNP coordinator at tcp://127.0.0.1:PORT whose devices must be kept
// in its NV tables, with its database and coordinator backup in DIR.
//   node herdsman_nv.js join PORT DIR N
//     start() = 'reset'; N devices join and are interviewed (60 s at most); stop() writes the
//     coordinator backup, which must list N devices, each with its link key.
//   node herdsman_nv.js known PORT DIR EXPECT N MODEL
//     start() = EXPECT ('resumed' or 'restored') without opening the network; the database
//     still has N devices; the device of model MODEL answers a genBasic read of its model id
//     (20 s at most) and lists the coordinator as its neighbour, the coordinator lists the N
//     devices and a route to it (the network map); no device joins or announces itself.
// Prints one RESULT line per step; exit 0 only when all of that held.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const {Controller} = require('zigbee-herdsman');
const controllerOptions = require('./herdsman_options.js');

const [mode, port, dir, ...rest] = process.argv.slice(2);

function controllerFor() {
  return new Controller(controllerOptions(port, dir));
}

// zigbee-herdsman 2.x's lqi() and routingTable() answer {neighbors: [...]} and {table: [...]};
// 10.x's the ZDO entries themselves (eui64, nwkAddress).
const neighborsOf = (r) =>
  Array.isArray(r) ? r.map((e) => ({ieeeAddr: e.eui64, networkAddress: e.nwkAddress, relationship: e.relationship})) : r.neighbors;
const routesOf = (r) => (Array.isArray(r) ? r : r.table);
const devicesOf = (c) => c.getDevices().filter((d) => d.type !== 'Coordinator');
const interviewed = (d) => (d.interviewState === 'SUCCESSFUL' || d.interviewCompleted === true) && d.modelID;

async function join(want) {
  const c = controllerFor();
  const result = await c.start();
  console.log(`RESULT start=${result}`);
  if (result !== 'reset') throw new Error(`start() returned '${result}', expected 'reset'`);
  await (c.permitJoin.length >= 2 ? c.permitJoin(true, undefined, 60) : c.permitJoin(60));
  const deadline = Date.now() + 60000;
  while (devicesOf(c).filter(interviewed).length < want) {
    if (Date.now() > deadline) throw new Error(`fewer than ${want} devices interviewed within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const d of devicesOf(c)) console.log(`RESULT device ${d.ieeeAddr} nwk=${d.networkAddress} model=${d.modelID}`);
  await c.stop();
  const backup = JSON.parse(fs.readFileSync(path.join(dir, 'coordinator_backup.json'), 'utf8'));
  const keyed = backup.devices.filter((d) => d.link_key && d.link_key.key.length === 32);
  console.log(`RESULT backup devices=${backup.devices.length} with_link_key=${keyed.length}`);
  if (backup.devices.length !== want || keyed.length !== want) {
    throw new Error(`the coordinator backup lists ${backup.devices.length} devices (${keyed.length} with a link key), not ${want}`);
  }
}

async function known(expect, want, model) {
  const c = controllerFor();
  let joins = 0;
  c.on('deviceJoined', (e) => { joins++; console.log(`RESULT joined ${e.device.ieeeAddr}`); });
  c.on('deviceAnnounce', (e) => { joins++; console.log(`RESULT announce ${e.device.ieeeAddr}`); });
  const result = await c.start();
  console.log(`RESULT start=${result}`);
  if (result !== expect) throw new Error(`start() returned '${result}', expected '${expect}'`);
  const devices = devicesOf(c);
  console.log(`RESULT database devices=${devices.length}`);
  if (devices.length !== want) throw new Error(`the database has ${devices.length} devices, not ${want}`);
  const d = devices.find((x) => x.modelID === model);
  if (!d) throw new Error(`no device of model ${model} in the database`);
  const ep = d.endpoints.find((e) => e.inputClusters.includes(0));
  const timer = new Promise((_, rej) => setTimeout(() => rej(new Error(`${model}: no answer to a genBasic read within 20 s`)), 20000));
  const got = await Promise.race([ep.read('genBasic', ['modelId']), timer]);
  console.log(`RESULT read ${d.ieeeAddr} modelId=${got.modelId}`);
  if (got.modelId !== model) throw new Error(`${model} answered modelId '${got.modelId}'`);
  // The network map: the coordinator's neighbours are the devices, the router's its parent,
  // and the coordinator has a route to the router.
  const coord = c.getDevicesByType('Coordinator')[0];
  const lqi = {neighbors: neighborsOf(await coord.lqi())};
  const mine = lqi.neighbors.filter((n) => devices.some((x) => x.ieeeAddr === n.ieeeAddr && x.networkAddress === n.networkAddress));
  console.log(`RESULT coordinator neighbors=${lqi.neighbors.length} known=${mine.length}`);
  if (mine.length !== want || lqi.neighbors.length !== want) throw new Error(`the coordinator lists ${lqi.neighbors.length} neighbours`);
  const up = {neighbors: neighborsOf(await d.lqi())};
  console.log(`RESULT ${model} neighbors=${up.neighbors.map((n) => `${n.ieeeAddr}/${n.relationship}`).join(',')}`);
  if (up.neighbors.length !== 1 || up.neighbors[0].networkAddress !== 0 || up.neighbors[0].relationship !== 0) {
    throw new Error(`${model} does not list the coordinator as its parent`);
  }
  const rt = {table: routesOf(await coord.routingTable())};
  console.log(`RESULT coordinator routes=${rt.table.map((e) => `${e.destinationAddress}:${e.status}`).join(',')}`);
  if (!rt.table.some((e) => e.destinationAddress === d.networkAddress && e.status === 'ACTIVE')) {
    throw new Error(`the coordinator has no active route to ${model}`);
  }
  await c.stop();
  if (joins !== 0) throw new Error(`${joins} devices joined or announced themselves again`);
}

const run = mode === 'join' ? join(Number(rest[0])) : mode === 'known' ? known(rest[0], Number(rest[1]), rest[2]) : null;
if (!run || !port || !dir) {
  console.error('usage: node herdsman_nv.js join PORT DIR N | known PORT DIR EXPECT N MODEL');
  process.exit(2);
}
run.then(
  () => process.exit(0),
  (err) => {
    console.log(`RESULT FAIL: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
