// The dashboard's public surface for the CLI and the demo.
export { runDashboard, type RunDashboardOptions } from './run-dashboard.tsx';
export { App, type AppProps } from './app.tsx';
export { DashboardController, DEFAULT_INTERVAL_MS, RETRY_MS, type DashboardState } from './controller.ts';
export type { DashboardSource, ConnectSource } from './source.ts';
