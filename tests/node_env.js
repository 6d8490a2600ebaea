// --pre-js for the wasm test binaries: hand FERRY_* environment variables
// (FERRY_STRESS_SCALE, ...) from Node's process to the module's getenv().
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  for (var key in process.env) {
    if (key.indexOf('FERRY_') === 0) ENV[key] = process.env[key];
  }
});
