package crud

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/faultline/faultline/broker/errs"
	"github.com/faultline/faultline/services/db"
)

// FindParams are the params of find (and, without Limit and Offset, of count).
type FindParams struct {
	Fields       []string
	Limit        int
	Offset       int
	Sort         []string
	Search       string
	SearchFields []string
	Query        db.Query
}

// ListParams are the params of list.
type ListParams struct {
	Fields       []string
	Page         int // from 1; 0 means 1
	PageSize     int // 0 means Config.PageSize
	Sort         []string
	Search       string
	SearchFields []string
	Query        db.Query
}

// ListResult is what list returns.
type ListResult struct {
	Rows       []db.Entity `json:"rows"`
	Total      int         `json:"total"`
	Page       int         `json:"page"`
	PageSize   int         `json:"pageSize"`
	TotalPages int         `json:"totalPages"`
}

// ParseFind reads find's (or count's) params.
func ParseFind(params map[string]any) (FindParams, error) {
	var p FindParams
	var err error
	if p.Fields, err = stringList("fields", params["fields"]); err != nil {
		return p, err
	}
	if p.Limit, err = intParam("limit", params["limit"]); err != nil {
		return p, err
	}
	if p.Offset, err = intParam("offset", params["offset"]); err != nil {
		return p, err
	}
	p.Sort, p.Search, p.SearchFields, p.Query, err = commonParams(params)
	return p, err
}

// ParseList reads list's params.
func ParseList(params map[string]any) (ListParams, error) {
	var p ListParams
	var err error
	if p.Fields, err = stringList("fields", params["fields"]); err != nil {
		return p, err
	}
	if p.Page, err = intParam("page", params["page"]); err != nil {
		return p, err
	}
	if p.PageSize, err = intParam("pageSize", params["pageSize"]); err != nil {
		return p, err
	}
	p.Sort, p.Search, p.SearchFields, p.Query, err = commonParams(params)
	return p, err
}

func commonParams(params map[string]any) (sort []string, search string, searchFields []string, q db.Query, err error) {
	if sort, err = stringList("sort", params["sort"]); err != nil {
		return
	}
	if v, ok := params["search"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			err = paramError("search", "string", "The 'search' field must be a string.", v)
			return
		}
		search = s
	}
	if searchFields, err = stringList("searchFields", params["searchFields"]); err != nil {
		return
	}
	q, err = queryParam(params["query"])
	return
}

func paramError(field, typ, msg string, actual any) *errs.Error {
	return errs.Validation("", []map[string]any{{"type": typ, "message": msg, "field": field, "actual": actual}})
}

// stringList reads a list of names: a []string, a list of strings, or one string of names
// separated by spaces or commas.
func stringList(field string, v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' }), nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, paramError(field, "string", fmt.Sprintf("The '%s' field must be a list of strings.", field), v)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, paramError(field, "string", fmt.Sprintf("The '%s' field must be a string or a list of strings.", field), v)
}

// intParam reads a non-negative whole number (0 when absent).
func intParam(field string, v any) (int, error) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		n, err := x.Float64()
		if err != nil {
			return 0, paramError(field, "number", fmt.Sprintf("The '%s' field must be a number.", field), v)
		}
		f = n
	case string:
		n, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, paramError(field, "number", fmt.Sprintf("The '%s' field must be a number.", field), v)
		}
		f = n
	default:
		return 0, paramError(field, "number", fmt.Sprintf("The '%s' field must be a number.", field), v)
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, paramError(field, "numberInteger", fmt.Sprintf("The '%s' field must be a non-negative integer.", field), v)
	}
	return int(f), nil
}

// queryParam reads a query: an object, or its JSON text.
func queryParam(v any) (db.Query, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	case string:
		if strings.TrimSpace(x) == "" {
			return nil, nil
		}
		var q db.Query
		if err := json.Unmarshal([]byte(x), &q); err != nil {
			return nil, paramError("query", "object", "The 'query' field must be an object or its JSON text.", v)
		}
		return q, nil
	}
	return nil, paramError("query", "object", "The 'query' field must be an object or its JSON text.", v)
}

// Schemas of the actions' params, moleculer-db's.
var (
	namesRule = []any{
		map[string]any{"type": "string", "optional": true},
		map[string]any{"type": "array", "optional": true, "items": "string"},
	}
	queryRule = []any{
		map[string]any{"type": "object", "optional": true},
		map[string]any{"type": "string", "optional": true},
	}
	countRule = map[string]any{"type": "number", "integer": true, "min": 0, "optional": true, "convert": true}
	idRule    = []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "number"},
		map[string]any{"type": "array"},
	}
)

func findSchema() map[string]any {
	return map[string]any{
		"fields": namesRule, "limit": countRule, "offset": countRule, "sort": namesRule,
		"search": "string|optional", "searchFields": namesRule, "query": queryRule,
	}
}

func countSchema() map[string]any {
	return map[string]any{"search": "string|optional", "searchFields": namesRule, "query": queryRule}
}

func listSchema() map[string]any {
	return map[string]any{
		"fields": namesRule, "sort": namesRule, "search": "string|optional", "searchFields": namesRule, "query": queryRule,
		"page":     map[string]any{"type": "number", "integer": true, "min": 1, "optional": true, "convert": true},
		"pageSize": map[string]any{"type": "number", "integer": true, "min": 0, "optional": true, "convert": true},
	}
}

func insertSchema() map[string]any {
	return map[string]any{
		"entity":   map[string]any{"type": "object", "optional": true},
		"entities": map[string]any{"type": "array", "optional": true, "items": "object"},
	}
}

func getSchema() map[string]any {
	return map[string]any{"id": idRule, "fields": namesRule, "mapping": "boolean|optional"}
}

func idSchema() map[string]any {
	return map[string]any{"id": map[string]any{"type": "any"}}
}
