// Microphone capture for vasa: hands each 128-sample block (at the context's 16 kHz) to the page.
class VasaCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("vasa-capture", VasaCapture);
