// The unit project tests pure code only: loading a native addon there is a mistake.
process.dlopen = (_module, filename) => {
  throw new Error(
    `unit tests must not load native code (${filename}); move the test to the native project (jest.config.js)`,
  );
};
