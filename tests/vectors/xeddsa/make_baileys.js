const path = require('path');
const mods = process.argv[2];
const { Curve } = require(path.join(mods, 'baileys/lib/Utils/crypto.js'));
const out = [];
const msgs = [Buffer.alloc(0), Buffer.from('wamd xeddsa vector'), null, Buffer.alloc(1000, 7)];
for (let i = 0; i < 12; i++) {
  const kp = Curve.generateKeyPair();
  let msg = msgs[i % msgs.length];
  if (msg === null) msg = Buffer.concat([Buffer.from([5]), Curve.generateKeyPair().public]);
  const sig = Curve.sign(kp.private, msg);
  out.push({ private: Buffer.from(kp.private).toString('hex'), public: Buffer.from(kp.public).toString('hex'), message: msg.toString('hex'), signature: sig.toString('hex') });
}
console.log(JSON.stringify(out, null, 1));
