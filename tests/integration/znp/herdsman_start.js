// Starts a zigbee-herdsman Controller against a ZNP coordinator at tcp://127.0.0.1:PORT, with
// its database and coordinator backup in DIR, and checks what start() returns and that
// permitJoin succeeds. Prints one line per step; exit 0 only when start() returned EXPECT.
//   node herdsman_start.js PORT DIR EXPECT
'use strict';
const path = require('node:path');
const {Controller} = require('zigbee-herdsman');

const [port, dir, expect] = process.argv.slice(2);
if (!port || !dir || !expect) {
  console.error('usage: node herdsman_start.js PORT DIR EXPECT');
  process.exit(2);
}

async function main() {
  const controller = new Controller({
    network: {
      panID: 0x1a62,
      extendedPanID: [0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd],
      channelList: [15],
      networkKey: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13],
    },
    serialPort: {path: `tcp://127.0.0.1:${port}`, adapter: 'zstack'},
    databasePath: path.join(dir, 'database.db'),
    databaseBackupPath: path.join(dir, 'database.db.backup'),
    backupPath: path.join(dir, 'coordinator_backup.json'),
    adapter: {disableLED: false},
    acceptJoiningDeviceHandler: async () => true,
  });
  const result = await controller.start();
  console.log(`RESULT start=${result}`);
  await controller.permitJoin(60);
  const permitted = controller.getPermitJoin();
  console.log(`RESULT permitJoin=${permitted}`);
  if (permitted !== true) {
    console.log('RESULT FAIL: permitJoin(60) did not open the network');
    process.exit(1);
  }
  await controller.permitJoin(0);
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
