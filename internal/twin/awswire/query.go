package awswire

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is how Query (XML) answers write timestamps.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in UTC the way AWS XML answers do.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// RequestID returns a fresh request id shaped like AWS's (a UUID).
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// WriteQueryResult answers a Query request: <ActionResponse xmlns=…><ActionResult>result</ActionResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>. result's fields are
// the Result element's children (encoding/xml tags).
func WriteQueryResult(w http.ResponseWriter, action, xmlns string, result any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString("<" + action + "Response xmlns=\"" + xmlns + "\">")
	enc := xml.NewEncoder(&buf)
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			WriteQueryError(w, Internal(err))
			return
		}
	}
	_ = enc.Flush()
	buf.WriteString("<ResponseMetadata><RequestId>" + RequestID() + "</RequestId></ResponseMetadata>")
	buf.WriteString("</" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

type queryErrorBody struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// WriteQueryError answers a Query request with an AWS XML error body and the error's HTTP status.
func WriteQueryError(w http.ResponseWriter, err error) {
	e := AsError(err)
	var body queryErrorBody
	body.Error.Type = "Sender"
	if e.Receiver {
		body.Error.Type = "Receiver"
	}
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	body.RequestID = RequestID()
	out, _ := xml.Marshal(body)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// Form reads the members of a Query request.
type Form url.Values

// String is the value of key, "" when absent.
func (f Form) String(key string) string { return url.Values(f).Get(key) }

// Has reports whether key was sent.
func (f Form) Has(key string) bool { return url.Values(f).Has(key) }

// Bool is a boolean member; ok is false when absent.
func (f Form) Bool(key string) (v, ok bool) {
	s := f.String(key)
	if s == "" {
		return false, false
	}
	return strings.EqualFold(s, "true"), true
}

// Int is an integer member; ok is false when absent. A malformed number is a ValidationError.
func (f Form) Int(key string) (int, bool, error) {
	s := f.String(key)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, Errorf("InvalidParameterValue", "Invalid value %q for %s", s, key)
	}
	return n, true, nil
}

// Structs returns the members of a list of structures sent as prefix.Member.N.Field=…, in order of N,
// each as a Form of its own fields. It accepts both prefix.Member.N.Field and flattened prefix.N.Field.
func (f Form) Structs(prefix string) []Form {
	byIndex := map[int]Form{}
	for key, vals := range f {
		rest, ok := strings.CutPrefix(key, prefix+".")
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, ".", 3)
		idx, err := strconv.Atoi(parts[0])
		field := ""
		if err == nil {
			if len(parts) > 1 {
				field = strings.Join(parts[1:], ".")
			}
		} else if len(parts) >= 2 {
			if idx, err = strconv.Atoi(parts[1]); err != nil {
				continue
			}
			if len(parts) == 3 {
				field = parts[2]
			}
		} else {
			continue
		}
		if byIndex[idx] == nil {
			byIndex[idx] = Form{}
		}
		byIndex[idx][field] = vals
	}
	idxs := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idxs = append(idxs, i)
	}
	sort.Ints(idxs)
	out := make([]Form, 0, len(idxs))
	for _, i := range idxs {
		out = append(out, byIndex[i])
	}
	return out
}

// Strings returns a list of scalars sent as prefix.Member.N=… (or prefix.N=…), in order of N.
func (f Form) Strings(prefix string) []string {
	var out []string
	for _, s := range f.Structs(prefix) {
		if v := s.String(""); v != "" {
			out = append(out, v)
		}
	}
	return out
}
