package file

import (
	"bytes"
	"reflect"

	"github.com/faultline/faultline/scenarios"
)

// MarshalFaults writes a fault schedule as the faults: block of a scenario file, the form
// faultline run --print-schedule prints a nemesis's draw in.
func MarshalFaults(fs []scenarios.FaultSpec) ([]byte, error) {
	var b bytes.Buffer
	if len(fs) == 0 {
		b.WriteString("faults: []\n")
		return b.Bytes(), nil
	}
	e := &encoder{b: &b}
	b.WriteString("faults:")
	e.value(reflect.ValueOf(fs), 0)
	return b.Bytes(), e.err
}
