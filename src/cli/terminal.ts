// Makes ink draw live on a real terminal even where CI or CONTINUOUS_INTEGRATION is set: ink (is-in-ci,
// read once when ink loads) would otherwise render only the last frame, leaving a blank dashboard.
// It knows nothing of the dashboard; callers run it before ink is imported.

/** On a TTY, clears the two variables ink reads; elsewhere (pipes, logs) leaves them as they are. */
export function preferLiveTerminal(): void {
  if (!process.stdout.isTTY) return;
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
}
