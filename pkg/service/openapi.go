package service

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
)

// The OpenAPI 3 document of /api/v1, generated from Server.routes: each
// route's apiDoc and the Go types of its bodies (openapi3gen reads their
// json tags). Served at /api/openapi.json; openapi_test.go validates it
// and checks it lists exactly the routes served under /api/v1.

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// openAPI builds the document.
func (s *Server) openAPI() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: "Parley API", Version: "1",
			Description: "A workspace's conversations, messages, visitors, agents and sites. " +
				"Authenticate with an API token: Authorization: Bearer pk_… (made by an admin in the dashboard, Settings → API tokens). " +
				"Read tokens may call GET routes; write tokens every route. Writes take an Idempotency-Key header. " +
				"Lists page with next_cursor: pass it as cursor for the next page."},
		Servers: openapi3.Servers{{URL: s.cfg.PublicOrigin()}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			SecuritySchemes: openapi3.SecuritySchemes{
				"token": &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").WithBearerFormat("pk_…")},
			},
			Schemas: openapi3.Schemas{},
		},
		Security: openapi3.SecurityRequirements{{"token": []string{}}},
	}
	errSchema, err := openapi3gen.NewSchemaRefForValue(errorBody{}, nil)
	if err != nil {
		return nil, err
	}
	doc.Components.Schemas["Error"] = errSchema
	errRef := &openapi3.SchemaRef{Ref: "#/components/schemas/Error"}
	errResponse := func(desc string) *openapi3.ResponseRef {
		return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).WithJSONSchemaRef(errRef)}
	}
	for _, r := range s.routes() {
		if r.Doc == nil {
			continue
		}
		d := r.Doc
		op := openapi3.NewOperation()
		op.OperationID, op.Summary = d.ID, d.Summary
		op.Responses = openapi3.NewResponses()
		for _, m := range ginParam.FindAllStringSubmatch(r.Path, -1) {
			op.AddParameter(openapi3.NewPathParameter(m[1]).WithSchema(openapi3.NewStringSchema()))
		}
		for _, q := range d.Query {
			schema := openapi3.NewStringSchema()
			if q.Integer {
				schema = openapi3.NewIntegerSchema()
			}
			op.AddParameter(openapi3.NewQueryParameter(q.Name).WithDescription(q.Description).WithSchema(schema))
		}
		if d.Write {
			op.AddParameter(openapi3.NewHeaderParameter(idempotencyHeader).
				WithDescription("a key of the client's choosing: a retry with the same key and request gets the first answer, kept 24 h").
				WithSchema(openapi3.NewStringSchema().WithMaxLength(200)))
		}
		if d.Request != nil {
			schema, err := openapi3gen.NewSchemaRefForValue(d.Request, nil)
			if err != nil {
				return nil, err
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithJSONSchemaRef(schema)}
		}
		status := d.Status
		if status == 0 {
			status = http.StatusOK
		}
		if d.CSV {
			op.AddResponse(status, openapi3.NewResponse().WithDescription(http.StatusText(status)).
				WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{"text/csv"})))
		} else {
			schema, err := openapi3gen.NewSchemaRefForValue(d.Response, nil)
			if err != nil {
				return nil, err
			}
			op.AddResponse(status, openapi3.NewResponse().WithDescription(http.StatusText(status)).WithJSONSchemaRef(schema))
		}
		op.Responses.Set("400", errResponse("the request is malformed"))
		op.Responses.Set("401", errResponse("no token, an unknown one or a revoked one"))
		op.Responses.Set("429", errResponse("over the token's rate limit; see Retry-After"))
		if d.Write {
			op.Responses.Set("403", errResponse("a read token, or the agent may not do this"))
		}
		if len(op.Parameters) > 0 && ginParam.MatchString(r.Path) {
			op.Responses.Set("404", errResponse("no such thing in the token's workspace"))
		}
		doc.AddOperation(ginParam.ReplaceAllString(r.Path, "{$1}"), r.Method, op)
	}
	return doc, nil
}

// errorBody is the body of every error answer (writeError).
type errorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	Retryable bool   `json:"retryable,omitempty"`
}

// openAPIJSON serves the document, built once.
func (s *Server) openAPIJSON() func(*gin.Context) error {
	var (
		once sync.Once
		body []byte
		err  error
	)
	return func(c *gin.Context) error {
		once.Do(func() {
			var doc *openapi3.T
			if doc, err = s.openAPI(); err == nil {
				body, err = doc.MarshalJSON()
			}
		})
		if err != nil {
			return apierr.Unavailable("cannot build the API description", err)
		}
		c.Header("Content-Length", strconv.Itoa(len(body)))
		c.Data(http.StatusOK, "application/json", body)
		return nil
	}
}
