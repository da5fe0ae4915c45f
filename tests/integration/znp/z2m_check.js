// zigbee2mqtt (pinned, installed into the build tree) against `hubsim znp` and Debian's
// mosquitto, everything on loopback ports picked free: every catalogue device joins, is
// interviewed and recognised as its real model; the state zigbee2mqtt publishes matches the
// state hubsim's devices hold (hubsim znp --state-file, on SIGUSR1); a /set on the plug, the
// light and the curtain reaches the device (its state in hubsim changes, and a /get answered by
// the device shows it); zigbee2mqtt restarted on the same data folder and coordinator finds
// the network and its devices without pairing or interviewing them again. Every wait is on an
// event (an MQTT message, a process's output) with a deadline. Prints one line per step and
// exits 0 only when all of that held.
//   node z2m_check.js HUBSIM ZIGBEE2MQTT_DIR WORK MODELS_FILE
// MODELS_FILE: one catalogue device a line, "model_id vendor_model". HUBSIM_NODE (optional):
// the node binary zigbee2mqtt runs under (default: the one running this script).
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const {spawn} = require('node:child_process');
const mqtt = require('mqtt');

const [hubsim, z2mDir, work, modelsFile] = process.argv.slice(2).map((a) => a && path.resolve(a));
if (!hubsim || !z2mDir || !work || !modelsFile) {
  console.error('usage: node z2m_check.js HUBSIM ZIGBEE2MQTT_DIR WORK MODELS_FILE');
  process.exit(2);
}
const catalogue = fs
  .readFileSync(modelsFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => {
    const [model, vendor] = l.trim().split(/\s+/);
    return {model, vendor};
  });
const MOSQUITTO = process.env.HUBSIM_MOSQUITTO || '/usr/sbin/mosquitto';
const BASE = 'zigbee2mqtt';
const children = [];
let failed = false;

function fail(msg) {
  failed = true;
  console.error(`FAIL: ${msg}`);
  throw new Error(msg);
}

function step(msg) {
  console.log(`ok: ${msg}`);
}

// A port that was free a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Resolves when fn(line) is true for a line the child writes on stream, or rejects at the
// deadline or when the child exits first.
function waitLine(child, stream, fn, ms, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => done(new Error(`no ${what} within ${ms / 1000} s`)), ms);
    const onData = (chunk) => {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (fn(line)) return done(null, line);
      }
    };
    const onExit = (code) => done(new Error(`the process exited (${code}) before ${what}`));
    function done(err, line) {
      clearTimeout(timer);
      child[stream].off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line);
    }
    child[stream].on('data', onData);
    child.once('exit', onExit);
  });
}

function start(cmd, args, opts, log) {
  const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe'], ...opts});
  const out = fs.createWriteStream(log);
  child.stdout.on('data', (d) => out.write(d));
  child.stderr.on('data', (d) => out.write(d));
  children.push(child);
  return child;
}

function stop(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

// mosquitto on a free port (another process may take the port between the probe and the
// bind: then mosquitto exits and the next port is tried).
async function startBroker() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = path.join(work, 'mosquitto.conf');
    fs.writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\npersistence false\n` +
        `log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n` +
        (process.getuid && process.getuid() === 0 ? 'user root\n' : ''),
    );
    const child = start(MOSQUITTO, ['-c', conf], {}, path.join(work, 'mosquitto.log'));
    try {
      // mosquitto's notice "Opening ipv4 listen socket on port N." says it listens.
      await waitLine(child, 'stderr', (l) => l.includes(`listen socket on port ${port}`), 10000, 'listening mosquitto');
      return {child, port};
    } catch (e) {
      await stop(child, 2000);
    }
  }
  fail('mosquitto did not start on a free loopback port in 5 attempts (see mosquitto.log)');
}

// Every message, with the last payload per topic kept, and waiters on a predicate.
class Bus {
  constructor(client) {
    this.client = client;
    this.last = new Map();
    this.waiters = [];
    this.log = [];
    client.on('message', (topic, payload) => {
      const text = payload.toString();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch (e) {
        json = text;
      }
      this.last.set(topic, json);
      this.log.push({topic, json, t: Date.now()});
      for (const w of [...this.waiters]) if (w.fn(topic, json)) w.resolve({topic, json});
    });
  }
  wait(fn, ms, what) {
    return new Promise((resolve, reject) => {
      const w = {fn};
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${what} within ${ms / 1000} s`));
      }, ms);
      w.resolve = (m) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(m);
      };
      this.waiters.push(w);
    });
  }
  publish(topic, payload) {
    this.client.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
}

async function connectBus(port) {
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {reconnectPeriod: 200, connectTimeout: 5000});
  const bus = new Bus(client);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no MQTT connection within 10 s')), 10000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await new Promise((resolve, reject) =>
    client.subscribe(`${BASE}/#`, {qos: 0}, (err) => (err ? reject(err) : resolve())),
  );
  return bus;
}

function writeConfig(dataDir, mqttPort, znpPort) {
  fs.mkdirSync(dataDir, {recursive: true});
  fs.writeFileSync(
    path.join(dataDir, 'configuration.yaml'),
    [
      'version: 4',
      'homeassistant:',
      '  enabled: false',
      'frontend:',
      '  enabled: false',
      'mqtt:',
      `  base_topic: ${BASE}`,
      `  server: mqtt://127.0.0.1:${mqttPort}`,
      'serial:',
      `  port: tcp://127.0.0.1:${znpPort}`,
      '  adapter: zstack',
      'advanced:',
      '  log_level: info',
      '  log_output: [console]',
      '  network_key: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13]',
      '  pan_id: 6754',
      '  ext_pan_id: [221, 221, 221, 221, 221, 221, 221, 221]',
      '  channel: 15',
      '',
    ].join('\n'),
  );
}

// zigbee2mqtt runs in the test's folder: inside a git checkout (the build tree) it would take
// the checkout's commit for its own and try to rebuild itself.
function startZ2m(dataDir, run) {
  const node = process.env.HUBSIM_NODE || process.execPath;
  const child = start(node, [path.join(z2mDir, 'index.js')],
                      {cwd: work, env: {...process.env, ZIGBEE2MQTT_DATA: dataDir}},
                      path.join(work, `zigbee2mqtt-${run}.log`));
  child.exited = new Promise((resolve, reject) =>
    child.once('exit', (code) => reject(new Error(`zigbee2mqtt exited (${code}); see zigbee2mqtt-${run}.log`))));
  child.exited.catch(() => {});
  return child;
}

// A wait that fails at once when zigbee2mqtt exits.
function orExit(child, p) {
  return Promise.race([p, child.exited]);
}

// hubsim's devices: SIGUSR1 makes hubsim znp write its state file, then print a line.
let stateGen = 0;
async function hubsimStates(znp, file) {
  const want = `state written ${++stateGen}`;
  const p = waitLine(znp, 'stdout', (l) => l.trim() === want, 10000, `'${want}' from hubsim znp`);
  znp.kill('SIGUSR1');
  await p;
  const states = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{16}) (\S+) (.*)$/.exec(line);
    if (m) states.set(`0x${m[1]}`, {model: m[2], state: JSON.parse(m[3])});
  }
  return states;
}

function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a));
  return JSON.stringify(a) === JSON.stringify(b);
}

const devicesOf = (json) => (Array.isArray(json) ? json.filter((d) => d.type !== 'Coordinator') : []);

// bridge/devices with every catalogue device interviewed and recognised.
function recognised(json) {
  const devs = devicesOf(json);
  if (devs.length < catalogue.length) return false;
  return catalogue.every((c) =>
    devs.some(
      (d) =>
        d.model_id === c.model &&
        d.interview_completed === true &&
        d.supported === true &&
        d.definition &&
        d.definition.model === c.vendor,
    ),
  );
}

// Compares the latest state zigbee2mqtt published for each device with hubsim's, key by key
// (linkquality aside: the host measures it). Returns [compared keys, mismatches, devices].
async function compareAll(bus, znp, stateFile) {
  const states = await hubsimStates(znp, stateFile);
  let compared = 0, devices = 0;
  const bad = [];
  for (const [ieee, h] of states) {
    const z = bus.last.get(`${BASE}/${ieee}`);
    if (!z || typeof z !== 'object') continue;
    devices++;
    for (const [k, v] of Object.entries(h.state)) {
      if (k === 'linkquality' || !(k in z)) continue;
      compared++;
      // Pressure comes in two encodings (scaledValue, 0.1 hPa; the heartbeat's Pa, which
      // zigbee2mqtt rounds to 0.1 hPa): each side keeps the one it took in last, one step apart
      // at most.
      if (!same(v, z[k]) && !(k === 'pressure' && Math.abs(v - z[k]) <= 0.1 + 1e-9))
        bad.push(`${h.model} ${k}: zigbee2mqtt ${JSON.stringify(z[k])}, hubsim ${JSON.stringify(v)} ` +
                 `(zigbee2mqtt ${JSON.stringify(z)}, hubsim ${JSON.stringify(h.state)})`);
    }
  }
  return [compared, bad, devices];
}

// The next state message of ieee published after now that satisfies fn.
function nextState(bus, ieee, fn, ms, what) {
  return bus.wait((t, j) => t === `${BASE}/${ieee}` && j && typeof j === 'object' && fn(j), ms, what);
}

// A /set on device ieee; then its state in hubsim must reach want (checked by key), and a /get
// of those keys (answered by the device's Read Attributes Response) must publish them.
async function setAndCheck(bus, znp, stateFile, ieee, name, set, want, ms, getKeys = Object.keys(want)) {
  bus.publish(`${BASE}/${ieee}/set`, set);
  // The state is published once the device acknowledged the command (its Default Response).
  await nextState(bus, ieee, (j) => Object.entries(want).every(([k, v]) => same(j[k], v)), ms, `${name} state after /set`);
  const deadline = Date.now() + ms;
  for (;;) {
    // The device's own state: the frames it sent after the command (its report, or its answer).
    const h = (await hubsimStates(znp, stateFile)).get(ieee);
    if (h && Object.entries(want).every(([k, v]) => same(h.state[k], v))) break;
    if (Date.now() > deadline) fail(`${name}: hubsim's device state ${JSON.stringify(h && h.state)} never showed ${JSON.stringify(want)}`);
    await nextState(bus, ieee, () => true, Math.max(100, deadline - Date.now()), `${name} report`).catch(() => {});
  }
  const get = Object.fromEntries(getKeys.map((k) => [k, '']));
  const got = nextState(bus, ieee, (j) => getKeys.every((k) => same(j[k], want[k])), ms, `${name} state after /get`);
  bus.publish(`${BASE}/${ieee}/get`, get);
  await got;
  step(`${name}: /set ${JSON.stringify(set)} reached the device: hubsim holds ${JSON.stringify(want)}, ` +
       `and a /get of ${getKeys.join(', ')} read it back`);
}

async function main() {
  const t0 = Date.now();
  const broker = await startBroker();
  step(`mosquitto on 127.0.0.1:${broker.port}`);
  const stateFile = path.join(work, 'states.txt');
  const args = ['znp', '-v', '--nv', path.join(work, 'nv.txt'), '--listen', '127.0.0.1:0', '--state-file', stateFile];
  for (const c of catalogue) args.push('--device', c.model);
  const znp = start(hubsim, args, {}, path.join(work, 'znp.log'));
  const listening = await waitLine(znp, 'stdout', (l) => l.startsWith('listening on '), 10000, 'listening line from hubsim znp');
  const znpPort = Number(listening.split(':').pop());
  step(`hubsim znp on 127.0.0.1:${znpPort} with ${catalogue.length} devices`);

  const bus = await connectBus(broker.port);
  const dataDir = path.join(work, 'data');
  writeConfig(dataDir, broker.port, znpPort);
  let z2m = startZ2m(dataDir, 1);
  await orExit(z2m, bus.wait((t, j) => t === `${BASE}/bridge/state` && j && j.state === 'online', 60000, 'bridge/state online'));
  step(`zigbee2mqtt online after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // zigbee2mqtt subscribes to its requests around the time it says it is online: the request
  // is sent again until it is answered.
  for (let i = 0; ; i++) {
    const answered = bus.wait((t) => t === `${BASE}/bridge/response/permit_join`, 1000, 'permit_join response');
    bus.publish(`${BASE}/bridge/request/permit_join`, {time: 254});
    const r = await orExit(z2m, answered).catch((e) => (i < 20 ? null : fail(e.message)));
    if (!r) continue;
    if (!r.json || r.json.status !== 'ok') fail(`permit_join refused: ${JSON.stringify(r.json)}`);
    break;
  }
  step('joining permitted');
  const devs = await orExit(z2m, bus.wait((t, j) => t === `${BASE}/bridge/devices` && recognised(j), 120000,
                                          'bridge/devices with every device interviewed and recognised'));
  const list = devicesOf(devs.json);
  for (const d of list) console.log(`device ${d.ieee_address} ${d.model_id} -> ${d.definition.vendor} ${d.definition.model} (${d.power_source})`);
  step(`${catalogue.length} devices joined, interviewed and recognised as their real models after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const ieeeOf = Object.fromEntries(list.map((d) => [d.model_id, d.ieee_address]));

  const states = await hubsimStates(znp, stateFile);
  const plug = ieeeOf['lumi.plug'], light = ieeeOf['lumi.light.aqcn02'], curtain = ieeeOf['lumi.curtain'];
  const plugState = (states.get(plug) || {state: {}}).state.state === 'ON' ? 'OFF' : 'ON';
  await setAndCheck(bus, znp, stateFile, plug, 'plug', {state: plugState}, {state: plugState}, 15000);
  // The light: On (genOnOff), then level and colour temperature (genLevelCtrl
  // moveToLevelWithOnOff, lightingColorCtrl moveToColorTemp); a /get of color_temp reads
  // colorMode with colorTemperature.
  const lightState = (states.get(light) || {state: {}}).state.state === 'ON' ? 'OFF' : 'ON';
  await setAndCheck(bus, znp, stateFile, light, 'light', {state: lightState}, {state: lightState}, 15000);
  await setAndCheck(bus, znp, stateFile, light, 'light', {brightness: 77, color_temp: 333},
                    {brightness: 77, color_temp: 333}, 15000, ['brightness', 'color_temp']);
  await setAndCheck(bus, znp, stateFile, curtain, 'curtain', {position: 35}, {position: 35}, 30000);

  // The state of every device zigbee2mqtt published for (after its configuration, the
  // commands above and any report since) against hubsim's devices.
  // A report may be between hubsim's file and zigbee2mqtt's message, and on a busy machine
  // fewer devices may have reported yet: compare again after each new state message, for 30 s
  // at most.
  const compareUntil = Date.now() + 30000;
  let [compared, bad, published] = await compareAll(bus, znp, stateFile);
  while ((bad.length || published < 10 || compared < 30) && Date.now() < compareUntil) {
    await bus.wait((t) => t.startsWith(`${BASE}/0x`), Math.max(1, Math.min(3000, compareUntil - Date.now())),
                   'another state message').catch(() => {});
    [compared, bad, published] = await compareAll(bus, znp, stateFile);
  }
  if (bad.length) fail(`zigbee2mqtt's state differs from hubsim's devices:\n  ${bad.join('\n  ')}`);
  if (published < 10 || compared < 30) fail(`only ${compared} state values of ${published} devices could be compared`);
  step(`${compared} state values of ${published} devices match hubsim's devices`);

  // zigbee2mqtt restarts on the same data folder; the coordinator keeps running.
  const before = bus.log.length;
  const code = await stop(z2m, 20000);
  step(`zigbee2mqtt stopped (exit ${code})`);
  const devicesAgain = bus.wait((t, j) => t === `${BASE}/bridge/devices` && Array.isArray(j), 60000, 'bridge/devices after the restart');
  const online = bus.wait((t, j) => t === `${BASE}/bridge/state` && j && j.state === 'online', 60000, 'bridge/state online after the restart');
  z2m = startZ2m(dataDir, 2);
  const started = waitLine(z2m, 'stdout', (l) => /zigbee-herdsman started \((\w+)\)/.test(l), 60000, 'zigbee-herdsman start line');
  const how = /zigbee-herdsman started \((\w+)\)/.exec(await started)[1];
  if (how !== 'resumed') fail(`zigbee-herdsman started '${how}' after the restart, not 'resumed'`);
  const again = await orExit(z2m, devicesAgain);
  await orExit(z2m, online);
  if (!recognised(again.json)) fail('after the restart bridge/devices does not list every device as interviewed and recognised');
  const after = bus.log.slice(before);
  const rejoined = after.filter((m) => m.topic === `${BASE}/bridge/event` && m.json &&
                                       ['device_joined', 'device_interview', 'device_announce'].includes(m.json.type));
  if (rejoined.length) fail(`after the restart ${rejoined.length} devices joined or were interviewed again: ${JSON.stringify(rejoined[0].json)}`);
  if (devicesOf(again.json).length !== list.length) fail(`after the restart bridge/devices lists ${devicesOf(again.json).length} devices, not ${list.length}`);
  const plugAgain = nextState(bus, plug, (j) => j.state === 'ON', 15000, 'plug state after the restart');
  bus.publish(`${BASE}/${plug}/set`, {state: 'ON'});
  await plugAgain;
  step(`zigbee2mqtt restarted: network resumed, ${list.length} devices kept, none paired or interviewed again, the plug still obeys`);

  await stop(z2m, 20000);
  bus.client.end(true);
  const zc = await stop(znp, 10000);
  if (zc !== 0) fail(`hubsim znp exited ${zc} on SIGTERM`);
  await stop(broker.child, 5000);
  console.log(`RESULT passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main()
  .catch((e) => {
    if (!failed) console.error(`FAIL: ${e.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    setTimeout(() => process.exit(process.exitCode || 0), 200).unref();
  });
