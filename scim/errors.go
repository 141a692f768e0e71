package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/store"
)

// This file is the one place where errors become SCIM error responses
// (RFC 7644 §3.12). Handlers return values made here; anything else is
// logged once and answered as a 500 with no internal detail.

func scimErr(status int, scimType scimerr.ScimType, format string, args ...any) scimerr.ScimError {
	return scimerr.ScimError{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) scimerr.ScimError {
	return scimErr(http.StatusNotFound, "", format, args...)
}

func errInvalidSyntax(format string, args ...any) scimerr.ScimError {
	return scimErr(http.StatusBadRequest, scimerr.ScimTypeInvalidSyntax, format, args...)
}

func errInvalidValue(format string, args ...any) scimerr.ScimError {
	return scimErr(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, format, args...)
}

func errInvalidFilter(format string, args ...any) scimerr.ScimError {
	return scimErr(http.StatusBadRequest, scimerr.ScimTypeInvalidFilter, format, args...)
}

func errInternal() scimerr.ScimError {
	return scimErr(http.StatusInternalServerError, "", "internal error; the server log has the details")
}

// writeError writes err as a SCIM error response. err must already be a
// SCIM error (use (*Handler).fail for anything else).
func writeError(w http.ResponseWriter, err error) {
	var se scimerr.ScimError
	if !errors.As(err, &se) {
		se = errInternal()
	}
	b, mErr := json.Marshal(se)
	if mErr != nil {
		b = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500"}`)
		se.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(se.Status)
	_, _ = w.Write(b)
}

// fail turns any error from the store, the filter or the PATCH engine into
// a SCIM error, logging the ones a client cannot have caused.
func (h *Handler) fail(ctx context.Context, what string, err error) error {
	var se scimerr.ScimError
	var fe *filter.Error
	var pe *patch.Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &fe):
		return errInvalidFilter("%s", fe.Detail)
	case errors.As(err, &pe):
		return scimErr(http.StatusBadRequest, scimerr.ScimType(pe.ScimType), "%s", pe.Detail)
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return scimErr(http.StatusConflict, scimerr.ScimTypeUniqueness, "%s: a unique attribute is already in use", what)
	case errors.Is(err, store.ErrVersionMismatch):
		return scimErr(http.StatusPreconditionFailed, "", "%s has changed since the version given in If-Match", what)
	case errors.Is(err, store.ErrInvalid):
		return errInvalidValue("%s: %s", what, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return scimErr(http.StatusServiceUnavailable, "", "the request was cancelled")
	}
	h.log.LogAttrs(ctx, slog.LevelError, "scim request failed", slog.String("what", what), slog.Any("err", err))
	return errInternal()
}
