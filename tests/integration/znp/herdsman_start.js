// Starts a zigbee-herdsman Controller against a ZNP coordinator at tcp://127.0.0.1:PORT (or at
// the serial path PORT when it is not a number: a pseudo-terminal of hubsim znp --pty), with
// its database and coordinator backup in DIR, and checks what start() returns and that
// permitJoin succeeds. With DEVICES (a number), that many devices must then join and be
// interviewed to the end within 60 s: node descriptor, every endpoint's simple descriptor, and
// the genBasic reads that give their model id. Prints one line per step; exit 0 only when all
// of that held. Works with zigbee-herdsman 2.x (permitJoin(permit, device, time),
// interviewCompleted) and 10.x (permitJoin(time), interviewState).
//   node herdsman_start.js PORT DIR EXPECT [DEVICES]
'use strict';
const {Controller} = require('zigbee-herdsman');
const controllerOptions = require('./herdsman_options.js');

const [port, dir, expect, devicesArg] = process.argv.slice(2);
const wantDevices = devicesArg === undefined ? 0 : Number(devicesArg);
if (!port || !dir || !expect) {
  console.error('usage: node herdsman_start.js PORT DIR EXPECT');
  process.exit(2);
}

// Polls (every 100 ms, at most 60 s) until wantDevices devices are interviewed: a node
// descriptor (manufacturer code, type), every endpoint's simple descriptor, a model id.
async function waitForDevices(controller, want) {
  const deadline = Date.now() + 60000;
  const described = (d) =>
    (d.interviewState === 'SUCCESSFUL' || d.interviewCompleted === true) &&
    d.modelID !== undefined &&
    d.manufacturerID !== undefined &&
    d.type !== 'Unknown' &&
    d.endpoints.length > 0 &&
    d.endpoints.every((e) => e.profileID !== undefined && e.inputClusters.length > 0);
  for (;;) {
    const devices = controller.getDevices().filter((d) => d.type !== 'Coordinator');
    const done = devices.filter(described);
    if (done.length >= want) {
      for (const d of done) {
        const eps = d.endpoints.map((e) => `${e.ID}:${e.profileID}/${e.deviceID}/[${e.inputClusters}]`);
        console.log(`RESULT device ${d.ieeeAddr} model=${d.modelID} nwk=${d.networkAddress} type=${d.type} ` +
                    `manufacturer=${d.manufacturerID} endpoints=${eps.join(' ')}`);
      }
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${done.length} of ${want} devices joined and interviewed within 60 s ` +
                      `(${devices.length} joined)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const controller = new Controller(controllerOptions(port, dir));
  controller.on('deviceInterview', (e) =>
    console.log(`RESULT interview ${e.device.ieeeAddr} ${e.status} model=${e.device.modelID}`),
  );
  const result = await controller.start();
  console.log(`RESULT start=${result}`);
  await (controller.permitJoin.length >= 2 ? controller.permitJoin(true, undefined, 60) : controller.permitJoin(60));
  const permitted = controller.getPermitJoin();
  console.log(`RESULT permitJoin=${permitted}`);
  if (permitted !== true) {
    console.log('RESULT FAIL: permitJoin(60) did not open the network');
    process.exit(1);
  }
  if (wantDevices > 0) await waitForDevices(controller, wantDevices);
  await (controller.permitJoin.length >= 2 ? controller.permitJoin(false) : controller.permitJoin(0));
  await controller.stop();
  if (result !== expect) {
    console.log(`RESULT FAIL: start() returned '${result}', expected '${expect}'`);
    process.exit(1);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(`RESULT FAIL: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
