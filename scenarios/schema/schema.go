// Package schema publishes the JSON Schema (draft 2020-12) of Faultline's scenario files,
// so that editors can complete and check them. A scenario file points to it with a first
// line such as
//
//	# yaml-language-server: $schema=../schema/scenario.schema.json
//
// and `faultline schema` prints it. Tests keep it equal, field for field, to the Go types
// the files decode into.
package schema

import _ "embed"

// JSON is the scenario file schema.
//
//go:embed scenario.schema.json
var JSON []byte
