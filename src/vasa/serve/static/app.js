// vasa live page: one WebSocket session; speech in (file or microphone, 16 kHz int16),
// frames out. Audio and video share one timeline: every frame carries its presentation time
// and its own 40 ms of audio; the audio is scheduled on the AudioContext at base + time and the
// frame is painted when the audio clock (what is leaving the speakers now) reaches the same
// point, so they cannot drift apart. Protocol: src/vasa/serve/protocol.py.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const RATE = 16000;
  const MIC_CHUNK = 320; // 20 ms per message: small enough to keep the look-ahead short
  const FILE_CHUNK = 640;
  const FILE_LEAD_S = 0.2; // a file is sent this far ahead of real time (timer jitter)
  const SEND_BUFFER_LIMIT = 64 * 1024; // back-pressure: wait while the socket holds more

  const stats = {
    state: "idle", framesReceived: 0, framesPainted: 0, framesLate: 0, framesSkipped: 0,
    speechFrames: 0, samplesScheduled: 0, samplesPlayed: 0, samplesSent: 0, micSamplesSent: 0,
    syncErrorMeanMs: null, syncErrorMaxMs: null, serverLatencyMs: null, reanchors: 0,
    audioState: null, lastError: null, busy: false, speech: null,
  };
  window.vasaStats = stats;

  let ws = null, info = null, ctx = null, playGain = null, base = null, lateRun = 0;
  let queue = []; // decoded frames waiting for their time: {t, bmp}
  let speech = null; // the running speech source: {stop()}
  let syncSum = 0, syncN = 0, workletLoaded = false;
  const canvas = $("view"), g2d = canvas.getContext("2d");

  function status(text, error = false) {
    $("status").textContent = text;
    $("status").className = error ? "error" : "";
    if (error) stats.lastError = text;
  }

  function audioContext() {
    if (!ctx) {
      // One 16 kHz context: the browser resamples files and the microphone to it, and plays
      // the frames' 16 kHz audio on the same clock the painter reads.
      ctx = new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
      playGain = ctx.createGain();
      playGain.connect(ctx.destination);
    }
    return ctx;
  }

  // The context time of the sound leaving the speakers now.
  function audibleTime() {
    const ts = ctx.getOutputTimestamp ? ctx.getOutputTimestamp() : null;
    if (ts && ts.contextTime > 0 && ts.performanceTime > 0) {
      return ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
    }
    return ctx.currentTime - (ctx.outputLatency || 0);
  }

  function authHeaders(extra = {}) {
    return TOKEN ? { ...extra, Authorization: "Bearer " + TOKEN } : extra;
  }

  // ---- controls ---------------------------------------------------------------------------
  const controlInputs = [...document.querySelectorAll("[data-control]")];

  function controlValue(el) {
    const name = el.dataset.control;
    if (name === "still_head") return el.checked;
    if (name === "distance") return $("distance-auto").checked ? null : Number(el.value);
    if (el.type === "range") return Number(el.value);
    return el.value;
  }

  function currentControls() {
    const out = {};
    for (const el of controlInputs) out[el.dataset.control] = controlValue(el);
    return out;
  }

  function showValue(el) {
    const o = el.parentElement.querySelector("output");
    const auto = el.dataset.control === "distance" && $("distance-auto").checked;
    if (o) o.textContent = auto ? "typical" : el.value;
  }

  function sendControl(el) {
    showValue(el);
    if (ws && ws.readyState === WebSocket.OPEN && info) {
      ws.send(JSON.stringify({ type: "controls", [el.dataset.control]: controlValue(el) }));
    }
  }

  for (const el of controlInputs) {
    showValue(el);
    el.addEventListener(el.type === "range" ? "input" : "change", () => sendControl(el));
  }
  $("distance-auto").addEventListener("change", () =>
    sendControl(document.querySelector('[data-control="distance"]')));

  // ---- session ----------------------------------------------------------------------------
  async function connect() {
    disconnect();
    const ac = audioContext();
    await ac.resume();
    let portrait = "bundled";
    const file = $("portrait-file").files[0];
    if (file) {
      status("Encoding the portrait...");
      const r = await fetch("api/portrait", {
        method: "POST", body: file,
        headers: authHeaders({ "Content-Type": file.type || "application/octet-stream" }),
      });
      const j = await r.json().catch(() => ({ error: r.statusText }));
      if (!r.ok) { status("Portrait refused: " + j.error, true); return; }
      portrait = j.portrait;
    }
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (TOKEN) url.searchParams.set("token", TOKEN);
    status("Connecting...");
    stats.state = "connecting";
    const sock = new WebSocket(url);
    ws = sock;
    sock.binaryType = "arraybuffer";
    sock.onopen = () => sock.send(JSON.stringify({
      type: "start", portrait, sample_rate: RATE, controls: currentControls() }));
    sock.onmessage = (e) => {
      if (sock !== ws) return;
      if (typeof e.data === "string") onText(JSON.parse(e.data)); else onFrame(e.data);
    };
    sock.onclose = (e) => {
      if (sock !== ws) return;
      if (!stats.busy) status(e.code === 1000 || e.code === 1005 ? "Disconnected."
        : `Disconnected (${e.code}${e.reason ? ": " + e.reason : ""}).`, e.code !== 1000);
      cleanup();
    };
  }

  function onText(msg) {
    if (msg.type === "ready") {
      info = msg;
      // Frames have the portrait's own aspect ratio: the canvas takes their size and shape.
      canvas.width = msg.width;
      canvas.height = msg.height;
      canvas.style.aspectRatio = `${msg.width} / ${msg.height}`;
      canvas.style.width = msg.width >= msg.height ? "512px" : `${Math.round(512 * msg.width / msg.height)}px`;
      stats.state = "running";
      status(`Live: ${msg.fps} frames/s, ${Math.round(msg.latency_s * 1000)} ms of audio ` +
             `look-ahead, ${msg.steps} sampler steps.`);
      setEnabled(true);
    } else if (msg.type === "busy") {
      stats.busy = true;
      stats.state = "busy";
      status(msg.message, true);
    } else if (msg.type === "error") {
      status(`Server: ${msg.message}`, true);
    }
  }

  function onFrame(buf) {
    const dv = new DataView(buf);
    if (dv.getUint32(0, true) !== 0x31465356) return; // "VSF1"
    const t = dv.getFloat64(8, true), arrival = dv.getFloat64(16, true);
    const sent = dv.getFloat64(24, true);
    const nAudio = dv.getUint32(32, true), nJpeg = dv.getUint32(36, true);
    const pcm = new Int16Array(buf, 40, nAudio);
    const jpeg = new Uint8Array(buf, 40 + 2 * nAudio, nJpeg);
    stats.framesReceived++;
    if (arrival >= 0) { stats.speechFrames++; stats.serverLatencyMs = (sent - arrival) * 1000; }
    // The first frame fixes the timeline: it plays playout_delay_s from now.
    if (base === null) base = ctx.currentTime + info.playout_delay_s - t;
    if (base + t < ctx.currentTime) { // its time has passed: late
      stats.framesLate++;
      if (++lateRun >= 3) { // the stream fell behind (a stall): shift the timeline, once
        base = ctx.currentTime + info.playout_delay_s - t;
        stats.reanchors++;
        lateRun = 0;
      }
    } else {
      lateRun = 0;
    }
    if (base + t >= ctx.currentTime) scheduleAudio(pcm, base + t);
    createImageBitmap(new Blob([jpeg], { type: "image/jpeg" })).then((bmp) => {
      let i = queue.length; // keep time order
      while (i > 0 && queue[i - 1].t > t) i--;
      queue.splice(i, 0, { t, bmp });
    }, () => { stats.lastError = "undecodable frame"; });
  }

  function scheduleAudio(pcm, when) {
    const buffer = ctx.createBuffer(1, pcm.length, info.sample_rate);
    const ch = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const src = ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(playGain);
    src.onended = () => { stats.samplesPlayed += pcm.length; };
    src.start(when);
    stats.samplesScheduled += pcm.length;
  }

  // Paint the newest frame whose time the audio clock has reached.
  function paint() {
    requestAnimationFrame(paint);
    if (!ctx || base === null || !queue.length) return;
    const now = audibleTime();
    let pick = -1;
    while (pick + 1 < queue.length && base + queue[pick + 1].t <= now) pick++;
    if (pick < 0) return;
    for (let i = 0; i < pick; i++) { queue[i].bmp.close(); stats.framesSkipped++; }
    const f = queue[pick];
    queue = queue.slice(pick + 1);
    g2d.drawImage(f.bmp, 0, 0, canvas.width, canvas.height);
    f.bmp.close();
    const err = (now - (base + f.t)) * 1000; // how long after its time it was painted
    stats.framesPainted++;
    syncSum += err; syncN++;
    stats.syncErrorMeanMs = syncSum / syncN;
    stats.syncErrorMaxMs = Math.max(stats.syncErrorMaxMs || 0, err);
  }
  requestAnimationFrame(paint);

  function cleanup() {
    stopSpeech();
    for (const f of queue) f.bmp.close();
    queue = []; base = null; info = null; lateRun = 0;
    if (stats.state !== "busy") stats.state = "closed";
    setEnabled(false);
  }

  function disconnect() {
    if (ws) { const old = ws; ws = null; old.close(1000); }
    stats.busy = false;
    cleanup();
  }

  function setEnabled(live) {
    for (const id of ["play-bundled", "mic", "audio-file", "disconnect"]) $(id).disabled = !live;
    $("stop-speech").disabled = !live || !speech;
  }

  // ---- speech sources ---------------------------------------------------------------------
  function toInt16(f32) {
    const out = new Int16Array(f32.length);
    for (let i = 0; i < f32.length; i++) {
      const s = Math.max(-1, Math.min(1, f32[i]));
      out[i] = s < 0 ? s * 32768 : s * 32767;
    }
    return out;
  }

  function stopSpeech() {
    if (speech) { speech.stop(); speech = null; }
    stats.speech = null;
    $("stop-speech").disabled = true;
  }

  // A decoded file, sent in real time (a little ahead), as a voice would arrive.
  function streamSamples(samples, label) {
    stopSpeech();
    playGain.gain.value = 1;
    let pos = 0;
    const t0 = performance.now();
    const timer = setInterval(() => {
      const due = ((performance.now() - t0) / 1000 + FILE_LEAD_S) * RATE;
      while (pos < samples.length && pos < due && ws && ws.bufferedAmount < SEND_BUFFER_LIMIT) {
        const chunk = toInt16(samples.subarray(pos, pos + FILE_CHUNK));
        ws.send(chunk.buffer);
        pos += chunk.length;
        stats.samplesSent += chunk.length;
      }
      if (pos >= samples.length) { stopSpeech(); status(`Sent ${label}; idling.`); }
    }, 20);
    speech = { stop: () => clearInterval(timer) };
    stats.speech = "file";
    $("stop-speech").disabled = false;
    status(`Streaming ${label} (${(samples.length / RATE).toFixed(1)} s)...`);
  }

  async function decodeAndStream(arrayBuffer, label) {
    let decoded;
    try {
      decoded = await audioContext().decodeAudioData(arrayBuffer); // resampled to 16 kHz
    } catch (e) {
      status(`Cannot decode ${label}: not an audio format this browser reads.`, true);
      return;
    }
    let mono = decoded.getChannelData(0);
    if (decoded.numberOfChannels > 1) {
      mono = new Float32Array(decoded.length);
      for (let c = 0; c < decoded.numberOfChannels; c++) {
        const ch = decoded.getChannelData(c);
        for (let i = 0; i < ch.length; i++) mono[i] += ch[i] / decoded.numberOfChannels;
      }
    }
    streamSamples(mono, label);
  }

  async function playBundled() {
    const r = await fetch("api/speech.wav", { headers: authHeaders() });
    if (!r.ok) { status("Cannot load the bundled speech.", true); return; }
    await decodeAndStream(await r.arrayBuffer(), "the bundled speech");
  }

  async function playFile() {
    const file = $("audio-file").files[0];
    if (!file) return;
    if (file.size > 200 * 1024 * 1024) { status("Audio file over 200 MB.", true); return; }
    await decodeAndStream(await file.arrayBuffer(), file.name);
  }

  async function startMic() {
    stopSpeech();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true,
                 autoGainControl: true } });
    } catch (e) {
      status("Microphone unavailable: " + e.message, true);
      return;
    }
    const ac = audioContext();
    if (!workletLoaded) { await ac.audioWorklet.addModule("capture-worklet.js"); workletLoaded = true; }
    const src = ac.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ac, "vasa-capture", { numberOfOutputs: 1 });
    const sink = ac.createGain(); // a worklet is only run while connected to the output
    sink.gain.value = 0;
    src.connect(node); node.connect(sink); sink.connect(ac.destination);
    let pending = new Float32Array(0);
    node.port.onmessage = (e) => {
      const block = e.data;
      const joined = new Float32Array(pending.length + block.length);
      joined.set(pending); joined.set(block, pending.length);
      pending = joined;
      while (pending.length >= MIC_CHUNK) {
        const chunk = toInt16(pending.subarray(0, MIC_CHUNK));
        pending = pending.slice(MIC_CHUNK);
        if (ws && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < SEND_BUFFER_LIMIT) {
          ws.send(chunk.buffer);
          stats.micSamplesSent += chunk.length;
          stats.samplesSent += chunk.length;
        }
      }
    };
    const monitor = () => { playGain.gain.value = $("monitor").checked ? 1 : 0; };
    monitor();
    $("monitor").onchange = monitor;
    speech = {
      stop: () => {
        node.port.onmessage = null;
        src.disconnect(); node.disconnect(); sink.disconnect();
        for (const tr of stream.getTracks()) tr.stop();
        playGain.gain.value = 1;
        $("monitor").onchange = null;
      },
    };
    stats.speech = "mic";
    $("stop-speech").disabled = false;
    status("Listening to the microphone...");
  }

  // ---- wiring -----------------------------------------------------------------------------
  const guard = (fn) => () => fn().catch((e) => status(String(e), true));
  $("connect").onclick = guard(connect);
  $("disconnect").onclick = () => { disconnect(); status("Stopped."); };
  $("play-bundled").onclick = guard(playBundled);
  $("audio-file").onchange = guard(playFile);
  $("mic").onclick = guard(startMic);
  $("stop-speech").onclick = () => { stopSpeech(); status("Speech stopped; idling."); };

  setInterval(() => {
    if (ctx) stats.audioState = ctx.state;
    if (stats.state !== "running") { $("stats").textContent = ""; return; }
    const f = (v, d = 0) => (v === null ? "-" : v.toFixed(d));
    $("stats").textContent =
      `frames ${stats.framesPainted} painted / ${stats.framesReceived} received, ` +
      `${stats.framesLate} late\n` +
      `A/V offset ${f(stats.syncErrorMeanMs)} ms mean, ${f(stats.syncErrorMaxMs)} ms max\n` +
      `server: audio in -> frame out ${f(stats.serverLatencyMs)} ms`;
  }, 500);
})();
