// jest's default runner, marked serial: the native project's files run one at a time, in band.
// (Set in the constructor: the base class declares `isSerial` as an instance field.)
const TestRunner = require("jest-runner").default;

class SerialRunner extends TestRunner {
  constructor(...args) {
    super(...args);
    this.isSerial = true;
  }
}
module.exports = SerialRunner;
