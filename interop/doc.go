// Package interop holds the tests that put Faultline nodes and a real Node.js Moleculer
// 0.15.2 node (testdata/peer.js, run from the npm folder interop/node) in one cluster over an
// embedded NATS server: calls, errors, events, discovery, node loss, breakers and cache keys
// across the two implementations. It has no code of its own; see interop_test.go.
package interop
