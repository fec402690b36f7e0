// A Moleculer 0.15.2 node on NATS, spawned by Faultline's interop tests (interop/*_test.go).
//
//   NODE_PATH=interop/node/node_modules node peer.js <natsURL> <nodeID>
//
// It serves a few actions and events, records what it sees, and has a "ctl" service through
// which the Go test makes it call, emit, and report (its log, its registry, its cache keys).
// It prints {"ready":"<nodeID>"} on stdout once started; Moleculer's warnings go to stderr.
"use strict";

const { ServiceBroker, Errors, Cachers } = require("moleculer");

const [, , url, nodeID] = process.argv;
if (!url || !nodeID) {
	process.stderr.write("usage: node peer.js <natsURL> <nodeID>\n");
	process.exit(2);
}

// Everything the Go test asks about: events delivered, nodes gone, handler runs.
const seen = [];
const runs = {};
function ran(name) {
	runs[name] = (runs[name] || 0) + 1;
	return runs[name];
}

const broker = new ServiceBroker({
	nodeID,
	transporter: url,
	// Faster than Moleculer's 10 s / 30 s so node loss is seen within seconds; the Go nodes
	// use the same heartbeatTimeout.
	heartbeatInterval: 1,
	heartbeatTimeout: 3,
	cacher: "Memory",
	logger: { type: "Console", options: { level: "warn", colors: false, formatter: "short", moduleColors: false } },
	metrics: false,
	tracing: false,
});

// Errors as the test compares them: every field that crosses the wire, and the class Moleculer
// rebuilt from the packet.
function errorJSON(err) {
	return {
		name: err.name,
		message: err.message,
		code: err.code,
		type: err.type,
		data: err.data === undefined ? null : err.data,
		nodeID: err.nodeID,
		retryable: !!err.retryable,
		isValidationError: err instanceof Errors.ValidationError,
		isMoleculerError: err instanceof Errors.MoleculerError,
	};
}

function recordEvent(service) {
	return function (ctx) {
		seen.push({ kind: "event", service, event: ctx.eventName, id: ctx.params.id, from: ctx.nodeID, broadcast: ctx.eventType === "broadcast" });
	};
}

broker.createService({
	name: "js",
	actions: {
		// Echoes params and the meta it received, and sets meta the caller gets merged back.
		echo: {
			params: { text: "string", n: "number" },
			handler(ctx) {
				const metaIn = Object.assign({}, ctx.meta);
				ctx.meta.fromJS = { node: nodeID, n: ctx.params.n };
				return { text: ctx.params.text, n: ctx.params.n, node: nodeID, caller: ctx.nodeID, metaIn };
			},
		},
		validate: {
			params: { id: "number" },
			handler(ctx) {
				return ctx.params.id;
			},
		},
		// Moleculer's own error with every field set.
		refuse(ctx) {
			throw new Errors.MoleculerError("JS refuses", 409, "JS_REFUSES", { why: "test", n: ctx.params.n });
		},
	},
});

// One endpoint of "shared.work": always failing with a 500 (the Go test's breaker opens on it).
broker.createService({
	name: "shared",
	actions: {
		work() {
			ran("shared.work");
			throw new Errors.MoleculerError("JS endpoint failing", 500, "JS_FAILING", { node: nodeID });
		},
	},
});

// Cached actions: on every param, and on a param plus a meta path.
broker.createService({
	name: "cached",
	actions: {
		find: {
			cache: true,
			handler(ctx) {
				return { run: ran("cached.find") };
			},
		},
		get: {
			cache: { keys: ["id", "#user.role"] },
			handler(ctx) {
				return { run: ran("cached.get") };
			},
		},
	},
});

// Event groups: "billing" is also a Go service (one group across both languages), "mailer"
// lives only here.
broker.createService({ name: "billing", events: { "order.created": recordEvent("billing") } });
broker.createService({ name: "mailer", events: { "order.created": recordEvent("mailer"), "barrier": recordEvent("mailer") } });

broker.createService({
	name: "ctl",
	events: {
		"$node.connected"(ctx) {
			seen.push({ kind: "node.connected", node: ctx.params.node.id, reconnected: !!ctx.params.reconnected });
		},
		"$node.disconnected"(ctx) {
			seen.push({ kind: "node.disconnected", node: ctx.params.node.id, unexpected: !!ctx.params.unexpected });
		},
	},
	actions: {
		// Calls an action as a nested call, so meta the callee sets merges back into this
		// context, and answers with the result or the error, and the meta after the call.
		// With cacheKeys, it also answers the cache key Moleculer builds for that call (the
		// action's name, the params as sent, the caller's meta, those keys, [] for all params;
		// a cacher's maxParamsLength).
		async call(ctx) {
			const { action, params, meta, cacheKeys, maxParamsLength } = ctx.params;
			Object.assign(ctx.meta, meta || {});
			const keygen = maxParamsLength ? new Cachers.Memory({ maxParamsLength }) : broker.cacher;
			const cacheKey = cacheKeys
				? keygen.getCacheKey({ name: action }, cacheKeys.length ? { keys: cacheKeys } : {}, { params: params || {}, meta: ctx.meta })
				: undefined;
			try {
				const result = await ctx.call(action, params);
				return { result: result === undefined ? null : result, meta: ctx.meta, cacheKey };
			} catch (err) {
				return { error: errorJSON(err), meta: ctx.meta, cacheKey };
			}
		},
		async emit(ctx) {
			const { event, data, groups } = ctx.params;
			await broker.emit(event, data, groups ? { groups } : {});
			return true;
		},
		async broadcast(ctx) {
			await broker.broadcast(ctx.params.event, ctx.params.data);
			return true;
		},
		seen() {
			return seen;
		},
		runs() {
			return runs;
		},
		// The registry as Moleculer keeps it: services of other nodes with their actions.
		services() {
			return broker.registry.getServiceList({ onlyLocal: false, onlyAvailable: true, skipInternal: true, withActions: true, withEvents: true });
		},
		nodes() {
			return broker.registry.getNodeList({ onlyAvailable: false, withServices: false }).map(n => ({ id: n.id, available: n.available, local: n.local }));
		},
		// The keys in this node's cacher, sorted.
		async cacheKeys() {
			return (await broker.cacher.getCacheKeys()).map(e => e.key).sort();
		},
	},
});

broker.start().then(
	() => process.stdout.write(JSON.stringify({ ready: nodeID }) + "\n"),
	err => {
		process.stderr.write("peer.js: start failed: " + err.stack + "\n");
		process.exit(1);
	},
);

// SIGTERM from the test: stop gracefully (DISCONNECT).
process.on("SIGTERM", () => broker.stop().then(() => process.exit(0)));
