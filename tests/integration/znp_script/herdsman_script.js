// The host of test_znp_script_herdsman: zigbee-herdsman against `hubsim znp --script radio.lua`
// at tcp://127.0.0.1:PORT, with its database in DIR. It never opens the network itself.
//   node herdsman_script.js PORT DIR first   start() = 'reset'; the radio opens joining on its
//       own; lumi.weather joins and is interviewed, leaves on its own (deviceLeave), joins and
//       is interviewed again; then an unsolicited SYS_RESET_IND (watchdog) arrives: the host
//       stops, as one re-initialising on a radio reset does. Exit 0 only when all of that held.
//   node herdsman_script.js PORT DIR second  start() = 'resumed'; lumi.weather, still in the
//       network across the radio's reset, answers a genBasic read; lumi.plug, which the radio
//       lets join later, is interviewed. Exit 0 only when both held.
// Every wait has a deadline (40 s for the whole run). One line per step, "RESULT ...".
'use strict';
const {Controller} = require('zigbee-herdsman');
const controllerOptions = require('../znp/herdsman_options.js');

const [port, dir, phase] = process.argv.slice(2);
if (!port || !dir || (phase !== 'first' && phase !== 'second')) {
  console.error('usage: node herdsman_script.js PORT DIR first|second');
  process.exit(2);
}

const seen = [];
let wake = null;
function note(line) {
  console.log(`RESULT ${line}`);
  seen.push(line);
  if (wake) wake();
}

// Waits until a line noted at index from or later matches re (at most until the run's
// deadline); returns its index.
const deadline = Date.now() + 40000;
async function waitFor(re, from = 0) {
  for (;;) {
    const i = seen.findIndex((l, j) => j >= from && re.test(l));
    if (i >= 0) return i;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`not seen within 40 s: ${re}`);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, left);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}

async function main() {
  const controller = new Controller(controllerOptions(port, dir));
  controller.on('deviceJoined', (e) => note(`joined ${e.device.ieeeAddr}`));
  controller.on('deviceLeave', (e) => note(`leave ${e.ieeeAddr}`));
  controller.on('deviceInterview', (e) =>
    note(`interview ${e.status} ${e.device.ieeeAddr} model=${e.device.modelID}`),
  );
  const result = await controller.start();
  note(`start=${result}`);
  controller.adapter.znp.on('received', (o) => {
    if (o.subsystem === 1 && o.command.name === 'resetInd') note(`resetInd reason=${o.payload.reason}`);
  });
  if (phase === 'first') {
    if (result !== 'reset') throw new Error(`start() returned '${result}', expected 'reset'`);
    const first = await waitFor(/^interview successful .* model=lumi.weather$/);
    const ieee = seen[first].split(' ')[2];
    const left = await waitFor(new RegExp(`^leave ${ieee}$`), first);
    await waitFor(new RegExp(`^interview successful ${ieee} `), left);
    await waitFor(/^resetInd reason=2$/, left);
  } else {
    if (result !== 'resumed') throw new Error(`start() returned '${result}', expected 'resumed'`);
    const weather = controller.getDevices().find((d) => d.modelID === 'lumi.weather');
    if (!weather) throw new Error('lumi.weather is not in the database');
    const attrs = await weather.getEndpoint(1).read('genBasic', ['modelId']);
    note(`read ${weather.ieeeAddr} modelId=${attrs.modelId}`);
    await waitFor(/^interview successful .* model=lumi.plug$/);
  }
  await controller.stop();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(`RESULT FAIL: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
