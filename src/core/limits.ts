/**
 * Every limit of the protocol, named with its unit. Applications get a clear error when
 * they cross one; peers drop and count messages that do.
 */

/** Largest key, in UTF-8 bytes. Keys travel in every message about them. */
export const key_bytes_max = 1024;
/** Largest value, in bytes of its JSON text. Half of a transport message, so one item always fits in one handover chunk. */
export const value_bytes_max = 128 * 1024;
/** Keys one transaction may touch: each costs r participants and their votes. */
export const tx_keys_max = 64;
/** Entries in one tx_applied or tx_forget message (each a few dozen bytes: far under message_bytes_max). */
export const tx_gc_entries_per_message_max = 1024;
/** Largest encoded message a peer accepts from the wire (the transports refuse to send larger ones). */
export const message_bytes_max = 256 * 1024;
/** Items per handover message, so that a handover of a large range is a sequence of bounded messages. */
export const handover_items_per_message_max = 256;
/** Hops a routed message may take before it is dropped (a routing loop under churn ends here). */
export const route_hops_max = 64;
/** Successor list length (Beernet uses 7): survives up to 6 consecutive crashes without losing the ring. */
export const successor_list_length = 7;
/** Finger targets at most: one per bit of the identifier space. */
export const fingers_max = 52;
/** Length of a room name, in characters. */
export const room_chars_max = 64;
/**
 * Messages one frame may carry (src/core/frame.ts). Under load a runtime sends everything
 * for one peer from one step as one frame: the per-frame cost of a transport (SCTP, DTLS,
 * a process hop in the browser) dwarfs the per-message cost of JSON.
 */
export const frame_messages_max = 512;
