// zigbee2mqtt's own converters (zigbee-herdsman-converters, from zigbee2mqtt's pinned install)
// over the frames hubsim's catalogue devices send (zframes steps one device alone and prints
// them). Each frame goes the way zigbee-herdsman's controller takes it: the ZCL frame parsed by
// zigbee-herdsman, its attributes stored in the endpoint's attribute cache, then every
// fromZigbee converter of the model's definition for that cluster and message type, and what
// they return merged into the device's state, as zigbee2mqtt publishes it. Frames printed before
// a "mark" line are the ones a host gets while it still interviews the device: skipped, so a
// value must decode from the frames of normal operation alone. Prints one line per case and
// exits 0 only when every case held.
//   node z2m_converters.js ZFRAMES NODE_MODULES
'use strict';
const path = require('node:path');
const {execFileSync} = require('node:child_process');

const [zframes, nm] = process.argv.slice(2).map((a) => a && path.resolve(a));
if (!zframes || !nm) {
  console.error('usage: node z2m_converters.js ZFRAMES NODE_MODULES');
  process.exit(2);
}
const zhc = require(path.join(nm, 'zigbee-herdsman-converters'));
const Zcl = require(path.join(nm, 'zigbee-herdsman/dist/zspec/zcl'));
const {ZclFrameConverter} = require(path.join(nm, 'zigbee-herdsman/dist/controller/helpers'));
// The converters' debug lines (one per frame) would bury the verdicts; warnings and errors stay.
const text = (m) => (typeof m === 'function' ? m() : m);
zhc.setLogger({
  debug: () => {},
  info: () => {},
  warning: (m, ns) => console.error(`${ns}: ${text(m)}`),
  error: (m, ns) => console.error(`${ns}: ${text(m)}`),
});

// An endpoint with zigbee-herdsman's attribute cache (model/endpoint.ts) and no radio.
function makeEndpoint(id) {
  const clusters = {};
  return {
    ID: id,
    clusters,
    saveClusterAttributeKeyValue(clusterId, data) {
      const name = Zcl.Utils.getCluster(clusterId, undefined, {}).name;
      clusters[name] = clusters[name] || {attributes: {}};
      Object.assign(clusters[name].attributes, data);
    },
    getClusterAttributeValue(cluster, attr) {
      const c = clusters[cluster];
      return c ? c.attributes[attr] : undefined;
    },
    supportsInputCluster: () => true,
    supportsOutputCluster: () => true,
    read: async () => {},
    write: async () => {},
  };
}

// Runs zframes and the converters; returns {state, values, frames}.
async function run(model, steps) {
  const out = execFileSync(zframes, [model, ...steps], {encoding: 'utf8', timeout: 20000});
  const endpoints = {};
  const device = {
    ieeeAddr: '0x00158d0000abcdef',
    networkAddress: 0x1234,
    modelID: model,
    manufacturerName: 'LUMI',
    manufacturerID: 0x115f,
    type: 'Router',
    powerSource: 'Mains (single phase)',
    interviewCompleted: true,
    meta: {},
    customClusters: {},
    getEndpoint: (id) => endpoints[id],
    get endpoints() {
      return Object.values(endpoints);
    },
    save: () => {},
  };
  const def = await zhc.findByDevice(device);
  if (!def) throw new Error(`zigbee-herdsman-converters has no definition for ${model}`);
  const state = {};
  const byCluster = {}; // what the converters of each cluster published
  const values = {};
  let lines = out.split('\n').filter((l) => l);
  const mark = lines.lastIndexOf('mark');
  if (mark >= 0) lines = lines.slice(mark + 1);
  let frames = 0;
  for (const line of lines) {
    const f = line.split(' ');
    if (f[0] === 'value') {
      values[f[1]] = Number(f[2]);
      continue;
    }
    if (f[0] !== 'frame') continue;
    const ep = Number(f[1]);
    const clusterId = Number(f[2]);
    const buf = Buffer.from(f[3], 'hex');
    endpoints[ep] = endpoints[ep] || makeEndpoint(ep);
    const endpoint = endpoints[ep];
    const header = Zcl.Header.fromBuffer(buf);
    const frame = Zcl.Frame.fromBuffer(clusterId, header, buf, {});
    let type;
    if (frame.header.isGlobal && frame.command.name === 'report') type = 'attributeReport';
    else if (frame.header.isGlobal && frame.command.name === 'readRsp') type = 'readResponse';
    else continue;
    const data = ZclFrameConverter.attributeKeyValue(frame, device.manufacturerID, {});
    endpoint.saveClusterAttributeKeyValue(clusterId, data);
    frames++;
    const msg = {
      type,
      data,
      cluster: frame.cluster.name,
      device,
      endpoint,
      linkquality: 200,
      groupID: 0,
      meta: {zclTransactionSequenceNumber: frame.header.transactionSequenceNumber},
    };
    const meta = {device, state, deviceExposesChanged: () => {}};
    for (const conv of def.fromZigbee) {
      const types = Array.isArray(conv.type) ? conv.type : [conv.type];
      if (conv.cluster !== msg.cluster || !types.includes(type)) continue;
      const r = await conv.convert(def, msg, () => {}, {}, meta);
      if (r) Object.assign(state, r);
      if (r) byCluster[msg.cluster] = Object.assign(byCluster[msg.cluster] || {}, r);
    }
  }
  return {state, byCluster, values, frames, model: def.model};
}

const failures = [];
function check(name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  if (!ok) failures.push(name);
}

// Pressure from the climate sensors' msPressureMeasurement reports of a week of normal operation
// (not from the heartbeat, which zigbee2mqtt decodes for lumi.weather too; the join frames,
// which carry the first scale, are what a host sees while it interviews: skipped).
async function pressure(model) {
  const r = await run(model, ['mark', 'at:604800', 'value:pressure']);
  const p = (r.byCluster.msPressureMeasurement || {}).pressure;
  check(
    `${model} (${r.model}) pressure`,
    typeof p === 'number' && Number.isFinite(p) && Math.abs(p - r.values.pressure) <= 1.05,
    `published ${JSON.stringify(p)} hPa from ${r.frames} frames, the device holds ` +
      `${r.values.pressure.toFixed(2)} hPa`,
  );
}

// ZNCZ02LM switched off 1 s after joining: state OFF and power 0 W from the frames of the next
// 2 s (its power report's min_s, 5 s after the join report, does not hold the 0 W back).
async function plugOff() {
  const r = await run('lumi.plug', ['at:1', 'mark', 'cmd:1:0006:00:', 'at:3', 'value:power']);
  check(
    `lumi.plug (${r.model}) off`,
    r.state.state === 'OFF' && r.state.power === 0 && r.values.power === 0,
    `published state ${JSON.stringify(r.state.state)}, power ${JSON.stringify(r.state.power)} W ` +
      `from ${r.frames} frames; the device holds ${r.values.power} W`,
  );
}

// ZNLDP12LM: moveToLevelWithOnOff (what zigbee2mqtt sends for {"state": "ON", "brightness": N})
// switches it on; the read of a /get color_temp (colorMode, colorTemperature) is answered.
async function light() {
  const r = await run('lumi.light.aqcn02', ['at:10', 'mark', 'cmd:1:0008:04:640000', 'at:12',
                                            'read:1:0300:0008,0007']);
  check(
    `lumi.light.aqcn02 (${r.model}) moveToLevelWithOnOff and /get color_temp`,
    r.state.state === 'ON' && r.state.brightness === 100 && r.state.color_mode === 'color_temp' &&
      r.state.color_temp === 250,
    `published ${JSON.stringify(r.state)}`,
  );
}

(async () => {
  await pressure('lumi.sensor_ht.agl02');
  await pressure('lumi.weather');
  await plugOff();
  await light();
  if (failures.length) {
    console.error(`z2m_converters: ${failures.length} case(s) failed: ${failures.join(', ')}`);
    process.exit(1);
  }
})().catch((e) => {
  console.error(`z2m_converters: ${e.stack || e}`);
  process.exit(1);
});
