package gateway

import (
	"errors"

	"github.com/faultline/faultline/broker/errs"
)

// Types of the gateway's own errors, as moleculer-web names them.
const (
	ErrNoToken           = "NO_TOKEN"
	ErrInvalidToken      = "INVALID_TOKEN"
	ErrUnableDecodeParam = "UNABLE_DECODE_PARAM"
	ErrOriginNotAllowed  = "ORIGIN_NOT_ALLOWED"
	ErrForbidden         = "FORBIDDEN"
)

// The gateway's error names (moleculer-web's error classes).
const (
	NameNotFound           = "NotFoundError"
	NameUnauthorized       = "UnAuthorizedError"
	NameForbidden          = "ForbiddenError"
	NameBadRequest         = "BadRequestError"
	NameInvalidRequestBody = "InvalidRequestBodyError"
	NamePayloadTooLarge    = "PayloadTooLarge"
	NameRateLimitExceeded  = "RateLimitExceeded"
	NameServiceUnavailable = "ServiceUnavailableError"
)

// NotFound is NotFoundError 404 NOT_FOUND: no route or alias for the request.
func NotFound() *errs.Error {
	return &errs.Error{Name: NameNotFound, Message: "Not found", Code: 404, Type: "NOT_FOUND"}
}

// Unauthorized is UnAuthorizedError 401 with the type ErrNoToken or ErrInvalidToken.
func Unauthorized(typ string, data any) *errs.Error {
	if typ == "" {
		typ = ErrInvalidToken
	}
	return &errs.Error{Name: NameUnauthorized, Message: "Unauthorized", Code: 401, Type: typ, Data: data}
}

// Forbidden is ForbiddenError 403.
func Forbidden(typ string, data any) *errs.Error {
	return &errs.Error{Name: NameForbidden, Message: "Forbidden", Code: 403, Type: typ, Data: data}
}

// BadRequest is BadRequestError 400.
func BadRequest(typ string, data any) *errs.Error {
	return &errs.Error{Name: NameBadRequest, Message: "Bad request", Code: 400, Type: typ, Data: data}
}

// InvalidRequestBody is InvalidRequestBodyError 400 INVALID_REQUEST_BODY: the body could
// not be parsed by the parser its Content-Type selects.
func InvalidRequestBody(reason string) *errs.Error {
	return &errs.Error{Name: NameInvalidRequestBody, Message: "Invalid request body", Code: 400,
		Type: "INVALID_REQUEST_BODY", Data: map[string]any{"error": reason}}
}

// PayloadTooLarge is PayloadTooLarge 413 PAYLOAD_TOO_LARGE.
func PayloadTooLarge(limit int64) *errs.Error {
	return &errs.Error{Name: NamePayloadTooLarge, Message: "Payload too large", Code: 413,
		Type: "PAYLOAD_TOO_LARGE", Data: map[string]any{"limit": limit}}
}

// RateLimitExceeded is RateLimitExceeded 429.
func RateLimitExceeded() *errs.Error {
	return &errs.Error{Name: NameRateLimitExceeded, Message: "Rate limit exceeded", Code: 429, Type: "RATE_LIMIT_EXCEEDED"}
}

// ServiceUnavailable is ServiceUnavailableError 503: an alias names an action no node serves
// (moleculer-web answers so for a defined alias, ServiceNotFoundError for a direct call).
func ServiceUnavailable(action string) *errs.Error {
	return &errs.Error{Name: NameServiceUnavailable, Message: "Service unavailable", Code: 503,
		Data: map[string]any{"action": action}}
}

// Status is moleculer-web's rule for an error's HTTP status: its code when that is an HTTP
// error status (400 to 598), else 500.
func Status(e *errs.Error) int {
	if e.Code >= 400 && e.Code < 599 {
		return e.Code
	}
	return 500
}

// OpenCircuitStatus is an alternative Settings.StatusOf: ServiceNotAvailableError (every
// endpoint's breaker open) is 503 Service Unavailable instead of moleculer-web's 404, which
// tells clients and load balancers to come back later rather than that the resource is gone.
func OpenCircuitStatus(e *errs.Error) int {
	if e.Name == errs.NameServiceNotAvailable {
		return 503
	}
	return Status(e)
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Data    any    `json:"data"`
}

// toError turns whatever a hook or a call returned into an *errs.Error. A Go error that is
// not a Moleculer error keeps its message but becomes a 500 MoleculerError.
func toError(err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.From(err)
}
