import { SERVER_URL_ENV, startVite } from './harness.ts';

/** One Vite server for the whole run; test workers inherit its URL through the environment. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const vite = await startVite();
  process.env[SERVER_URL_ENV] = vite.url;
  return () => vite.close();
}
