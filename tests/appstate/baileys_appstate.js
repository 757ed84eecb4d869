// Runs Baileys' own app-state code (lib/Utils/chat-utils.js, lt-hash.js) on what the
// Python side asks, and prints JSON: a second implementation of the LTHash, the MACs,
// the patch encoding and the checks. One JSON request on stdin, one answer on stdout.
//   {"mode": "encode", keyId, keyData, name, steps: [{index, syncAction, apiVersion}]}
//   {"mode": "decode", keyId, keyData, name, snapshot?, patches: [b64]}
//   {"mode": "lthash", base, subtract: [b64], add: [b64]}
'use strict'
const { proto } = require('baileys/WAProto')
const chat = require('baileys/lib/Utils/chat-utils')
const { LT_HASH_ANTI_TAMPERING } = require('baileys/lib/Utils/lt-hash')

const b64 = buf => Buffer.from(buf).toString('base64')
const unb64 = s => Buffer.from(s, 'base64')

async function main () {
  let raw = ''
  for await (const chunk of process.stdin) raw += chunk
  const req = JSON.parse(raw)
  const keys = { [req.keyId]: { keyData: unb64(req.keyData || '') } }
  const getKey = async id => keys[id]
  if (req.mode === 'lthash') {
    // Baileys 6's argument order is (base, add, subtract), the base an ArrayBuffer
    const base = new Uint8Array(unb64(req.base)).buffer
    const out = await LT_HASH_ANTI_TAMPERING.subtractThenAdd(
      base, req.add.map(unb64), req.subtract.map(unb64))
    return { hash: b64(out) }
  }
  if (req.mode === 'encode') {
    let state = chat.newLTHashState()
    const patches = []
    for (const step of req.steps) {
      const { patch, state: next } = await chat.encodeSyncdPatch({
        type: req.name,
        index: step.index,
        syncAction: proto.SyncActionValue.fromObject(step.syncAction),
        apiVersion: step.apiVersion,
        operation: proto.SyncdMutation.SyncdOperation.SET
      }, req.keyId, state, getKey)
      state = next
      patch.version = { version: state.version }
      patches.push(b64(proto.SyncdPatch.encode(patch).finish()))
    }
    return { patches, version: state.version, hash: b64(state.hash) }
  }
  if (req.mode === 'decode') {
    let state = chat.newLTHashState()
    const mutations = []
    const collect = m => mutations.push({
      index: m.index, value: proto.SyncActionValue.toObject(m.syncAction.value, { longs: Number })
    })
    try {
      if (req.snapshot) {
        const snapshot = proto.SyncdSnapshot.decode(unb64(req.snapshot))
        const result = await chat.decodeSyncdSnapshot(req.name, snapshot, getKey, undefined, true)
        state = result.state
        for (const m of Object.values(result.mutationMap)) collect(m)
      }
      if (req.patches.length) {
        const syncds = req.patches.map(p => proto.SyncdPatch.decode(unb64(p)))
        const result = await chat.decodePatches(req.name, syncds, state, getKey, {}, undefined, undefined, true)
        state = result.state
        for (const m of Object.values(result.mutationMap)) collect(m)
      }
    } catch (err) {
      return { error: String(err.message || err) }
    }
    return { version: state.version, hash: b64(state.hash), mutations }
  }
  throw new Error('unknown mode ' + req.mode)
}

main().then(out => { process.stdout.write(JSON.stringify(out) + '\n') },
  err => { process.stderr.write(String(err.stack || err) + '\n'); process.exit(1) })
