// Package faults is Faultline's seeded fault layer: network faults on the in-memory
// transport (latency with jitter, loss, duplicates, reorder, partitions), node faults (crash,
// pause, restart, clock skew), action faults (error, delay, hang, panic) and dependency faults
// (cacher down or slow), all applied and healed on a schedule in the runtime's time.
//
// Faults are values (Loss, Symmetric, Crash, Error, CacherDown, ...). An Injector owns the
// schedule: Add arms timers on the runtime that apply a fault at its start, heal it after its
// duration and repeat it if asked, and every application and heal is journaled. Every random
// draw (loss, jitter, error rate) comes from the runtime's Rand, so a simulated run replays
// exactly from its seed.
//
// The broker knows nothing of faults: the injector wraps the broker's seams — the memnet
// Interceptor, a LocalAction middleware (Injector.Middleware), a wrapping Cacher
// (FlakyCacher) — and drives node faults through the Nodes interface a cluster implements.
package faults

import (
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/broker/journal"
	"github.com/faultline/faultline/broker/rt"
)

// Journal kinds written by the fault layer besides journal.FaultApplied, journal.FaultHealed
// and journal.PacketDropped.
const (
	// FaultFired records one action fault hitting one call.
	FaultFired = "fault.fired"
	// FaultFailed records a fault that could not be applied or healed (for example a node
	// fault on an unknown node).
	FaultFailed = "fault.failed"
)

// Fault is one fault, as a value. Apply starts it and returns the function that heals it.
// Both run in runtime timer callbacks and must not block: they may flip state, fire signals,
// arm timers and start tasks with Runtime.Go.
type Fault interface {
	// Kind names the kind of fault in the journal ("loss", "partition.symmetric", ...).
	Kind() string
	// Attrs describes the fault's targets and parameters for the journal. The injector adds
	// "fault" (the spec's name), "kind" and "occurrence".
	Attrs() map[string]any
	// Apply starts the fault. The returned heal function (never nil on success) undoes it.
	Apply(env *Env) (heal func(), err error)
}

// Validator is implemented by faults that can reject bad parameters or missing targets when
// they are added rather than when they fire.
type Validator interface {
	Validate(env *Env) error
}

// Env is what a fault sees when it is validated, applied and healed.
type Env struct {
	// Name is the spec's name; Occurrence counts applications from 1.
	Name       string
	Occurrence int
	Runtime    rt.Runtime
	Journal    *journal.Journal
	Targets    Targets

	inj *Injector
}

// counters returns the counters of the spec being applied.
func (e *Env) counters() *counters { return e.inj.countersFor(e.Name) }

// Spec schedules a fault.
type Spec struct {
	// Name identifies the fault in the journal and in Stats; it must be unique per injector.
	Name  string
	Fault Fault
	// Start is when the fault is first applied, relative to the injector's origin (the
	// runtime's time when the injector was created). A start that is due or past applies
	// at once, before Add returns.
	Start time.Duration
	// Duration is how long each application lasts; 0 means until Injector.Stop.
	Duration time.Duration
	// Every repeats the fault: occurrence k is applied at Start + k·Every. It needs
	// 0 < Duration <= Every.
	Every time.Duration
	// Count bounds the number of occurrences; 0 means one without Every, unbounded with it.
	Count int
}

func (s Spec) validate() error {
	switch {
	case s.Name == "":
		return errors.New("faults: a spec needs a name")
	case s.Fault == nil:
		return fmt.Errorf("faults: spec %q has no fault", s.Name)
	case s.Start < 0 || s.Duration < 0 || s.Every < 0 || s.Count < 0:
		return fmt.Errorf("faults: spec %q: start, duration, every and count must not be negative", s.Name)
	case s.Every > 0 && s.Duration == 0:
		return fmt.Errorf("faults: spec %q repeats every %s but never heals (duration 0)", s.Name, s.Every)
	case s.Every > 0 && s.Duration > s.Every:
		return fmt.Errorf("faults: spec %q: duration %s is longer than its period %s", s.Name, s.Duration, s.Every)
	case s.Every == 0 && s.Count > 1:
		return fmt.Errorf("faults: spec %q: count %d needs a period (every)", s.Name, s.Count)
	}
	return nil
}

// Occurrences returns when each occurrence of s is applied and healed, relative to the
// injector's origin, up to horizon (heal -1: never). It is the pure form of the schedule Add
// arms, for reports and planning.
func (s Spec) Occurrences(horizon time.Duration) (applied, healed []time.Duration) {
	for k := 0; ; k++ {
		if s.Count > 0 && k >= s.Count || k > 0 && s.Every == 0 {
			return applied, healed
		}
		at := s.Start + time.Duration(k)*s.Every
		if at > horizon {
			return applied, healed
		}
		applied = append(applied, at)
		if s.Duration > 0 {
			healed = append(healed, at+s.Duration)
		} else {
			healed = append(healed, -1)
		}
	}
}
