// Package e2e holds the end-to-end tests of the e-commerce services: whole clusters built
// with testutil.Build, run in the simulated runtime, checking the course flow, bad input
// and retry safety. It has no non-test code.
package e2e
