// Package openapitest checks the public API's answers against its OpenAPI
// document, for tests: the handlers' API tests and the real-process tests
// pass every response they receive through a Validator, so the document
// and the handlers cannot drift apart unnoticed.
//
// It uses github.com/getkin/kin-openapi. Both candidates, kin-openapi
// v0.153.0 and pb33f/libopenapi-validator v0.16.2, validate OpenAPI 3.1
// responses with a JSON Schema 2020-12 validator (if/then/else,
// unevaluatedProperties, const, type arrays were all enforced when tried).
// kin-openapi was chosen because its document validation also caught what
// libopenapi-validator let through (an unknown type name, a pattern that
// does not compile, a path parameter that is not declared), it is the Go
// OpenAPI library most projects build on, and it brings fewer modules.
// Only tests import this package: the library is not in the binary.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Validator checks responses against one OpenAPI document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates the document: an invalid document is an error,
// with every problem found.
func New(document []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("the document is OpenAPI %s, not 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation(), openapi3.EnableMultiError()); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	if doc.Components == nil || doc.Components.Schemas["Problem"] == nil {
		return nil, errors.New("the document has no Problem schema")
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Document is the loaded document, for tests that look into it.
func (v *Validator) Document() *openapi3.T { return v.doc }

// Operations lists the document's operations as "METHOD /public/v1/path"
// with the path's parameters written as {name}.
func (v *Validator) Operations() []string {
	base := ""
	if len(v.doc.Servers) > 0 {
		base = strings.TrimSuffix(v.doc.Servers[0].URL, "/")
	}
	var ops []string
	for path, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+base+path)
		}
	}
	return ops
}

// CheckResponse reports how a response to req departs from the document:
// an undocumented status, a missing required header, a content type or a
// body the document does not allow. A request the document describes no
// operation for (an unknown path or method) must get a problem+json error.
func (v *Validator) CheckResponse(req *http.Request, status int, header http.Header, body []byte) error {
	r := req.Clone(context.Background())
	noBody := r.Method == http.MethodHead
	if noBody {
		r.Method = http.MethodGet // HEAD is answered as GET, without the body
	}
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("answered %d, but the document describes no %s %s", status, r.Method, r.URL.Path)
		}
		if noBody {
			return nil
		}
		return v.checkProblem(status, header, body)
	}
	resp := route.Operation.Responses.Status(status)
	if resp == nil {
		return fmt.Errorf("status %d is not a response the document lists for %s %s", status, r.Method, route.Path)
	}
	if len(resp.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("status %d of %s %s has no content in the document, but a body of %d bytes came", status, r.Method, route.Path, len(body))
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: noBody}
	opts.WithCustomSchemaErrorFunc(schemaErrorMessage)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Options:                opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d: %w", r.Method, route.Path, status, err)
	}
	return nil
}

// checkProblem checks an error answered to a request no operation matches
// against the document's Problem schema.
func (v *Validator) checkProblem(status int, header http.Header, body []byte) error {
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != "application/problem+json" {
		return fmt.Errorf("a %d with Content-Type %q, not application/problem+json", status, header.Get("Content-Type"))
	}
	var value any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil {
		return fmt.Errorf("a %d whose body is not JSON: %v", status, err)
	}
	if err := v.CheckSchema("Problem", value); err != nil {
		return fmt.Errorf("a %d: %w", status, err)
	}
	if m, _ := value.(map[string]any); m == nil || fmt.Sprint(m["status"]) != fmt.Sprint(status) {
		return fmt.Errorf("a %d whose problem says status %v", status, m["status"])
	}
	return nil
}

// CheckSchema validates a decoded JSON value (numbers as json.Number or
// float64) against a schema of the document's components.
func (v *Validator) CheckSchema(name string, value any) error {
	s := v.doc.Components.Schemas[name]
	if s == nil || s.Value == nil {
		return fmt.Errorf("the document has no schema %q", name)
	}
	if err := s.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(),
		openapi3.SetSchemaErrorMessageCustomizer(schemaErrorMessage)); err != nil {
		return fmt.Errorf("does not match schema %s: %w", name, err)
	}
	return nil
}

// schemaErrorMessage words a schema error as where and why, without the
// schema and value dumps the library adds by default, which bury the reason
// (and would print a created token's value).
func schemaErrorMessage(err *openapi3.SchemaError) string {
	if p := err.JSONPointer(); len(p) > 0 && !strings.HasPrefix(err.Reason, "at '") {
		return "at '/" + strings.Join(p, "/") + "': " + err.Reason
	}
	return err.Reason
}
