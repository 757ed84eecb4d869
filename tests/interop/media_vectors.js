// Media crypto with Baileys' own functions (unmodified, from npm), for the vector test.
//
//   node media_vectors.js JOB.json
//
// JOB: {"encrypt": [{"type", "plain"}], "decrypt": [{"type", "mediaKey", "url"}]}
// (paths, base64 keys, http URLs). For each "encrypt" item Baileys' encryptedStream
// encrypts the file and the blob is written beside it (".enc"); for each "decrypt" item
// downloadContentFromMessage fetches and decrypts the URL. Prints one JSON object:
// {"encrypted": [{"type", "mediaKey", "fileSha256", "fileEncSha256", "fileLength", "enc"}],
//  "decrypted": [{"type", "sha256", "length"}]}.
"use strict";

const fs = require("fs");
const crypto = require("crypto");
const { encryptedStream, downloadContentFromMessage } = require("baileys");

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const out = { encrypted: [], decrypted: [] };
  for (const item of job.encrypt || []) {
    const result = await encryptedStream({ url: item.plain }, item.type);
    const chunks = [];
    for await (const chunk of result.encWriteStream) chunks.push(chunk);
    const enc = item.plain + "." + item.type + ".enc";
    fs.writeFileSync(enc, Buffer.concat(chunks));
    out.encrypted.push({
      type: item.type,
      mediaKey: result.mediaKey.toString("base64"),
      fileSha256: result.fileSha256.toString("base64"),
      fileEncSha256: result.fileEncSha256.toString("base64"),
      fileLength: result.fileLength,
      enc,
    });
  }
  for (const item of job.decrypt || []) {
    const stream = await downloadContentFromMessage(
      { mediaKey: Buffer.from(item.mediaKey, "base64"), url: item.url },
      item.type,
    );
    const hash = crypto.createHash("sha256");
    let length = 0;
    for await (const chunk of stream) {
      hash.update(chunk);
      length += chunk.length;
    }
    out.decrypted.push({ type: item.type, sha256: hash.digest("hex"), length });
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
