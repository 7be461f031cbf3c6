/**
 * Types for simple-peer's prebuilt browser bundle. The package source needs Node globals
 * (global, process, Buffer, events) at run time; the bundle needs none (PLATFORM.md), but
 * @types/simple-peer describes only the package entry. Only what tabring uses is typed,
 * plus `_pc`, the RTCPeerConnection on which we create our own negotiated data channel.
 */
declare module 'simple-peer/simplepeer.min.js' {
  export interface SimplePeerOptions {
    initiator?: boolean;
    config?: RTCConfiguration;
    trickle?: boolean;
    channelName?: string;
    channelConfig?: RTCDataChannelInit;
    objectMode?: boolean;
  }

  export interface SimplePeerInstance {
    /** Internal, but stable across simple-peer 9: the connection it negotiates. */
    readonly _pc: RTCPeerConnection;
    readonly connected: boolean;
    readonly destroyed: boolean;
    signal(data: unknown): void;
    destroy(err?: Error): void;
    on(event: 'signal', listener: (data: unknown) => void): this;
    on(event: 'connect' | 'close', listener: () => void): this;
    on(event: 'error', listener: (err: Error & { code?: string }) => void): this;
    on(event: 'data', listener: (chunk: unknown) => void): this;
  }

  export interface SimplePeerConstructor {
    new (options?: SimplePeerOptions): SimplePeerInstance;
    readonly WEBRTC_SUPPORT: boolean;
  }

  const SimplePeer: SimplePeerConstructor;
  export default SimplePeer;
}
