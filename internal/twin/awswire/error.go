package awswire

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS API error: the code a client maps to its typed error, a message, and the HTTP status
// the service's model gives for it.
type Error struct {
	Code    string
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
	// Receiver marks a server-side fault (Type Receiver in Query errors); most errors are the sender's.
	Receiver bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus is the status the error is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Errorf builds a sender error with a 400 status.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf builds a sender error with a 404 status (RDS's *NotFound faults).
func NotFoundf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusNotFound}
}

// Internal wraps an unexpected failure as a 500 InternalFailure, keeping the cause in the message.
func Internal(err error) *Error {
	return &Error{Code: "InternalFailure", Message: err.Error(), Status: http.StatusInternalServerError, Receiver: true}
}

// AsError returns err as an *Error, wrapping anything else as an internal failure.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
