// Calls Baton's /call page from headless Chromium with a WAV file as the microphone, records
// what the page hears and prints the page's call state as one JSON line.
//
// usage: node call.mjs <page-url> <mic.wav> <out.webm|-> <until> <timeout-s> [pages] [stagger-ms]
//   until: "answer"         - wait for a final user line, a bot line after it, its audio, quiet
//          "answer:<text>"  - the same, for a bot line containing <text> (case-insensitive)
//          "<n>s"           - listen for n seconds after connecting
//          "script:<file.json>" - a conversation: {"steps": [{"wait": <js>, "say": <wav>}],
//                             "end": <js>}; each step waits for its condition (a JavaScript
//                             expression in the page), notes what the page shows, then
//                             speaks its WAV into the microphone. <mic.wav> is "-" then: the
//                             microphone is a Web Audio stream the steps play into.
//   pages: calls at once (one tab each, started stagger-ms apart); each tab's microphone plays
//          the WAV from its start. With more than one, the result lists them under "pages".
// The browser is the Debian package (/usr/bin/chromium or $CHROMIUM); nothing is downloaded.
import { readFileSync, writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [url, wav, out, until, timeoutArg, pagesArg, staggerArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || "60") * 1000;
const pageCount = Number(pagesArg || "1");
const staggerMs = Number(staggerArg || "0");
const started = Date.now();
const left = () => Math.max(1000, timeoutMs - (Date.now() - started));

const scenario = until.startsWith("script:")
  ? JSON.parse(readFileSync(until.slice("script:".length), "utf8"))
  : null;

// In a scripted conversation the microphone is a Web Audio stream: getUserMedia returns it,
// and window.__say(base64 WAV) plays one utterance into it (silence in between).
function installScriptedMicrophone() {
  const context = new AudioContext();
  const destination = context.createMediaStreamDestination();
  navigator.mediaDevices.getUserMedia = async () => destination.stream;
  window.__say = async (wavBase64) => {
    await context.resume();
    const bytes = Uint8Array.from(atob(wavBase64), (c) => c.charCodeAt(0));
    const buffer = await context.decodeAudioData(bytes.buffer);
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(destination);
    source.start();
    return buffer.duration;
  };
  // True once Baton has been silent for `ms` after speaking at least once.
  window.__quiet = (ms) => {
    const spans = window.batonCall.state.botSpeech;
    const last = spans[spans.length - 1];
    return Boolean(last && last.end !== null && performance.now() - last.end > ms);
  };
  // True once the page shows a question containing `text`, Baton has spoken since it
  // appeared, and has then been silent for `ms`: the moment a person would answer.
  window.__asked = (text, ms) => {
    const s = window.batonCall.state;
    if (!s.pending || !s.pending.question.includes(text)) return false;
    if (document.getElementById("pending").hidden) return false;
    const spoken = s.botSpeech.some((b) => b.start > s.pending.at && b.end !== null);
    return spoken && window.__quiet(ms);
  };
  // True once Baton's line containing `text` was shown, heard, and followed by `ms` of quiet.
  window.__said = (text, ms) => {
    const s = window.batonCall.state;
    const line = s.lines.find((l) => l.role === "bot" && l.text.includes(text));
    if (!line) return false;
    const spoken = s.botSpeech.some((b) => b.start > line.at && b.end !== null);
    return spoken && window.__quiet(ms);
  };
  window.__shown = () => ({
    pendingShown: !document.getElementById("pending").hidden,
    question: document.getElementById("question").textContent,
    status: document.getElementById("status").textContent,
    levelWidth: document.getElementById("level").style.width,
    lines: window.batonCall.state.lines.map((l) => `${l.role}: ${l.text}`),
  });
}

async function runScenario(page) {
  const snapshots = [];
  for (const step of scenario.steps) {
    await page.waitForFunction(step.wait, null, { timeout: left(), polling: 100 });
    snapshots.push(await page.evaluate(() => window.__shown()));
    const wav = readFileSync(step.say).toString("base64");
    const seconds = await page.evaluate((b64) => window.__say(b64), wav);
    await page.waitForTimeout(seconds * 1000);
  }
  await page.waitForFunction(scenario.end, null, { timeout: left(), polling: 100 });
  snapshots.push(await page.evaluate(() => window.__shown()));
  return snapshots;
}

async function waitForAnswer(page, expected) {
  await page.waitForFunction(
    (want) => {
      const s = window.batonCall.state;
      if (s.phase !== "connected") return true;
      const user = s.lines.find((l) => l.role === "user" && l.final);
      if (!user) return false;
      const answer = s.lines.find(
        (l) => l.role === "bot" && l.final && l.at > user.at && l.text.toLowerCase().includes(want),
      );
      if (!answer) return false;
      // Heard: a stretch of bot audio that began once the answer was sent, and has ended.
      const spoken = s.botSpeech.some((b) => b.start > answer.at && b.end !== null);
      // A pause between two sentences is not the end of the answer: wait for 1 s of quiet.
      const last = s.botSpeech[s.botSpeech.length - 1];
      const quiet = last && last.end !== null && performance.now() - last.end > 1000;
      return spoken && quiet;
    },
    expected,
    { timeout: left(), polling: 100 },
  );
}

async function hangUpAndCollect(page, recordTo) {
  const audioStats = await page.evaluate(() => window.batonCall.audioStats());
  const recorded = await page.evaluate(async () => {
    window.batonCall.hangUp();
    const blob = await window.batonCall.state.recording;
    if (!blob) return null;
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(text);
  });
  if (recorded && recordTo) writeFileSync(recordTo, Buffer.from(recorded, "base64"));
  const state = await page.evaluate(() => JSON.parse(JSON.stringify(window.batonCall.state)));
  delete state.recording;
  return {
    ok: state.error === null && (recordTo === null || recorded !== null),
    recorded_bytes: recorded ? Math.floor((recorded.length * 3) / 4) : 0,
    audio_stats: audioStats,
    ...state,
  };
}

async function oneCall(context, index) {
  const page = await context.newPage();
  const tag = pageCount > 1 ? ` ${index}` : "";
  page.on("console", (msg) => process.stderr.write(`[page${tag} ${msg.type()}] ${msg.text()}\n`));
  page.on("pageerror", (err) => process.stderr.write(`[page${tag} error] ${err.message}\n`));
  await page.goto(url, { timeout: left() });
  await page.click("#call", { timeout: left() });
  await page.waitForFunction(
    () => ["connected", "failed", "ended"].includes(window.batonCall.state.phase),
    null,
    { timeout: left(), polling: 50 },
  );
  let snapshots;
  try {
    if (scenario) {
      snapshots = await runScenario(page);
    } else if (until.startsWith("answer")) {
      await waitForAnswer(page, until.slice("answer:".length).toLowerCase());
    } else {
      await page.waitForTimeout(Math.min(Number(until.replace(/s$/, "")) * 1000, left()));
    }
  } catch (err) {
    // Say what the page showed when the wait gave up.
    const state = await page
      .evaluate(() => JSON.parse(JSON.stringify(window.batonCall.state)))
      .catch(() => null);
    if (state) delete state.recording;
    return { ok: false, error: String(err?.message ?? err), page_state: state };
  }
  const recordTo = out === "-" ? null : pageCount > 1 ? out.replace(/(\.\w+)?$/, `-${index}$1`) : out;
  const result = await hangUpAndCollect(page, recordTo);
  return snapshots ? { ...result, snapshots } : result;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  chromiumSandbox: false,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    ...(wav === "-" ? [] : [`--use-file-for-fake-audio-capture=${wav}%noloop`]),
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    // Tabs in the background would have their timers slowed to once a second.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
  ],
});

let result;
try {
  const calls = [];
  for (let i = 0; i < pageCount; i += 1) {
    // A fresh context per call: its own session storage, so its own sign-in.
    const context = await browser.newContext();
    if (scenario) await context.addInitScript(installScriptedMicrophone);
    calls.push(
      oneCall(context, i).catch((err) => ({ ok: false, error: String(err?.message ?? err) })),
    );
    if (staggerMs && i + 1 < pageCount) await new Promise((r) => setTimeout(r, staggerMs));
  }
  const pages = await Promise.all(calls);
  result = pageCount === 1 ? pages[0] : { ok: pages.every((p) => p.ok), pages };
} catch (err) {
  result = { ok: false, error: String(err?.message ?? err) };
} finally {
  await browser.close();
}
result.elapsed_ms = Date.now() - started;
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(result.ok ? 0 : 1);
