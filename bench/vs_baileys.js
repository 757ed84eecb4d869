// The Baileys side of bench/vs_baileys.py: the same workloads written against Baileys'
// public exports (encodeBinaryNode, decodeBinaryNode, initAuthCreds, Curve,
// DEFAULT_CONNECTION_CONFIG.makeSignalRepository), in one long-lived process so that
// V8's JIT stays warm between rounds.
//
// Protocol: one JSON request per stdin line, {"op": NAME, ...}; one JSON answer per line,
// {"count": operations, "cpu": CPU seconds (process.cpuUsage, user + system)}.
'use strict'

const fs = require('fs')
const readline = require('readline')
const baileys = require('baileys')

const { encodeBinaryNode, decodeBinaryNode, initAuthCreds, Curve, generateSignalPubKey } = baileys
const makeRepository = baileys.DEFAULT_CONNECTION_CONFIG.makeSignalRepository

const cpuNow = () => {
	const { user, system } = process.cpuUsage()
	return (user + system) / 1e6
}

// ------------------------------------------------------------------ binary nodes

let corpus = null // { nodes: BinaryNode[], encoded: Buffer[] }

const toNode = ([tag, attrs, content]) => {
	let out
	if (content === null) out = undefined
	else if (Array.isArray(content)) out = content.map(toNode)
	else if (typeof content === 'string') out = content
	else out = Buffer.from(content.b64, 'base64')
	return { tag, attrs, content: out }
}

const loadCorpus = (path) => {
	const data = JSON.parse(fs.readFileSync(path, 'utf-8'))
	corpus = {
		nodes: data.nodes.map(toNode),
		encoded: data.encoded.map((b) => Buffer.from(b, 'base64')),
	}
	// our encoder must give wamd's bytes: otherwise the two measure different work
	let differ = 0
	for (let i = 0; i < corpus.nodes.length; i++) {
		if (!encodeBinaryNode(corpus.nodes[i]).equals(corpus.encoded[i])) differ++
	}
	return { count: corpus.nodes.length, differ }
}

const binaryEncode = (passes) => {
	const start = cpuNow()
	let n = 0
	for (let p = 0; p < passes; p++) {
		for (const node of corpus.nodes) {
			encodeBinaryNode(node)
			n++
		}
	}
	return { count: n, cpu: cpuNow() - start }
}

const binaryDecode = async (passes) => {
	const start = cpuNow()
	let n = 0
	for (let p = 0; p < passes; p++) {
		for (const buf of corpus.encoded) {
			await decodeBinaryNode(buf)
			n++
		}
	}
	return { count: n, cpu: cpuNow() - start }
}

// ------------------------------------------------------------------ Signal

// an in-memory SignalKeyStore, the shape Baileys' auth state has (get/set by type)
const memoryKeys = () => {
	const data = {}
	return {
		get: async (type, ids) => {
			const table = data[type] || {}
			const out = {}
			for (const id of ids) {
				if (table[id] !== undefined) out[id] = table[id]
			}
			return out
		},
		set: async (writes) => {
			for (const type in writes) {
				const table = (data[type] = data[type] || {})
				for (const id in writes[type]) {
					const value = writes[type][id]
					if (value === null || value === undefined) delete table[id]
					else table[id] = value
				}
			}
		},
	}
}

const device = () => {
	const creds = initAuthCreds()
	const keys = memoryKeys()
	return { creds, keys, repo: makeRepository({ creds, keys }) }
}

const bundleOf = (bob, keyId, preKey) => ({
	registrationId: bob.creds.registrationId,
	identityKey: generateSignalPubKey(bob.creds.signedIdentityKey.public),
	signedPreKey: {
		keyId: bob.creds.signedPreKey.keyId,
		publicKey: generateSignalPubKey(bob.creds.signedPreKey.keyPair.public),
		signature: bob.creds.signedPreKey.signature,
	},
	preKey: { keyId, publicKey: generateSignalPubKey(preKey.public) },
})

const ALICE = '15550000001@s.whatsapp.net'
const BOB = '15550000002@s.whatsapp.net'
const PAYLOAD = Buffer.alloc(120, 120)

const established = async () => {
	const alice = device()
	const bob = device()
	const preKey = Curve.generateKeyPair()
	await bob.keys.set({ 'pre-key': { 1: preKey } })
	await alice.repo.injectE2ESession({ jid: BOB, session: bundleOf(bob, 1, preKey) })
	const first = await alice.repo.encryptMessage({ jid: BOB, data: PAYLOAD })
	await bob.repo.decryptMessage({ jid: ALICE, ...first })
	const answer = await bob.repo.encryptMessage({ jid: ALICE, data: PAYLOAD })
	await alice.repo.decryptMessage({ jid: BOB, ...answer })
	return { alice, bob }
}

const setups = async (count) => {
	const alice = device()
	const bob = device()
	const bundles = []
	for (let i = 0; i < count; i++) bundles.push(bundleOf(bob, i + 1, Curve.generateKeyPair()))
	const start = cpuNow()
	for (let i = 0; i < count; i++) {
		await alice.repo.injectE2ESession({ jid: `1555${String(i).padStart(7, '0')}@s.whatsapp.net`, session: bundles[i] })
	}
	return { count, cpu: cpuNow() - start }
}

const pingpong = async (rounds) => {
	const { alice, bob } = await established()
	const start = cpuNow()
	for (let i = 0; i < rounds; i++) {
		const a = await alice.repo.encryptMessage({ jid: BOB, data: PAYLOAD })
		await bob.repo.decryptMessage({ jid: ALICE, ...a })
		const b = await bob.repo.encryptMessage({ jid: ALICE, data: PAYLOAD })
		await alice.repo.decryptMessage({ jid: BOB, ...b })
	}
	return { count: 2 * rounds, cpu: cpuNow() - start }
}

const stream = async (count) => {
	const { alice, bob } = await established()
	const sent = []
	let start = cpuNow()
	for (let i = 0; i < count; i++) sent.push(await alice.repo.encryptMessage({ jid: BOB, data: PAYLOAD }))
	const encryptCpu = cpuNow() - start
	start = cpuNow()
	for (const message of sent) await bob.repo.decryptMessage({ jid: ALICE, ...message })
	return { count, cpu: encryptCpu, decrypt_cpu: cpuNow() - start }
}

// ------------------------------------------------------------------ the loop

const OPS = {
	corpus: (req) => loadCorpus(req.path),
	binary_encode: (req) => binaryEncode(req.passes),
	binary_decode: (req) => binaryDecode(req.passes),
	setups: (req) => setups(req.count),
	pingpong: (req) => pingpong(req.rounds),
	stream: (req) => stream(req.count),
}

const lines = readline.createInterface({ input: process.stdin })
let queue = Promise.resolve()
lines.on('line', (line) => {
	queue = queue.then(async () => {
		try {
			const req = JSON.parse(line)
			const result = await OPS[req.op](req)
			process.stdout.write(JSON.stringify(result) + '\n')
		} catch (err) {
			process.stdout.write(JSON.stringify({ error: String((err && err.stack) || err) }) + '\n')
		}
	})
})
process.stdout.write(
	JSON.stringify({ ready: require('baileys/package.json').version, dict_version: baileys.DICT_VERSION }) + '\n'
)
