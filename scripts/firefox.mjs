// Debian's Firefox ESR as every headless run of this project launches it
// (the Playwright suite's firefox project and the browser benchmarks), the
// twin of scripts/chromium.mjs. Playwright drives it over WebDriver BiDi
// (channel 'moz-firefox': no Playwright-patched Firefox build, no
// geckodriver); the executable is scripts/firefox-bidi.mjs, which starts
// /usr/bin/firefox-esr and stands in for the one BiDi command Playwright
// sends that Firefox ESR lacks (see its header).
import { fileURLToPath } from 'node:url';

export const firefoxPath = '/usr/bin/firefox-esr';
export const firefoxLauncher = fileURLToPath(new URL('./firefox-bidi.mjs', import.meta.url));

// Launch options for playwright's firefox.launch(), plus any preferences.
export function firefoxLaunchOptions(extraPrefs = {}) {
  return {
    channel: 'moz-firefox',
    executablePath: firefoxLauncher,
    firefoxUserPrefs: extraPrefs,
  };
}
