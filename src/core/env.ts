/**
 * What the protocol may know of the world, handed in by the driver: the time and a seeded
 * source of randomness. Under simulation both are virtual, so a run replays from its seed.
 */
export interface Env {
  /** Milliseconds; virtual in the simulator, wall clock in a browser or Node peer. */
  now(): number;
  /** Uniform in [0, 1), from a seeded generator. */
  random(): number;
}
