/**
 * WebRTC for Node: simple-peer (the package build, which runs in Node) over @roamhq/wrtc,
 * a prebuilt libwebrtc binding shipped in the npm package (PLATFORM.md "Node.js peers":
 * works with simple-peer as it is). ConnectionManager takes any simple-peer constructor;
 * this one injects the binding and otherwise behaves like the browser bundle.
 */
import { createRequire } from 'node:module';
import type { SimplePeerConstructor, SimplePeerOptions } from 'simple-peer/simplepeer.min.js';

const require = createRequire(import.meta.url);

interface Loaded {
  SimplePeer: SimplePeerConstructor;
  wrtc: object;
}

let loaded: Loaded | null = null;

/** Loads the binding on first use, with a message that says what to install when it is missing. */
function load(): Loaded {
  if (loaded !== null) return loaded;
  let wrtc: object;
  try {
    wrtc = require('@roamhq/wrtc') as object;
  } catch (e) {
    throw new Error(`WebRTC for Node is missing: npm install @roamhq/wrtc (${e instanceof Error ? e.message : String(e)})`);
  }
  const SimplePeer = require('simple-peer') as SimplePeerConstructor;
  loaded = { SimplePeer, wrtc };
  return loaded;
}

/** A simple-peer constructor bound to the Node WebRTC binding. */
export function nodeSimplePeer(): SimplePeerConstructor {
  const { SimplePeer, wrtc } = load();
  const Bound = function (this: unknown, options?: SimplePeerOptions) {
    return new SimplePeer({ ...options, wrtc } as SimplePeerOptions);
  } as unknown as SimplePeerConstructor;
  return Bound;
}
