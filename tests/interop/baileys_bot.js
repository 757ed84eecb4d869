// An echo bot on Baileys (an independent WhatsApp client), run unmodified against wamd.sim.
//
//   node baileys_bot.js WS_URL AUTH_DIR [PHONE_NUMBER]
//
// With PHONE_NUMBER it links by pairing code ("CODE <code>") instead of QR.
// Prints one line per event on stdout: "QR <text>", "OPEN <our jid>", "CLOSE <code>",
// "GOT <chat> <id> <text>", "ECHOED <id>" (its echo), "SENT <id>" (what SEND sent),
// "ARCHIVED <chat> true|false" (a chats.update from the app state). Reads commands on
// stdin: "SEND <jid> <text>", "ARCHIVE <jid> true|false" (answers "MODIFIED <jid>"),
// "SENDMEDIA <jid> <image|document> <path> <mimetype> [file name]" ("SENT <id>"), "QUIT".
// A media message it gets is fetched with downloadMediaMessage: "MEDIA <id> <kind> <sha256
// hex> <length>" (or "MEDIAERROR <id> <reason>"). Polls, locations and contact cards:
// "POLL <jid> <json {name, values, selectableCount}>" and "VOTE <jid> <poll id> <json
// [option names]>" ("SENT <id>"; a vote is encrypted the way Baileys decrypts one, with
// its own exported primitives, and sent with relayMessage: Baileys has no vote API),
// "LOCATION <jid> <json>" and "CONTACTS <jid> <json>" (sendMessage's content). It prints
// "POLLGOT <id> <json>" for a poll it receives, "VOTES <poll id> <json [{name, voters}]>"
// for each vote it decrypts (getAggregateVotesInPollMessage), "LOCATIONGOT <id> <json>" and
// "CONTACTSGOT <id> <json>". Reconnects after the 515 restart (the loop of Baileys'
// README); stops on 401.
"use strict";

const readline = require("readline");
const crypto = require("crypto");
const {
  default: makeWASocket,
  useMultiFileAuthState,
  makeCacheableSignalKeyStore,
  DisconnectReason,
  downloadMediaMessage,
  getContentType,
  getAggregateVotesInPollMessage,
  jidNormalizedUser,
  getKeyAuthor,
  hmacSign,
  aesEncryptGCM,
  proto,
} = require("baileys");

// every message seen, by id: Baileys asks getMessage for a poll to decrypt its votes
const seen = new Map();
const pollUpdates = new Map();  // poll id -> [pollUpdate]
const remember = (msg) => { if (msg && msg.key && msg.message) seen.set(msg.key.id, msg); };
const POLLS = ["pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3"];

const MEDIA = ["imageMessage", "documentMessage", "audioMessage", "videoMessage", "stickerMessage"];

const [url, authDir, pairPhone] = process.argv.slice(2);
let codeAsked = false;
// Baileys' warnings and errors go to stderr (BAILEYS_DEBUG=1: everything)
const loud = process.env.BAILEYS_DEBUG === "1";
const log = (level) => (obj, msg) => {
  if (loud || level === "warn" || level === "error" || level === "fatal") {
    process.stderr.write(`${level} ${msg || ""} ${JSON.stringify(obj, (k, v) => (typeof v === "bigint" ? String(v) : v)).slice(0, 600)}\n`);
  }
};
const silent = {
  level: loud ? "trace" : "warn",
  child() { return silent; },
  trace: log("trace"), debug: log("debug"), info: log("info"),
  warn: log("warn"), error: log("error"), fatal: log("fatal"),
};
let sock = null;

function say(...parts) {
  process.stdout.write(parts.join(" ") + "\n");
}

async function start() {
  const { state, saveCreds } = await useMultiFileAuthState(authDir);
  sock = makeWASocket({
    // keys cached in memory, the way Baileys' README sets a socket up
    auth: { creds: state.creds, keys: makeCacheableSignalKeyStore(state.keys, silent) },
    waWebSocketUrl: url,
    logger: silent,
    printQRInTerminal: false,
    markOnlineOnConnect: true,
    syncFullHistory: false,
    // the sim sends history inline by default, which this Baileys cannot read (it
    // downloads history blobs only: HistorySyncPolicy(blob=True) would serve it one)
    shouldSyncHistoryMessage: () => false,
    getMessage: async (key) => seen.get(key.id)?.message,
  });
  sock.ev.on("creds.update", saveCreds);
  sock.ev.on("connection.update", (update) => {
    if (update.qr && pairPhone) {
      if (!codeAsked) {
        codeAsked = true;  // the server is ready for a new device: ask for a code instead
        sock.requestPairingCode(pairPhone).then((code) => say("CODE", code));
      }
    } else if (update.qr) {
      say("QR", update.qr);
    }
    if (update.connection === "open") say("OPEN", sock.user.id);
    if (update.connection === "close") {
      const code = update.lastDisconnect?.error?.output?.statusCode ?? 0;
      say("CLOSE", code);
      if (code !== DisconnectReason.loggedOut) setTimeout(start, 100);
      else process.exit(0);
    }
  });
  sock.ev.on("chats.update", (updates) => {
    for (const update of updates) {
      if (typeof update.archived === "boolean") say("ARCHIVED", update.id, String(update.archived));
    }
  });
  sock.ev.on("messages.update", (updates) => {
    for (const { key, update } of updates) {
      if (!update.pollUpdates) continue;
      const poll = seen.get(key.id);
      const all = (pollUpdates.get(key.id) || []).concat(update.pollUpdates);
      pollUpdates.set(key.id, all);
      const votes = getAggregateVotesInPollMessage(
        { message: poll && poll.message, pollUpdates: all }, jidNormalizedUser(sock.user.id));
      say("VOTES", key.id, JSON.stringify(votes));
    }
  });
  sock.ev.on("messages.upsert", async ({ messages, type }) => {
    for (const msg of messages) {
      remember(msg);
      const kind = msg.message && getContentType(msg.message);
      if (!msg.key.fromMe && POLLS.includes(kind)) {
        const poll = msg.message[kind];
        say("POLLGOT", msg.key.id, JSON.stringify({
          name: poll.name, values: poll.options.map((o) => o.optionName),
          selectable: poll.selectableOptionsCount || 0,
        }));
        continue;
      }
      if (!msg.key.fromMe && kind === "locationMessage") {
        const where = msg.message.locationMessage;
        say("LOCATIONGOT", msg.key.id, JSON.stringify({
          lat: where.degreesLatitude, lon: where.degreesLongitude, name: where.name || null,
        }));
        continue;
      }
      if (!msg.key.fromMe && (kind === "contactMessage" || kind === "contactsArrayMessage")) {
        const cards = kind === "contactMessage"
          ? [msg.message.contactMessage] : msg.message.contactsArrayMessage.contacts;
        say("CONTACTSGOT", msg.key.id, JSON.stringify(
          cards.map((c) => ({ displayName: c.displayName, vcard: c.vcard }))));
        continue;
      }
      if (MEDIA.includes(kind) && !msg.key.fromMe) {
        try {
          const body = await downloadMediaMessage(msg, "buffer", {}, {
            logger: silent, reuploadRequest: sock.updateMediaMessage,
          });
          const hash = crypto.createHash("sha256").update(body).digest("hex");
          const ptt = kind === "audioMessage" && msg.message.audioMessage.ptt ? "ptt" : kind;
          say("MEDIA", msg.key.id, ptt, hash, body.length);
        } catch (err) {
          say("MEDIAERROR", msg.key.id, JSON.stringify(String(err && err.message || err)));
        }
        continue;
      }
      const text = msg.message?.conversation || msg.message?.extendedTextMessage?.text;
      if (!text || msg.key.fromMe) continue;
      say("GOT", msg.key.remoteJid, msg.key.id, JSON.stringify(text));
      const sent = await sock.sendMessage(msg.key.remoteJid, { text: `echo: ${text}` }, { quoted: msg });
      say("ECHOED", sent.key.id);
    }
  });
}

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const [command, jid, ...rest] = line.split(" ");
  if (command === "QUIT") process.exit(0);
  if (command === "SEND" && sock) {
    const sent = await sock.sendMessage(jid, { text: rest.join(" ") });
    say("SENT", sent.key.id);
  }
  if (command === "SENDMEDIA" && sock) {
    const [kind, path, mimetype, fileName] = rest;
    const content = kind === "image"
      ? { image: { url: path }, mimetype, caption: "from baileys", jpegThumbnail: "" }
      : { document: { url: path }, mimetype, fileName };
    try {
      const sent = await sock.sendMessage(jid, content);
      say("SENT", sent.key.id);
    } catch (err) {
      say("ERROR", JSON.stringify(String(err && err.stack || err)));
    }
  }
  if ((command === "POLL" || command === "LOCATION" || command === "CONTACTS") && sock) {
    const body = JSON.parse(rest.join(" "));
    const content = command === "POLL" ? { poll: body }
      : command === "LOCATION" ? { location: body } : { contacts: body };
    try {
      const sent = await sock.sendMessage(jid, content);
      remember(sent);
      say("SENT", sent.key.id);
    } catch (err) {
      say("ERROR", JSON.stringify(String(err && err.stack || err)));
    }
  }
  if (command === "VOTE" && sock) {
    // the inverse of Baileys' decryptPollVote, from its own primitives
    const poll = seen.get(rest[0]);
    const names = JSON.parse(rest.slice(1).join(" "));
    try {
      const me = jidNormalizedUser(sock.user.id);
      const creator = getKeyAuthor(poll.key, me);
      const secret = poll.message.messageContextInfo.messageSecret;
      const sign = Buffer.concat([Buffer.from(poll.key.id), Buffer.from(creator),
        Buffer.from(me), Buffer.from("Poll Vote"), new Uint8Array([1])]);
      const key = hmacSign(sign, hmacSign(secret, new Uint8Array(32), "sha256"), "sha256");
      const plain = proto.Message.PollVoteMessage.encode({
        selectedOptions: names.map((n) => crypto.createHash("sha256").update(n).digest()),
      }).finish();
      const iv = crypto.randomBytes(12);
      const encPayload = aesEncryptGCM(plain, key, iv, Buffer.from(`${poll.key.id}\u0000${me}`));
      const id = await sock.relayMessage(jid, {
        pollUpdateMessage: {
          pollCreationMessageKey: poll.key,
          vote: { encPayload, encIv: iv },
          senderTimestampMs: Date.now(),
        },
      }, {});
      say("SENT", id);
    } catch (err) {
      say("ERROR", JSON.stringify(String(err && err.stack || err)));
    }
  }
  // REACT/EDIT/DELETE <jid> <id of a message Baileys sent there> [text]
  const key = { remoteJid: jid, fromMe: true, id: rest[0] };
  if (command === "REACT" && sock) {
    const sent = await sock.sendMessage(jid, { react: { text: rest[1], key: { ...key, fromMe: false } } });
    say("SENT", sent.key.id);
  }
  if (command === "EDIT" && sock) {
    const sent = await sock.sendMessage(jid, { text: rest.slice(1).join(" "), edit: key });
    say("SENT", sent.key.id);
  }
  if (command === "DELETE" && sock) {
    const sent = await sock.sendMessage(jid, { delete: key });
    say("SENT", sent.key.id);
  }
  // ARCHIVE <jid> true|false: through Baileys' app-state patch (chatModify)
  if (command === "ARCHIVE" && sock) {
    await sock.chatModify({ archive: rest[0] === "true", lastMessages: [] }, jid);
    say("MODIFIED", jid);
  }
  // CREATE <subject> <jid,jid,...>: a group; REMOVE <group> <jid>: take a member out
  if (command === "CREATE" && sock) {
    const meta = await sock.groupCreate(jid, rest[0].split(","));
    say("GROUP", meta.id, meta.participants.length);
  }
  if (command === "REMOVE" && sock) {
    const [result] = await sock.groupParticipantsUpdate(jid, [rest[0]], "remove");
    say("UPDATED", result.status);
  }
});

start().catch((err) => {
  say("ERROR", JSON.stringify(String(err && err.stack || err)));
  process.exit(1);
});
