// Baileys receiving a burst through wamd.sim, for bench/e2e_vs_baileys.py.
//
//   node baileys_recv.js WS_URL AUTH_DIR
//
// Links by QR ("QR <text>", then "OPEN <jid>"), with useMultiFileAuthState and the key
// cache of Baileys' README. On "EXPECT <n>" (stdin) it starts the clock and counts text
// messages; at the n-th it prints "DONE <wall seconds> <cpu seconds>" (process.cpuUsage,
// user + system, of this process). Reconnects after the 515 restart; "QUIT" ends it.
"use strict";

const readline = require("readline");
const {
  default: makeWASocket,
  useMultiFileAuthState,
  makeCacheableSignalKeyStore,
  DisconnectReason,
} = require("baileys");

const [url, authDir] = process.argv.slice(2);
const log = (level) => (obj, msg) => {
  if (level === "error" || level === "fatal") process.stderr.write(`${level} ${msg || ""}\n`);
};
const silent = {
  level: "error",
  child() { return silent; },
  trace: log("trace"), debug: log("debug"), info: log("info"),
  warn: log("warn"), error: log("error"), fatal: log("fatal"),
};
let want = 0;
let got = 0;
let wall0 = 0n;
let cpu0 = null;

function say(...parts) {
  process.stdout.write(parts.join(" ") + "\n");
}

async function start() {
  const { state, saveCreds } = await useMultiFileAuthState(authDir);
  const sock = makeWASocket({
    auth: { creds: state.creds, keys: makeCacheableSignalKeyStore(state.keys, silent) },
    waWebSocketUrl: url,
    logger: silent,
    printQRInTerminal: false,
    markOnlineOnConnect: true,
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false,
  });
  sock.ev.on("creds.update", saveCreds);
  sock.ev.on("connection.update", (update) => {
    if (update.qr) say("QR", update.qr);
    if (update.connection === "open") say("OPEN", sock.user.id);
    if (update.connection === "close") {
      const code = update.lastDisconnect?.error?.output?.statusCode ?? 0;
      say("CLOSE", code);
      if (code !== DisconnectReason.loggedOut) setTimeout(start, 100);
      else process.exit(0);
    }
  });
  sock.ev.on("messages.upsert", ({ messages }) => {
    for (const msg of messages) {
      if (process.env.BENCH_DEBUG) say("UPSERT", JSON.stringify(msg.key), JSON.stringify(msg.message || msg.messageStubType).slice(0, 80));
      const text = msg.message?.conversation || msg.message?.extendedTextMessage?.text;
      if (!text || msg.key.fromMe || !want) continue;
      got += 1;
      if (got === want) {
        const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        want = 0;
        say("DONE", wall.toFixed(6), ((cpu.user + cpu.system) / 1e6).toFixed(6));
      }
    }
  });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, arg] = line.split(" ");
  if (command === "QUIT") process.exit(0);
  if (command === "EXPECT") {
    want = Number(arg);
    got = 0;
    wall0 = process.hrtime.bigint();
    cpu0 = process.cpuUsage();
    say("EXPECTING", want);
  }
});

start().catch((err) => {
  say("ERROR", JSON.stringify(String(err && err.stack || err)));
  process.exit(1);
});
