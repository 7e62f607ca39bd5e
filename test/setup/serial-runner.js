// jest's default runner, marked serial: the native project's files run one at a time, in band.
const TestRunner = require("jest-runner").default;

class SerialRunner extends TestRunner {
  get isSerial() {
    return true;
  }
}
module.exports = SerialRunner;
