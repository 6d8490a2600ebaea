// Debian's Chromium as every headless run of this project launches it (the
// Playwright suite, the headless demo, the benchmarks and their report):
// as root in a container, with no network but loopback (shared/TOOLCHAIN.md).
export const chromiumPath = '/usr/bin/chromium';
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

// Launch options for playwright's chromium.launch(), plus any extra flags.
export function chromiumLaunchOptions(extraArgs = []) {
  return { executablePath: chromiumPath, args: [...chromiumArgs, ...extraArgs] };
}
