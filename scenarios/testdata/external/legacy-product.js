// A team's existing Moleculer 0.15 product service, put under Faultline's faults and checks as
// an external node (scenarios/testdata/external/legacy-product.yaml). The harness gives it its
// NATS server and node ID in FAULTLINE_NATS_URL and FAULTLINE_NODE_ID, and finds its npm
// packages through NODE_PATH (interop/node/node_modules).
"use strict";

const { ServiceBroker } = require("moleculer");

const broker = new ServiceBroker({
	nodeID: process.env.FAULTLINE_NODE_ID,
	transporter: process.env.FAULTLINE_NATS_URL,
	heartbeatInterval: 1,
	heartbeatTimeout: 3,
	logger: { type: "Console", options: { level: "warn", colors: false } },
	metrics: false,
	tracing: false,
});

broker.createService({
	name: "product",
	actions: {
		get: {
			params: { id: { type: "number", convert: true } },
			handler(ctx) {
				return { id: ctx.params.id, name: "widget", price: 10, stock: 1000, description: null };
			},
		},
	},
});

broker.start().catch((err) => {
	process.stderr.write(`legacy-product: ${err.message}\n`);
	process.exit(1);
});
