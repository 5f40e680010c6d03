// Package awswire holds the two AWS wire protocols the twin speaks: the Query protocol (form-encoded
// requests, XML answers and XML error bodies; RDS and STS) and JSON 1.1 (X-Amz-Target requests, JSON
// answers and {"__type": …} errors; KMS and Secrets Manager). It knows nothing about any one service:
// services return values and *Error, and this package puts them on the wire the way AWS does.
package awswire
