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

// TypeDuplicateKey is the type of the error a Unique set violation gives.
const TypeDuplicateKey = "DUPLICATE_KEY"

// ErrDuplicateKey matches any DUPLICATE_KEY MoleculerClientError with errors.Is.
var ErrDuplicateKey = &errs.Error{Name: errs.NameClientError, Type: TypeDuplicateKey}

// DuplicateKey is MoleculerClientError 409 DUPLICATE_KEY with data {fields}: a write would
// have given two entities the same values in a unique set of the model (db.Model.Unique).
func DuplicateKey(fields []string) *errs.Error {
	return errs.Client("Entity with the same unique fields already exists.", 409, TypeDuplicateKey,
		map[string]any{"fields": fields})
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
// EntityNotFoundError for id, ErrDuplicate a DuplicateKey conflict, unknown fields and
// invalid values ValidationError, anything else a non-retryable MoleculerError 500
// DB_ERROR. *errs.Error values pass unchanged.
func StorageError(err error, id any) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	var dup *db.DuplicateError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &dup):
		return DuplicateKey(dup.Fields)
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
