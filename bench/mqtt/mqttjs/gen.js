#!/usr/bin/env node
// bench/mqtt's MQTT.js generator: one node process with N clients of the npm package `mqtt`.
// It runs the same phases, flags and JSON line as the C generators (../gen.c): connect every hub
// (at most --window CONNECTs unanswered), stay idle and read VmRSS, publish one QoS 1 message per
// hub per interval spread evenly over it, wait for the last PUBACKs, print the figures. CPU is
// process.cpuUsage() (getrusage of the whole process, user + sys), memory VmRSS of
// /proc/self/status: the sources the C generators read.
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');

const FLAGS = {
  host: '127.0.0.1', port: 0, hubs: 1000, window: 100, 'interval-ms': 1000,
  'duration-ms': 30000, 'idle-ms': 1000, 'drain-ms': 5000, 'connect-timeout-ms': 120000,
  payload: 100, keepalive: 60, name: 'mqttjs',
};

function usage(out) {
  out.write('usage: gen.js --port P [--host 127.0.0.1] [--hubs 1000] [--window 100]\n' +
    '       [--interval-ms 1000] [--duration-ms 30000] [--idle-ms 1000] [--drain-ms 5000]\n' +
    '       [--connect-timeout-ms 120000] [--payload 100] [--keepalive 60] [--name NAME]\n');
}

function parse(argv) {
  const o = { ...FLAGS };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (argv[i] === '--help') { usage(process.stdout); process.exit(0); }
    if (!argv[i].startsWith('--') || !(k in FLAGS) || i + 1 >= argv.length) {
      process.stderr.write(`gen.js: ${argv[i]}: unknown flag or missing value\n`);
      usage(process.stderr);
      process.exit(2);
    }
    const v = argv[++i];
    if (k === 'host' || k === 'name') { o[k] = v; continue; }
    if (!/^[0-9]+$/.test(v)) {
      process.stderr.write(`gen.js: --${k} ${v}: not a whole number\n`);
      process.exit(2);
    }
    o[k] = Number(v);
  }
  if (!o.port || o.hubs < 1 || o.window < 1 || o['interval-ms'] < 1 || o.payload < 16) {
    process.stderr.write('gen.js: --port is required; --hubs, --window, --interval-ms >= 1; --payload >= 16\n');
    process.exit(2);
  }
  return o;
}

function rss() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : -1;
}
function cpu() { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; }
function mono() { return Number(process.hrtime.bigint()) / 1e9; }
const tick = () => new Promise((r) => setTimeout(r, 10));

// The payload of publish `seq`, exactly `len` bytes, printable, no newline (as gen.c's).
function payload(len, hub, seq) {
  const head = `{"hub":${hub},"seq":${seq},"pad":"`;
  return (head + 'x'.repeat(Math.max(0, len - head.length))).slice(0, len - 2) + '"}';
}

async function connectPhase(o, s, clients) {
  const deadline = mono() + o['connect-timeout-ms'] / 1e3;
  let started = 0;
  const startOne = () => {
    const i = started++;
    let state = 'connecting';
    const c = mqtt.connect(`mqtt://${o.host}:${o.port}`, {
      clientId: `${o.name}-${i}`, clean: true, keepalive: o.keepalive, reconnectPeriod: 0,
      protocolVersion: 4, connectTimeout: o['connect-timeout-ms'],
    });
    clients[i] = c;
    c.on('connect', () => { state = 'up'; s.connected++; });
    c.on('error', (e) => { if (!s.first_error) s.first_error = String(e.code || e.message); });
    c.on('close', () => {
      if (state === 'up') s.closed++;
      else if (state === 'connecting') s.connect_failed++;
      state = 'dead';
    });
    c.benchUp = () => state === 'up';
  };
  while (s.connected + s.connect_failed < o.hubs && mono() < deadline) {
    while (started < o.hubs && started - s.connected - s.connect_failed < o.window) startOne();
    await tick();
  }
}

// Slot j belongs to hub j % hubs and falls due at start + j * interval / hubs (as gen.c's).
async function publishPhase(o, s, clients) {
  const start = mono(), step = o['interval-ms'] / 1e3 / o.hubs;
  const total = Math.floor(o['duration-ms'] / o['interval-ms']) * o.hubs;
  let j = 0;
  const onAck = (err) => { if (err) s.errors++; else s.acked++; };
  while (j < total) {
    const now = mono();
    for (; j < total && start + j * step <= now; j++) {
      const hub = j % o.hubs, c = clients[hub];
      if (!c || !c.benchUp()) continue;
      c.publish(`bench/${o.name}/${hub}`, payload(o.payload, hub, Math.floor(j / o.hubs)),
        { qos: 1 }, onAck);
      s.sent++;
    }
    await tick();
  }
  const deadline = mono() + o['drain-ms'] / 1e3;
  while (s.acked < s.sent && mono() < deadline) await tick();
}

async function main() {
  const o = parse(process.argv.slice(2));
  const s = { first_error: '', connected: 0, connect_failed: 0, closed: 0, errors: 0, sent: 0, acked: 0 };
  const clients = new Array(o.hubs);
  const rssBefore = rss();
  const t0 = mono(), c0 = cpu();
  await connectPhase(o, s, clients);
  const t1 = mono(), c1 = cpu();
  const rssConnected = rss();
  while (mono() < t1 + o['idle-ms'] / 1e3) await tick();
  const rssIdle = rss();
  const t2 = mono(), c2 = cpu();
  if (o['duration-ms'] > 0) await publishPhase(o, s, clients);
  const t3 = mono(), c3 = cpu();
  process.stdout.write(JSON.stringify({
    generator: 'mqttjs', hubs: o.hubs, window: o.window, interval_ms: o['interval-ms'],
    duration_ms: o['duration-ms'], payload: o.payload, connected: s.connected,
    connect_failed: s.connect_failed, closed: s.closed, errors: s.errors, connect_s: t1 - t0,
    connect_cpu_s: c1 - c0, rss_before: rssBefore, rss_connected: rssConnected,
    rss_idle: rssIdle, sent: s.sent, acked: s.acked, publish_s: t3 - t2, publish_cpu_s: c3 - c2,
    first_error: s.first_error,
  }) + '\n', () => process.exit(s.connected === o.hubs && s.acked === s.sent && !s.errors ? 0 : 1));
}

main();
