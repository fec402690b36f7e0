package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/broker/errs"
)

func TestNameAndCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		name string
		code int
	}{
		{errs.RequestTimeout("inv.get", "n1"), "RequestTimeoutError", 504},
		{fmt.Errorf("calling: %w", errs.QueueIsFull("inv.get", "n1", 3, 3)), "QueueIsFullError", 429},
		{errs.Validation("", nil), "ValidationError", 422},
		{errs.New("boom", 0, "", nil), "MoleculerError", 500}, // New defaults the code to 500
		{&errs.Error{Name: "CustomError"}, "CustomError", 0},
		{errors.New("plain"), "", 0},
		{nil, "", 0},
	} {
		assert.Equal(t, c.name, errs.Name(c.err), "%v", c.err)
		assert.Equal(t, c.code, errs.Code(c.err), "%v", c.err)
	}
	assert.Equal(t, "Error", errs.NameOf(errors.New("plain")), "NameOf names a plain error as Moleculer does")
}
