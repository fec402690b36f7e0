package crud

import (
	"context"
	"errors"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/db"
)

// NameEntityNotFound is the name of the error a missing entity gives, as in moleculer-db.
const NameEntityNotFound = "EntityNotFoundError"

// ErrEntityNotFound matches any EntityNotFoundError with errors.Is.
var ErrEntityNotFound = &errs.Error{Name: NameEntityNotFound}

// EntityNotFound is moleculer-db's EntityNotFoundError (a MoleculerClientError): 404,
// type ENTITY_NOT_FOUND, data {id}.
func EntityNotFound(id any) *errs.Error {
	return &errs.Error{Name: NameEntityNotFound, Message: "Entity not found", Code: 404, Type: "ENTITY_NOT_FOUND",
		Data: map[string]any{"id": id}}
}

// Invalid returns a ValidationError (422 VALIDATION_ERROR) about one field, shaped like the
// broker validator's: data is [{type, message, field, actual}]. Entity validators use it.
func Invalid(field, message string, actual any) *errs.Error {
	fe := map[string]any{"type": "invalid", "message": message, "field": field}
	if actual != nil {
		fe["actual"] = actual
	}
	return errs.Validation(EntityValidationMessage, []map[string]any{fe})
}

// EntityValidationMessage is the message of ValidationErrors about entities, as moleculer-db's.
const EntityValidationMessage = "Entity validation error!"

// StorageError maps an adapter error to the error an action returns: ErrNotFound becomes
// EntityNotFoundError for id, unknown fields and invalid values ValidationError, anything
// else a non-retryable MoleculerError 500 DB_ERROR. *errs.Error values pass unchanged.
func StorageError(err error, id any) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, db.ErrNotFound):
		return EntityNotFound(id)
	case errors.Is(err, db.ErrUnknownField):
		return errs.Validation(err.Error(), []map[string]any{{"type": "unknownField", "message": err.Error()}})
	case errors.Is(err, db.ErrInvalid):
		return errs.Validation(err.Error(), []map[string]any{{"type": "invalid", "message": err.Error()}})
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return errs.New("storage call abandoned: "+err.Error(), 500, "DB_ERROR", nil)
	}
	return errs.New("storage failed: "+err.Error(), 500, "DB_ERROR", nil)
}

// validationError wraps what a Config.Validate returned.
func validationError(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	return errs.Validation(EntityValidationMessage, []map[string]any{{"type": "entity", "message": err.Error()}})
}

func isGuard(err error) bool { return errors.Is(err, db.ErrGuard) }
