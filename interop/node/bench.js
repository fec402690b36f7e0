// The Moleculer JS side of `make bench-vs-moleculer` (bench/vsmoleculer is the Go side and
// runs this script). One case per run:
//
//   node bench.js <case> <callers> <durationMs>
//
// cases: local, ft, remote, cached — the same services, params and broker options as the Go
// side. Prints one JSON object: {case, callers, ops, seconds, opsPerSec, p50us, p99us}.
"use strict";

const { ServiceBroker } = require("moleculer");

const [, , caseName, callersArg, durationArg] = process.argv;
const callers = Number(callersArg || 1);
const durationMs = Number(durationArg || 2000);

// Logger, metrics and tracing off, validator on (Moleculer's default), as on the Go side.
function newBroker(nodeID, extra) {
	return new ServiceBroker(Object.assign({
		nodeID,
		logger: false,
		metrics: false,
		tracing: false,
		validator: true,
	}, extra));
}

const math = {
	name: "math",
	actions: {
		add: {
			params: { a: "number", b: "number" },
			handler(ctx) { return ctx.params.a + ctx.params.b; },
		},
	},
};

const product = {
	name: "product",
	actions: {
		get: {
			params: { id: "number" },
			cache: { keys: ["id"], ttl: 3600 },
			handler(ctx) {
				return { id: ctx.params.id, name: "Widget", price: 10.5, tags: ["tools", "metal"] };
			},
		},
	},
};

async function setup(name) {
	switch (name) {
	case "local": {
		const b = newBroker("a");
		b.createService(math);
		await b.start();
		return { brokers: [b], call: () => b.call("math.add", { a: 1, b: 2 }) };
	}
	case "ft": {
		const b = newBroker("a", {
			requestTimeout: 5000,
			retryPolicy: { enabled: true, retries: 3 },
			circuitBreaker: { enabled: true },
			bulkhead: { enabled: true, concurrency: 10, maxQueueSize: 100 },
		});
		b.createService(math);
		await b.start();
		return { brokers: [b], call: () => b.call("math.add", { a: 1, b: 2 }) };
	}
	case "remote": {
		const caller = newBroker("caller", { transporter: "Fake" });
		const server = newBroker("server", { transporter: "Fake" });
		server.createService(math);
		await Promise.all([server.start(), caller.start()]);
		await caller.waitForServices("math");
		return { brokers: [caller, server], call: () => caller.call("math.add", { a: 1, b: 2 }) };
	}
	case "cached": {
		const b = newBroker("a", { cacher: "Memory" });
		b.createService(product);
		await b.start();
		await b.call("product.get", { id: 5 }); // fills the cache
		return { brokers: [b], call: () => b.call("product.get", { id: 5 }) };
	}
	}
	throw new Error("unknown case " + name);
}

async function run() {
	const { brokers, call } = await setup(caseName);
	// Warm-up: let the JIT settle before measuring.
	const warmEnd = Date.now() + Math.min(500, durationMs / 4);
	await Promise.all(Array.from({ length: callers }, async () => {
		while (Date.now() < warmEnd) await call();
	}));

	const lat = [];
	let ops = 0;
	const start = process.hrtime.bigint();
	const end = start + BigInt(durationMs) * 1000000n;
	await Promise.all(Array.from({ length: callers }, async () => {
		for (;;) {
			const t0 = process.hrtime.bigint();
			if (t0 >= end) return;
			await call();
			lat.push(Number(process.hrtime.bigint() - t0));
			ops++;
		}
	}));
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	lat.sort((x, y) => x - y);
	const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] / 1000;
	process.stdout.write(JSON.stringify({
		case: caseName, callers, ops, seconds, opsPerSec: ops / seconds, p50us: q(0.5), p99us: q(0.99),
	}) + "\n");
	await Promise.all(brokers.map((b) => b.stop()));
}

run().catch((err) => { console.error(err); process.exit(1); });
