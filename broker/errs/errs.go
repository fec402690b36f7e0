// Package errs is Moleculer's error taxonomy. Every error that crosses a node boundary is an
// *Error: its name, message, code, type, data, nodeID and retryable flag travel on the wire
// and are rebuilt unchanged on the caller.
package errs

import (
	"errors"
	"fmt"
)

// Error is a Moleculer error. The JSON form is the wire form.
type Error struct {
	Name      string `json:"name"`
	Message   string `json:"message"`
	NodeID    string `json:"nodeID"`
	Code      int    `json:"code"`
	Type      string `json:"type"`
	Retryable bool   `json:"retryable"`
	Data      any    `json:"data"`
	Stack     string `json:"stack,omitempty"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// IsRetryable makes *Error satisfy the retry policy's default check.
func (e *Error) IsRetryable() bool { return e.Retryable }

// Is matches errors by name, so errors.Is(err, errs.ErrRequestTimeout) works for rebuilt
// errors too.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Name == e.Name && (t.Type == "" || t.Type == e.Type)
	}
	return false
}

// Names of Moleculer's errors.
const (
	NameMoleculerError           = "MoleculerError"
	NameRetryableError           = "MoleculerRetryableError"
	NameServerError              = "MoleculerServerError"
	NameClientError              = "MoleculerClientError"
	NameServiceNotFound          = "ServiceNotFoundError"
	NameServiceNotAvailable      = "ServiceNotAvailableError"
	NameRequestTimeout           = "RequestTimeoutError"
	NameRequestSkipped           = "RequestSkippedError"
	NameRequestRejected          = "RequestRejectedError"
	NameQueueIsFull              = "QueueIsFullError"
	NameValidation               = "ValidationError"
	NameMaxCallLevel             = "MaxCallLevelError"
	NameBrokerDisconnected       = "BrokerDisconnectedError"
	NameProtocolVersionMismatch  = "ProtocolVersionMismatchError"
	NameInvalidPacketData        = "InvalidPacketDataError"
	NameServiceSchemaError       = "ServiceSchemaError"
	NameBrokerOptionsError       = "BrokerOptionsError"
	NameGracefulStopTimeoutError = "GracefulStopTimeoutError"
)

// Sentinels for errors.Is: they match any error of the same name.
var (
	ErrServiceNotFound     = &Error{Name: NameServiceNotFound}
	ErrServiceNotAvailable = &Error{Name: NameServiceNotAvailable}
	ErrRequestTimeout      = &Error{Name: NameRequestTimeout}
	ErrRequestSkipped      = &Error{Name: NameRequestSkipped}
	ErrRequestRejected     = &Error{Name: NameRequestRejected}
	ErrQueueIsFull         = &Error{Name: NameQueueIsFull}
	ErrValidation          = &Error{Name: NameValidation}
	ErrMaxCallLevel        = &Error{Name: NameMaxCallLevel}
	ErrBrokerDisconnected  = &Error{Name: NameBrokerDisconnected}
)

// New returns a MoleculerError (code 500 when code is 0).
func New(message string, code int, typ string, data any) *Error {
	if code == 0 {
		code = 500
	}
	return &Error{Name: NameMoleculerError, Message: message, Code: code, Type: typ, Data: data}
}

// Retryable returns a MoleculerRetryableError.
func Retryable(message string, code int, typ string, data any) *Error {
	if code == 0 {
		code = 500
	}
	return &Error{Name: NameRetryableError, Message: message, Code: code, Type: typ, Data: data, Retryable: true}
}

// Server returns a MoleculerServerError (retryable).
func Server(message string, code int, typ string, data any) *Error {
	e := Retryable(message, code, typ, data)
	e.Name = NameServerError
	return e
}

// Client returns a MoleculerClientError (code 400 when code is 0; never retryable).
func Client(message string, code int, typ string, data any) *Error {
	if code == 0 {
		code = 400
	}
	return &Error{Name: NameClientError, Message: message, Code: code, Type: typ, Data: data}
}

// ActionData is the data of the call-level errors: which action, on which node.
type ActionData struct {
	Action string `json:"action"`
	NodeID string `json:"nodeID,omitempty"`
}

func actionData(action, nodeID string) map[string]any {
	d := map[string]any{"action": action}
	if nodeID != "" {
		d["nodeID"] = nodeID
	}
	return d
}

func onNode(nodeID string) string {
	if nodeID == "" {
		return ""
	}
	return fmt.Sprintf(" on '%s' node", nodeID)
}

// ServiceNotFound: no node serves the action (or not the requested node).
func ServiceNotFound(action, nodeID string) *Error {
	return &Error{Name: NameServiceNotFound, Code: 404, Type: "SERVICE_NOT_FOUND", Retryable: true,
		Message: fmt.Sprintf("Service '%s' is not found%s.", action, onNode(nodeID)), Data: actionData(action, nodeID)}
}

// ServiceNotAvailable: the action is known but no endpoint is available (all breakers open).
func ServiceNotAvailable(action, nodeID string) *Error {
	return &Error{Name: NameServiceNotAvailable, Code: 404, Type: "SERVICE_NOT_AVAILABLE", Retryable: true,
		Message: fmt.Sprintf("Service '%s' is not available%s.", action, onNode(nodeID)), Data: actionData(action, nodeID)}
}

// RequestTimeout: the caller's deadline passed before a response arrived.
func RequestTimeout(action, nodeID string) *Error {
	return &Error{Name: NameRequestTimeout, Code: 504, Type: "REQUEST_TIMEOUT", Retryable: true, NodeID: nodeID,
		Message: fmt.Sprintf("Request is timed out when call '%s' action on '%s' node.", action, nodeID), Data: actionData(action, nodeID)}
}

// RequestSkipped: the distributed timeout budget was spent before the call was sent.
func RequestSkipped(action, nodeID string) *Error {
	return &Error{Name: NameRequestSkipped, Code: 514, Type: "REQUEST_SKIPPED", NodeID: nodeID,
		Message: fmt.Sprintf("Calling '%s' is skipped because timeout reached on '%s' node.", action, nodeID), Data: actionData(action, nodeID)}
}

// RequestRejected: the serving node was lost while the request was pending.
func RequestRejected(action, nodeID string) *Error {
	return &Error{Name: NameRequestRejected, Code: 503, Type: "REQUEST_REJECTED", Retryable: true, NodeID: nodeID,
		Message: fmt.Sprintf("Request is rejected when call '%s' action on '%s' node.", action, nodeID), Data: actionData(action, nodeID)}
}

// QueueIsFull: a bulkhead's queue overflowed.
func QueueIsFull(action, nodeID string, size, limit int) *Error {
	d := actionData(action, nodeID)
	d["size"], d["limit"] = size, limit
	return &Error{Name: NameQueueIsFull, Code: 429, Type: "QUEUE_FULL", Retryable: true, NodeID: nodeID,
		Message: fmt.Sprintf("Queue is full. Request '%s' action on '%s' node is rejected.", action, nodeID), Data: d}
}

// Validation: params failed the action's schema. data is the list of field errors.
func Validation(message string, data any) *Error {
	if message == "" {
		message = "Parameters validation error!"
	}
	return &Error{Name: NameValidation, Code: 422, Type: "VALIDATION_ERROR", Message: message, Data: data}
}

// MaxCallLevel: a call chain went deeper than maxCallLevel.
func MaxCallLevel(nodeID string, level int) *Error {
	return &Error{Name: NameMaxCallLevel, Code: 500, Type: "MAX_CALL_LEVEL", NodeID: nodeID,
		Message: fmt.Sprintf("Request level is reached the limit (%d) on '%s' node.", level, nodeID),
		Data:    map[string]any{"nodeID": nodeID, "level": level}}
}

// BrokerDisconnected: the transporter is not connected.
func BrokerDisconnected() *Error {
	return &Error{Name: NameBrokerDisconnected, Code: 502, Type: "BAD_GATEWAY", Retryable: true,
		Message: "The broker's transporter has disconnected. Please try again when a connection is reestablished."}
}

// InvalidPacketData: a packet could not be decoded or lacks required fields.
func InvalidPacketData(packetType string, detail string) *Error {
	return &Error{Name: NameInvalidPacketData, Code: 500, Type: "INVALID_PACKET_DATA",
		Message: "Invalid packet data: " + detail, Data: map[string]any{"type": packetType}}
}

// From converts any error into an *Error. Non-Moleculer errors become a MoleculerError 500
// carrying the message, as Moleculer does for a plain thrown Error (which has no code, so
// the default breaker check ignores it... unless code is set; see NoCode).
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Name: "Error", Message: err.Error()}
}

// CodeOf returns the error's code (0 for errors without one).
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// NameOf returns the error's Moleculer name ("Error" for plain Go errors).
func NameOf(err error) string {
	if err == nil {
		return ""
	}
	return From(err).Name
}

// Name returns the Moleculer name of err ("RequestTimeoutError", ...): the name of the first
// *Error in err's chain, wrapped or not, and "" when there is none (a plain Go error, nil).
// NameOf differs only there: it says "Error", the name Moleculer gives a plain thrown Error.
func Name(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Name
	}
	return ""
}

// Code returns the code of the first *Error in err's chain (504, 422, ...), 0 when there is
// none or it has no code.
func Code(err error) int { return CodeOf(err) }

// IsRetryable reports whether err is marked retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}
