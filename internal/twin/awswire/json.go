package awswire

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// JSONContentType is the content type of JSON 1.1 requests and answers.
const JSONContentType = "application/x-amz-json-1.1"

// EpochTime is a timestamp written as JSON 1.1 does: seconds since the epoch, with fractions.
type EpochTime time.Time

// MarshalJSON writes seconds since the epoch.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Time(t).UnixMilli()) / 1000)
}

// DecodeJSON reads a JSON 1.1 request body into v; a malformed body is a SerializationException.
func DecodeJSON(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return Errorf("SerializationException", "read body: %v", err)
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return Errorf("SerializationException", "%v", err)
	}
	return nil
}

// WriteJSON answers a JSON 1.1 request with v.
func WriteJSON(w http.ResponseWriter, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		WriteJSONError(w, Internal(err))
		return
	}
	w.Header().Set("Content-Type", JSONContentType)
	w.Header().Set("X-Amzn-RequestId", RequestID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// WriteJSONError answers a JSON 1.1 request with {"__type": code, "message": …} and the error's status.
func WriteJSONError(w http.ResponseWriter, err error) {
	e := AsError(err)
	out, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Header().Set("Content-Type", JSONContentType)
	w.Header().Set("X-Amzn-RequestId", RequestID())
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(out)
}
