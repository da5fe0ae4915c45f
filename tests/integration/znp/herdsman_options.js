// The zigbee-herdsman Controller options the tests here share: the network they form (PAN id,
// extended PAN id, channel, key), the coordinator at tcp://127.0.0.1:PORT (or PORT, a path: a
// serial port, such as hubsim znp --pty's), and the database and
// coordinator backup in DIR.
'use strict';
const path = require('node:path');

module.exports = function controllerOptions(port, dir) {
  return {
    network: {
      panID: 0x1a62,
      extendedPanID: [0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd],
      channelList: [15],
      networkKey: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13],
    },
    serialPort: {path: /^[0-9]+$/.test(String(port)) ? `tcp://127.0.0.1:${port}` : port, adapter: 'zstack'},
    databasePath: path.join(dir, 'database.db'),
    databaseBackupPath: path.join(dir, 'database.db.backup'),
    backupPath: path.join(dir, 'coordinator_backup.json'),
    adapter: {disableLED: false},
    acceptJoiningDeviceHandler: async () => true,
  };
};
