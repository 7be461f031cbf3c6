/**
 * Basic types shared by every layer.
 *
 * Identifiers live on one circular space of 2^52 positions. 2^52 keeps every sum of two
 * ids below 2^53, so ring arithmetic stays exact in plain JavaScript numbers (no bigint on
 * the hot path), and with 10^4 peers the chance of an id collision is about 10^-8.
 */
export type PeerId = number;

/** A JSON value: what applications store and what the wire and storage carry. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
