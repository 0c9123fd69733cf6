// Baton call page: one WebRTC call through POST/PATCH /api/offer. The data channel carries
// Baton's call events (label "baton": transcript lines, the pending question, the run's state)
// and, when the pipeline sends them, pipecat's RTVI messages. The page also times, from the
// audio itself, when the caller and Baton are audible. Plain browser JavaScript, no build step.
"use strict";

(() => {
  const RTVI_LABEL = "rtvi-ai";
  const RTVI_VERSION = "2.2.0";
  const KEY_STORAGE = "baton.apiKey";
  // pipecat's server treats the peer as gone after 3 s without a ping.
  const PING_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    app: $("app"),
    status: $("status"),
    signin: $("signin"),
    signinForm: $("signin-form"),
    apiKey: $("api-key"),
    call: $("call"),
    level: $("level"),
    record: $("record"),
    download: $("download"),
    pending: $("pending"),
    question: $("question"),
    transcript: $("transcript"),
    audio: $("remote-audio"),
  };

  // What the page knows about the call, readable by scripts driving the page.
  const call = {
    phase: "idle", // idle | connecting | connected | ended | failed
    pcId: null,
    error: null,
    startedAt: null, // performance.now() when Call was pressed
    connectedAt: null, // ...and when the peer connection came up
    timing: {}, // performance.now() of the steps in between: mic, offered, answered
    botSpeaking: false, // the page hears the bot right now
    pending: null,
    run: {}, // the latest "state" event: run id, status
    lines: [], // {role: "user"|"bot", text, final, at: performance.now(), source}
    userSpeech: [], // {start, end} of each stretch of microphone sound (performance.now())
    botSpeech: [], // {start, end} of each stretch of sound heard from Baton
    events: [], // RTVI message types in arrival order
    recording: null, // Promise<Blob> once a recorded call has ended
  };
  let pc = null;
  let channel = null;
  let mic = null;
  let recorder = null;
  let pingTimer = null;
  let audioContext = null;
  let levelStops = [];
  let candidateQueue = [];
  const botSegments = new Map();
  let partialUserLine = null;
  let batonTranscript = false;

  // --- sign-in --------------------------------------------------------------------------

  function takeKeyFromFragment() {
    // A link like /call#key=... signs the tab in without putting the key in server logs.
    const params = new URLSearchParams(location.hash.slice(1));
    const key = params.get("key");
    if (key) {
      sessionStorage.setItem(KEY_STORAGE, key);
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function apiKey() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  function showSignIn(message) {
    ui.signin.hidden = false;
    if (message) setStatus(message);
  }

  ui.signinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, ui.apiKey.value.trim());
    ui.apiKey.value = "";
    ui.signin.hidden = true;
    setStatus("Signed in. Press Call.");
  });

  // --- helpers --------------------------------------------------------------------------

  function setStatus(text) {
    ui.status.textContent = text;
  }

  function setPhase(phase) {
    call.phase = phase;
    const inCall = phase === "connecting" || phase === "connected";
    ui.call.textContent = inCall ? "Hang up" : "Call";
    ui.call.setAttribute("aria-pressed", String(inCall));
  }

  function iceServers() {
    try {
      return JSON.parse(ui.app.dataset.iceServers || "[]").map((urls) => ({ urls }));
    } catch {
      return [];
    }
  }

  async function signalling(method, body) {
    const headers = { "Content-Type": "application/json" };
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch("/api/offer", {
      method,
      headers,
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    if (response.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      showSignIn("Please sign in to call.");
      throw new Error("not signed in");
    }
    if (!response.ok) {
      let reason = `${response.status}`;
      try {
        const payload = await response.json();
        const detail = payload.detail ?? payload;
        reason = typeof detail === "string" ? detail : JSON.stringify(detail);
      } catch {
        // The status line is all there is.
      }
      throw new Error(reason);
    }
    return response.status === 204 ? null : response.json();
  }

  // --- transcript -----------------------------------------------------------------------

  function addLine(role, text, final, source = "rtvi") {
    const item = document.createElement("li");
    item.className = role + (final ? "" : " partial");
    item.textContent = text;
    ui.transcript.append(item);
    const line = { role, text, final, at: performance.now(), source };
    call.lines.push(line);
    return { item, line };
  }

  function updateLine(entry, text, final) {
    entry.item.textContent = text;
    entry.item.classList.toggle("partial", !final);
    entry.line.text = text;
    entry.line.final = final;
  }

  function onUserInput(data) {
    if (!data.text || batonTranscript) return;
    if (data.final) {
      if (partialUserLine) updateLine(partialUserLine, data.text, true);
      else addLine("user", data.text, true);
      partialUserLine = null;
    } else if (partialUserLine) {
      updateLine(partialUserLine, data.text, false);
    } else {
      partialUserLine = addLine("user", data.text, false);
    }
  }

  function onBotOutput(data) {
    if (!data.text || batonTranscript) return;
    // One segment (a sentence) arrives as "new", then "completed" once it was spoken.
    const id = data.segment_id ?? `t${call.lines.length}`;
    const final = data.spoken_status !== "new" || data.will_be_spoken === false;
    const entry = botSegments.get(id);
    if (entry) updateLine(entry, data.text, final);
    else botSegments.set(id, addLine("bot", data.text, final));
  }

  // Baton's own call events (voice.session.CallSession.emit): the pending question, the
  // run's state, and transcript lines the pipeline's RTVI messages do not already show.
  function onBatonEvent(event) {
    if (!event || typeof event !== "object") return;
    if (event.type === "question") {
      const question = event.question ?? event.text ?? null;
      if (question) {
        call.pending = { approvalId: event.approval_id ?? null, question, at: performance.now() };
        ui.question.textContent = question;
        ui.pending.hidden = false;
      } else {
        call.pending = null;
        ui.pending.hidden = true;
      }
    } else if (event.type === "state") {
      call.run = { ...call.run, ...event };
      delete call.run.type;
      delete call.run.label;
      // Only a run waiting for a person has a question pending.
      if (event.status && event.status !== "waiting_for_human") {
        call.pending = null;
        ui.pending.hidden = true;
      }
      if (event.text) setStatus(event.text);
    } else if (event.type === "transcript" && event.text) {
      // The bridge's lines are what the run heard and said; from now on they are the
      // transcript, and pipecat's per-sentence RTVI lines would only repeat them.
      batonTranscript = true;
      const role = event.role === "user" || event.role === "caller" ? "user" : "bot";
      const text = String(event.text);
      // The RTVI line just before may be this very line, seen first by pipecat.
      const last = call.lines[call.lines.length - 1];
      const repeat = last?.source === "rtvi" && last.role === role && last.text.trim() === text.trim();
      if (!repeat) addLine(role, text, event.final !== false, "baton");
    }
  }

  // --- RTVI over the data channel ---------------------------------------------------------

  function sendRtvi(type, data) {
    if (channel?.readyState !== "open") return;
    const id = Math.random().toString(36).slice(2, 10);
    channel.send(JSON.stringify({ label: RTVI_LABEL, type, id, data }));
  }

  function onChannelMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type === "signalling") {
      const kind = message.message?.type;
      if (kind === "renegotiate") renegotiate().catch((error) => fail(error));
      else if (kind === "peerLeft") endCall("The call ended.");
      return;
    }
    if (message.label === "baton") {
      onBatonEvent(message);
      return;
    }
    if (message.label !== RTVI_LABEL) return;
    call.events.push(message.type);
    const data = message.data || {};
    switch (message.type) {
      case "bot-ready":
        setStatus("Connected. Speak any time.");
        break;
      case "user-input":
        if (data.input_type === "transcription") onUserInput(data);
        break;
      case "bot-output":
        onBotOutput(data);
        break;
      case "server-message":
        onBatonEvent(data);
        break;
      case "error":
        setStatus(`Error: ${data.message || "unknown"}`);
        break;
      default:
        break;
    }
  }

  // --- levels: the meter, and when each side is audible ----------------------------------

  // Speech is above about -45 dBFS; a gap shorter than the hangover does not end it.
  const SPEECH_DB = -45;
  const HANGOVER_MS = 350;
  const LEVEL_EVERY_MS = 10;

  // Watches a stream's level every 10 ms: calls onLevel(dB) and keeps the stretches of
  // sound in `spans` ({start, end} on the performance.now() clock; end is null while on).
  function watchLevel(context, stream, spans, onLevel) {
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let lastLoud = -Infinity;
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const db = 20 * Math.log10(Math.sqrt(sum / samples.length) || 1e-6);
      const now = performance.now();
      const open = spans.length > 0 && spans[spans.length - 1].end === null;
      if (db > SPEECH_DB) {
        if (!open) spans.push({ start: now, end: null });
        lastLoud = now;
      } else if (open && now - lastLoud > HANGOVER_MS) {
        spans[spans.length - 1].end = lastLoud;
      }
      if (onLevel) onLevel(db);
    }, LEVEL_EVERY_MS);
    return () => clearInterval(timer);
  }

  function showLevel(db) {
    // Map -60..0 dBFS onto the bar.
    ui.level.style.width = `${Math.max(0, Math.min(100, ((db + 60) / 60) * 100))}%`;
  }

  // --- recording ------------------------------------------------------------------------

  function startRecording(stream) {
    const chunks = [];
    recorder = new MediaRecorder(stream, { mimeType: "audio/webm;codecs=opus" });
    recorder.ondataavailable = (event) => {
      if (event.data.size) chunks.push(event.data);
    };
    call.recording = new Promise((resolve) => {
      recorder.onstop = () => {
        const blob = new Blob(chunks, { type: "audio/webm" });
        ui.download.href = URL.createObjectURL(blob);
        ui.download.hidden = false;
        resolve(blob);
      };
    });
    recorder.start(250);
  }

  // --- the call -------------------------------------------------------------------------

  async function flushCandidates() {
    if (!call.pcId || candidateQueue.length === 0) return;
    const candidates = candidateQueue;
    candidateQueue = [];
    await signalling("PATCH", { pc_id: call.pcId, candidates });
  }

  async function renegotiate() {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const answer = await signalling("POST", {
      sdp: offer.sdp,
      type: offer.type,
      pc_id: call.pcId,
    });
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
  }

  async function startCall() {
    // Without a key the web view's session (a cookie) may still sign the call in.
    setPhase("connecting");
    setStatus("Connecting…");
    call.startedAt = performance.now();
    call.connectedAt = null;
    call.timing = {};
    batonTranscript = false;
    partialUserLine = null;
    botSegments.clear();
    call.error = null;
    call.pending = null;
    ui.pending.hidden = true;
    ui.download.hidden = true;
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    call.timing.mic = performance.now();
    audioContext = new AudioContext();
    levelStops.push(watchLevel(audioContext, mic, call.userSpeech, showLevel));

    pc = new RTCPeerConnection({ iceServers: iceServers() });
    pc.addTransceiver(mic.getAudioTracks()[0], { direction: "sendrecv", streams: [mic] });
    channel = pc.createDataChannel("baton", { ordered: true });
    channel.onopen = () => {
      sendRtvi("client-ready", {
        version: RTVI_VERSION,
        about: { library: "baton-call-page", platform: navigator.userAgent },
      });
      pingTimer = setInterval(() => {
        if (channel?.readyState === "open") channel.send(`ping: ${Date.now()}`);
      }, PING_MS);
    };
    channel.onmessage = onChannelMessage;

    pc.ontrack = (event) => {
      if (event.track.kind !== "audio") return;
      const stream = event.streams[0] || new MediaStream([event.track]);
      ui.audio.srcObject = stream;
      ui.audio.play().catch(() => setStatus("Press Call again to allow audio."));
      // Chrome feeds a remote track to Web Audio only while a media element plays it.
      levelStops.push(
        watchLevel(audioContext, stream, call.botSpeech, () => {
          const spans = call.botSpeech;
          call.botSpeaking = spans.length > 0 && spans[spans.length - 1].end === null;
        }),
      );
      if (ui.record.checked && !recorder) startRecording(stream);
    };
    pc.onicecandidate = (event) => {
      if (!event.candidate || !event.candidate.candidate) return;
      candidateQueue.push({
        candidate: event.candidate.candidate,
        sdp_mid: event.candidate.sdpMid,
        sdp_mline_index: event.candidate.sdpMLineIndex,
      });
      flushCandidates().catch((error) => fail(error));
    };
    pc.onconnectionstatechange = () => {
      const state = pc?.connectionState;
      if (state === "connected") {
        call.connectedAt = call.connectedAt ?? performance.now();
        setPhase("connected");
        setStatus("Connected. Speak any time.");
      } else if (state === "failed") {
        fail(new Error("the connection failed"));
      } else if (state === "closed") {
        // "disconnected" is left alone: Chrome often recovers from it by itself.
        endCall("The call ended.");
      }
    };

    await pc.setLocalDescription(await pc.createOffer());
    call.timing.offered = performance.now();
    const offer = pc.localDescription;
    const answer = await signalling("POST", { sdp: offer.sdp, type: offer.type });
    call.timing.answered = performance.now();
    call.pcId = answer.pc_id;
    await pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type });
    await flushCandidates();
  }

  function endCall(message) {
    if (call.phase === "idle" || call.phase === "ended" || call.phase === "failed") return;
    sendRtvi("disconnect-bot");
    clearInterval(pingTimer);
    pingTimer = null;
    if (recorder && recorder.state !== "inactive") recorder.stop();
    recorder = null;
    levelStops.forEach((stop) => stop());
    levelStops = [];
    showLevel(-100);
    audioContext?.close();
    audioContext = null;
    mic?.getTracks().forEach((track) => track.stop());
    mic = null;
    channel = null;
    const closing = pc;
    pc = null;
    closing?.close();
    call.pcId = null;
    candidateQueue = [];
    setPhase(call.error ? "failed" : "ended");
    setStatus(message);
  }

  function fail(error) {
    call.error = String(error.message || error);
    endCall(`Call failed: ${call.error}`);
  }

  ui.call.addEventListener("click", () => {
    if (call.phase === "connecting" || call.phase === "connected") {
      endCall("You hung up.");
      return;
    }
    ui.call.disabled = true;
    startCall()
      .catch((error) => fail(error))
      .finally(() => {
        ui.call.disabled = false;
      });
  });

  // --- start-up -------------------------------------------------------------------------

  takeKeyFromFragment();
  ui.record.checked = new URLSearchParams(location.search).get("record") === "1";
  setStatus("Press Call to talk to Baton.");

  // How the audio from Baton is doing: the browser's jitter buffer delay, losses, round trip.
  async function audioStats() {
    if (!pc) return null;
    const stats = { jitterBufferMs: null, packetsLost: null, roundTripMs: null };
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "audio") {
        if (report.jitterBufferEmittedCount) {
          stats.jitterBufferMs =
            (1000 * report.jitterBufferDelay) / report.jitterBufferEmittedCount;
        }
        stats.packetsLost = report.packetsLost ?? null;
      } else if (report.type === "candidate-pair" && report.nominated) {
        if (report.currentRoundTripTime !== undefined) {
          stats.roundTripMs = 1000 * report.currentRoundTripTime;
        }
      }
    });
    return stats;
  }

  window.batonCall = {
    get state() {
      return call;
    },
    hangUp: () => endCall("You hung up."),
    audioStats,
  };
})();
