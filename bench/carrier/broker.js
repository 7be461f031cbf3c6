// SharedWorker for bench/carrier.ts: pairs the first two pages that connect with a
// MessageChannel, so that they talk port to port (the broker is not on the path).
let waiting = null;
onconnect = (e) => {
  const port = e.ports[0];
  if (waiting === null) {
    waiting = port;
    return;
  }
  const { port1, port2 } = new MessageChannel();
  waiting.postMessage('paired', [port1]);
  port.postMessage('paired', [port2]);
  waiting = null;
};
